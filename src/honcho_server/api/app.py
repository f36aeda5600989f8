"""Composition root of the HTTP server: settings → database → services → routes (and, optionally, a worker)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from honcho_server import __version__
from honcho_server.api import errors
from honcho_server.api.deps import screen_input
from honcho_server.api.render import RECEIPT_HEADER
from honcho_server.api.routes import conclusions, keys, messages, peers, reasoning, sessions, workspaces
from honcho_server.api.schemas import ERROR_RESPONSES
from honcho_server.config import Settings, load_settings
from honcho_server.services.deps import Deps
from honcho_server.services.embedding import prepare_vectors, warm_up
from honcho_server.store.engine import Database
from honcho_server.worker.foreground import ApiActivity
from honcho_server.worker.runtime import Worker

RUN_WORKER_ENV = "HONCHO_SERVE_RUN_WORKER"


def app_from_environment() -> FastAPI:
    """The app of one process of a multi-process `serve` (settings from the environment, as for any start)."""
    return create_app(load_settings(), run_worker=os.environ.get(RUN_WORKER_ENV, "1") == "1")


def create_app(settings: Settings, *, run_worker: bool = False, deps: Deps | None = None) -> FastAPI:
    """Build the app. The database engine is created here; connections open lazily on first use."""
    deps = deps or Deps(db=Database(settings.db.url, settings.db), settings=settings)
    activity = ApiActivity()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await prepare_vectors(deps)  # a mismatched embedder stops start-up here, before any request
        await warm_up(deps)
        worker = Worker(deps, foreground=activity) if run_worker else None
        if worker:
            worker.start()
        try:
            yield
        finally:
            if worker:
                await worker.stop()
            await deps.aclose()

    app = FastAPI(
        title="honcho-server",
        version=__version__,
        lifespan=lifespan,
        description="A self-hostable memory server speaking the Honcho v3 API.",
        dependencies=[Depends(screen_input)],
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
    app.add_middleware(activity.middleware)  # outermost: counts every request, errors included
    errors.install(app)
    for module in (workspaces, peers, sessions, messages, conclusions, reasoning, keys):
        app.include_router(module.router, responses=ERROR_RESPONSES)
    return app
