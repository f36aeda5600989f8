"""Composition root of the HTTP server: settings → database → services → routes (and, optionally, a worker)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from honcho_server import __version__
from honcho_server.api import deadlines, docs, errors, http_metrics, mcp_route, ui
from honcho_server.api.deps import screen_input
from honcho_server.api.render import RECEIPT_HEADER
from honcho_server.api.routes import (
    conclusions,
    explorer,
    generations,
    health,
    keys,
    messages,
    metrics,
    peers,
    reasoning,
    scopes,
    sessions,
    webhooks,
    workspaces,
)
from honcho_server.api.routes import v1 as v1_routes
from honcho_server.api.routes import v1_data as v1_data_routes
from honcho_server.config import Settings, load_settings
from honcho_server.domain.tokens import check_vocabulary
from honcho_server.hosts import is_loopback
from honcho_server.services.deps import Deps
from honcho_server.services.embedding import prepare_vectors, warm_up
from honcho_server.store.engine import Database
from honcho_server.worker.foreground import ApiActivity
from honcho_server.worker.runtime import Worker

RUN_WORKER_ENV = "HONCHO_SERVE_RUN_WORKER"
WEAK_SECRET_ENV = "HONCHO_SERVE_ALLOW_WEAK_SECRET"  # set by `serve --insecure` on a loopback address


def app_from_environment() -> FastAPI:
    """The app of one process of a multi-process `serve` (settings from the environment, as for any start)."""
    settings = load_settings()
    # Honoured on a loopback address only, as `serve --insecure` itself does: the variable alone opens nothing.
    weak_ok = os.environ.get(WEAK_SECRET_ENV) == "1" and is_loopback(settings.server.host)
    return create_app(settings, run_worker=os.environ.get(RUN_WORKER_ENV, "1") == "1", allow_weak_secret=weak_ok)


def create_app(
    settings: Settings, *, run_worker: bool = False, deps: Deps | None = None, allow_weak_secret: bool = False
) -> FastAPI:
    """Build the app. The database engine is created here; connections open lazily on first use.

    A JWT secret shorter than 32 bytes is refused (ValueError) unless `allow_weak_secret` (`serve --insecure`
    on a loopback address)."""
    if (weak := settings.auth.weak_secret()) is not None and not allow_weak_secret:
        raise ValueError(weak)
    deps = deps or Deps(db=Database(settings.db.url, settings.db), settings=settings)
    activity = ApiActivity()
    served_mcp: mcp_route.Lazy | None = None  # /mcp, added below once the app exists

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        await prepare_vectors(deps)  # a mismatched embedder stops start-up here, before any request
        check_vocabulary()  # and so does a damaged token vocabulary
        # The token vocabulary and a local model (~1 s of CPU) load while the server already answers: /health at
        # once, and a request that needs them meanwhile waits for the same load instead of starting another.
        warming = asyncio.create_task(warm_up(deps))
        worker = Worker(deps, foreground=activity) if run_worker else None
        if worker:
            worker.start()
        try:
            async with mcp_route.running(served_mcp):
                yield deadlines.lifespan_state(settings.server.header_timeout_seconds)  # read by each connection
        finally:
            warming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await warming
            if worker:
                await worker.stop()
            await deps.aclose()

    app = FastAPI(
        title="honcho-server",
        version=__version__,
        lifespan=lifespan,
        description="A self-hostable memory server speaking the Honcho v3 API.",
        dependencies=[Depends(screen_input)],
        openapi_url=None, docs_url=None, redoc_url=None,  # served by api/docs.py: offline, access by server.docs
    )
    app.state.deps = deps
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.server.cors_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=[RECEIPT_HEADER],  # deletion receipts' counts, readable by browser clients too
    )
    app.add_middleware(activity.middleware)  # counts every request, errors included
    app.add_middleware(deadlines.BodyDeadline, timeout_seconds=settings.server.body_timeout_seconds,
                       min_rate=settings.server.body_min_rate)  # a slow body is a 408, whatever follows
    app.add_middleware(http_metrics.HttpMetrics, access_log=settings.server.access_log)  # outermost: sees the 408s
    errors.install(app)
    for module in (workspaces, peers, sessions, messages, conclusions, reasoning, scopes, webhooks, generations,
                   keys, health, metrics, explorer):
        app.include_router(module.router)  # each route documents its error statuses (api/statuses.py)
    for router in [*v1_routes.ROUTERS, *v1_data_routes.ROUTERS]:  # the v1 API over the same memory (docs/v1-api.md)
        app.include_router(router)
    docs.install(app, settings)
    ui.install(app)  # the memory explorer's pages; their data comes through the routes above
    served_mcp = mcp_route.install(app, deps)  # /mcp: the MCP server, with the same authentication
    return app
