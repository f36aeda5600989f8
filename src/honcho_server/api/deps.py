"""FastAPI dependencies shared by routes: services bundle, paging, principal.

All are `async def`: FastAPI runs plain `def` dependencies on a thread pool, a costly hop per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request

from honcho_server.domain import jsontext, metadata
from honcho_server.domain.credentials import Principal
from honcho_server.errors import ValidationError
from honcho_server.services.deps import Deps


async def get_deps(request: Request) -> Deps:
    return request.app.state.deps


async def get_principal(request: Request) -> Principal:
    return request.state.principal


@dataclass(frozen=True)
class Paging:
    page: int
    size: int
    reverse: bool


async def get_paging(
    page: Annotated[int, Query(ge=1)] = 1,
    size: Annotated[int, Query(ge=1, le=100)] = 50,
    reverse: bool = False,
) -> Paging:
    return Paging(page, size, reverse)


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def screen_input(request: Request) -> None:
    """Refuse, before any field is validated or looked up, input that the layers below cannot take.

    Run for every route (an app-wide dependency): a NUL character in a path or query value (no stored id has
    one, and PostgreSQL rejects it even in a lookup), and in a JSON body an unpaired surrogate escape
    (`"\\ud800"`: valid JSON syntax, but not Unicode text, so it can be neither stored nor echoed as UTF-8) or
    nesting deeper than any payload needs (the recursive checks, encoders and compilers downstream would run
    out of stack).

    It also puts `limits.max_metadata_bytes` in force for the validation of this request's body (it comes
    after app-wide dependencies), where every metadata and configuration object is measured against it.
    """
    metadata.max_bytes.set(request.app.state.deps.settings.limits.max_metadata_bytes)
    for kind, params in (("Path", request.path_params.items()), ("Query", request.query_params.multi_items())):
        for name, value in params:
            if isinstance(value, str) and "\x00" in value:
                raise ValidationError(f"{kind} parameter '{name}' contains a NUL character")
    if not _is_json(request.headers.get("content-type")):
        return
    raw = await request.body()
    deep = raw.count(b"{") + raw.count(b"[") > jsontext.MAX_NESTING  # else it cannot nest that deep
    surrogate = jsontext.may_hold_lone_surrogate(raw)
    if not (deep or surrogate):
        return
    try:
        body = await request.json()  # already parsed (and cached) for routes that take a body
    except (ValueError, RecursionError):
        return  # a route without a body ignores it; one with a body has already refused it
    if deep and jsontext.too_deep(body):
        raise ValidationError(f"The JSON body is nested more than {jsontext.MAX_NESTING} levels deep")
    if surrogate and jsontext.has_lone_surrogate(body):
        raise ValidationError(
            'The JSON body contains an unpaired UTF-16 surrogate escape (such as "\\ud800"); '
            "strings must be valid Unicode"
        )


DepsDep = Annotated[Deps, Depends(get_deps)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
PagingDep = Annotated[Paging, Depends(get_paging)]
# Reads of derived memory (conclusions, representations, cards, summaries, chat) serve the workspace's active
# generation; naming another one reads it instead, for A/B comparison (docs/generations.md).
GenerationQuery = Annotated[str | None, Query(
    min_length=1, max_length=512,
    description="the generation of derived memory to read: `g2`, or its name; the workspace's active one by default")]
# Query parameters of representation reads (spec 6.9, 7.12).
TopK = Annotated[int | None, Query(ge=1, le=100)]
MaxDistance = Annotated[float | None, Query(ge=0.0, le=1.0)]
