"""Maps domain errors and request validation failures to HTTP responses, in one place."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from honcho_server.api import render
from honcho_server.domain.metadata import TOO_LARGE
from honcho_server.errors import HonchoError

log = logging.getLogger("honcho_server.api")


def _detail(status: int, detail: Any, headers: dict[str, str] | None = None) -> Response:
    # Echoed input may hold values plain JSON cannot carry (NaN); the render encoder copes with them.
    return render.JSON({"detail": detail}, status_code=status, headers=headers)


def _validation_items(exc: RequestValidationError) -> list[dict[str, Any]]:
    items = []
    for err in exc.errors():
        item = {k: err[k] for k in ("type", "loc", "msg", "input") if k in err}
        if item["type"] == TOO_LARGE:
            del item["input"]  # an oversized object is not sent back
        if "ctx" in err:
            item["ctx"] = {
                k: v if isinstance(v, (int, float, str, bool, type(None))) else str(v) for k, v in err["ctx"].items()
            }
        items.append(item)
    return jsonable_encoder(items, custom_encoder={bytes: lambda b: b.decode("utf-8", "replace")})


def install(app: FastAPI) -> None:
    @app.exception_handler(HonchoError)
    async def _domain(_: Request, exc: HonchoError) -> Response:
        return _detail(exc.status_code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        return _detail(422, _validation_items(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        return _detail(exc.status_code, exc.detail, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return _detail(500, "An unexpected error occurred")
