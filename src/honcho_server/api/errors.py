"""Maps domain errors and request validation failures to HTTP responses, in one place."""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from honcho_server.api import render
from honcho_server.domain.metadata import TOO_LARGE
from honcho_server.errors import DatabaseUnavailable, HonchoError

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


def _unavailable(request: Request, exc: DatabaseUnavailable) -> Response:
    """503 with Retry-After, naming the cause; logged once per cause every LOG_EVERY_SECONDS, not per request."""
    now = time.monotonic()
    if now - _last_logged.get(exc.cause, -LOG_EVERY_SECONDS) >= LOG_EVERY_SECONDS:
        _last_logged[exc.cause] = now
        cause = exc.__cause__ or exc
        log.warning("database unavailable (%s) on %s %s: %s: %s", exc.cause, request.method, request.url.path,
                    type(cause).__name__, cause)
    return _detail(503, exc.message, {"Retry-After": str(exc.retry_after_seconds)})


LOG_EVERY_SECONDS = 10.0
_last_logged: dict[str, float] = {}


def install(app: FastAPI) -> None:
    @app.exception_handler(HonchoError)
    async def _domain(request: Request, exc: HonchoError) -> Response:
        if isinstance(exc, DatabaseUnavailable):
            return _unavailable(request, exc)
        # The v1 SDKs retry a 409 unless told not to; a conflict there is deterministic (a taken name).
        v1_conflict = exc.status_code == 409 and request.url.path.startswith("/v1/")
        return _detail(exc.status_code, exc.message, {"x-should-retry": "false"} if v1_conflict else None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        return _detail(422, _validation_items(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        return _detail(exc.status_code, exc.detail, getattr(exc, "headers", None))

    # Not an `Exception` handler: Starlette gives that one to its outermost ServerErrorMiddleware, which re-raises
    # after answering, and uvicorn then closes the kept-alive connection (the client's next request on it fails
    # with a reset). The innermost user middleware answers instead and the connection carries on; the other
    # middleware (CORS, metrics, activity) see the response like any other.
    app.user_middleware.append(Middleware(AnswerUnexpected))


def _unexpected(request: Request, exc: Exception) -> Response:
    cause = request.app.state.deps.db.dialect.fault(exc)
    if cause is not None:  # a database fault that reached here without going through Database.read/write
        unavailable = DatabaseUnavailable(cause)
        unavailable.__cause__ = exc
        return _unavailable(request, unavailable)
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _detail(500, "An unexpected error occurred")


class AnswerUnexpected:
    """Answers an exception no handler took with a 500 (or a 503 for a database fault), keeping the connection;
    one raised after the response started still propagates (the response cannot be taken back)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:
            if started:
                raise
            await _unexpected(Request(scope, receive), exc)(scope, receive, send)
