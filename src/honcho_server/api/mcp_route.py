"""/mcp: the MCP server over streamable HTTP, with the API's authentication.

Not a PolicyRoute (the MCP SDK answers the whole exchange), so it applies the rule itself: with auth on, every
request needs a valid key (401 otherwise, as any route), and the tools then reach only what that key may reach
over HTTP (services/access.py); with auth off, the caller is admin, as for every route. Without the optional
`mcp` package, /mcp answers 501 (see `MissingSDK`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from honcho_server import mcp as mcp_package
from honcho_server.api import render
from honcho_server.api.policy import authenticate
from honcho_server.domain import metadata
from honcho_server.errors import Unauthorized
from honcho_server.hosts import is_loopback
from honcho_server.services.deps import Deps

PATH = "/mcp"
METHODS = ["GET", "POST", "DELETE"]


class Lazy:
    """The MCP app, built (and its SDK imported, about a second) on the first /mcp request rather than at start:
    servers whose clients never use MCP do not pay for it. Its session manager runs in a task of its own, entered
    and left there, until the API's lifespan ends."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._served: Any = None
        self._task: asyncio.Task[None] | None = None
        self._ready, self._stop, self._lock = asyncio.Event(), asyncio.Event(), asyncio.Lock()

    async def _serve(self) -> None:
        try:
            async with self._served.running():
                self._ready.set()
                await self._stop.wait()
        finally:
            self._ready.set()  # a manager that failed to start must not leave requests waiting

    async def _app(self) -> ASGIApp:
        async with self._lock:
            if self._served is None:
                from honcho_server.mcp.http import StreamableHTTP

                self._served = StreamableHTTP(self.deps, loopback=is_loopback(self.deps.settings.server.host))
                self._task = asyncio.create_task(self._serve(), name="mcp-session-manager")
        await self._ready.wait()
        if self._task is not None and self._task.done():
            raise RuntimeError("the MCP session manager is not running (see the log)")
        return self._served

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await (await self._app())(scope, receive, send)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """For the API's lifespan: stops the session manager (when one was started) at shutdown."""
        try:
            yield
        finally:
            self._stop.set()
            if self._task is not None:
                await asyncio.gather(self._task, return_exceptions=True)


class Authenticated:
    """Authenticates the request as the API does, then hands it to the MCP app with the principal in its state."""

    def __init__(self, app: ASGIApp, deps: Deps) -> None:
        self.app, self.deps = app, deps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            principal = authenticate(Request(scope), self.deps)
        except Unauthorized as exc:
            await render.JSON({"detail": exc.message}, status_code=401)(scope, receive, send)
            return
        scope.setdefault("state", {})[mcp_package.PRINCIPAL_STATE] = principal
        # The size bound of metadata objects, for the validation of tool arguments (as api/deps.py for bodies).
        metadata.max_bytes.set(self.deps.settings.limits.max_metadata_bytes)
        await self.app(scope, receive, send)


class MissingSDK:
    """501 Not Implemented: this server lacks an optional feature. Not a 4xx (the request is right; the
    installation is what lacks it) and not a 503 (nothing temporary: a retry will not help, and 503 invites one)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await render.JSON({"detail": mcp_package.INSTALL_HINT}, status_code=501)(scope, receive, send)


def install(app: FastAPI, deps: Deps) -> Lazy | None:
    """Add /mcp to the app; returns what the lifespan must keep running (None without the SDK)."""
    if not mcp_package.sdk_available():
        app.router.routes.append(Route(PATH, MissingSDK(), methods=METHODS, include_in_schema=False))
        return None
    served = Lazy(deps)
    # An ASGI app as the endpoint: Starlette hands it the raw request (no FastAPI parsing, no policy wrapper).
    app.router.routes.append(Route(PATH, Authenticated(served, deps), methods=METHODS, include_in_schema=False))
    return served


@contextlib.asynccontextmanager
async def running(served: Lazy | None) -> AsyncIterator[None]:
    """Keep the MCP app's session manager running (nothing to run without the SDK)."""
    if served is None:
        yield
        return
    async with served.running():
        yield
