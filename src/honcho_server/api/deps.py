"""FastAPI dependencies shared by routes: services bundle, paging, principal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request

from honcho_server.domain.credentials import Principal
from honcho_server.services.deps import Deps


def get_deps(request: Request) -> Deps:
    return request.app.state.deps


def get_principal(request: Request) -> Principal:
    return request.state.principal


@dataclass(frozen=True)
class Paging:
    page: int
    size: int
    reverse: bool


def get_paging(
    page: Annotated[int, Query(ge=1)] = 1,
    size: Annotated[int, Query(ge=1, le=100)] = 50,
    reverse: bool = False,
) -> Paging:
    return Paging(page, size, reverse)


DepsDep = Annotated[Deps, Depends(get_deps)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
PagingDep = Annotated[Paging, Depends(get_paging)]
