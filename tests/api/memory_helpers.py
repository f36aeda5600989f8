"""Helpers of the memory API tests (conclusions, representations, cards, context): clients with a chosen
embedder, and rows written straight through the repositories (derived conclusions, summaries) the API
cannot create."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
from api_helpers import workspace_pk
from sqlalchemy import select

from honcho_server.domain.conclusions import NewConclusion
from honcho_server.domain.models import SessionSummary
from honcho_server.embeddings.base import EmbeddingError
from honcho_server.embeddings.hashing import HashEmbedder
from honcho_server.services.deps import Deps
from honcho_server.services.embedding import conclusion_blobs
from honcho_server.store import tables
from honcho_server.store.repos import conclusions as conclusion_repo
from honcho_server.store.repos import generations as generation_repo
from honcho_server.store.repos import summaries as summary_repo
from support import api_client

HASH_DIMENSIONS = 128


class FailingEmbedder:
    """An embedding provider that is down."""

    model_id = "failing:8"
    dimensions = 8

    async def embed(self, texts: list[str], purpose: str = "document") -> list[list[float]]:
        raise EmbeddingError("provider unavailable (test)")

    async def aclose(self) -> None:
        return None


@contextlib.asynccontextmanager
async def client_with(deps: Deps, embedder: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app on the shared database whose embedder is `embedder`."""
    async with api_client(Deps(db=deps.db, settings=deps.settings, embedder_instance=embedder)) as c:
        yield c


@contextlib.asynccontextmanager
async def hash_client(deps: Deps) -> AsyncIterator[httpx.AsyncClient]:
    async with client_with(deps, HashEmbedder(HASH_DIMENSIONS)) as c:
        yield c


async def _pk(deps: Deps, table: Any, ws: str, name: str) -> int:
    w = tables.workspaces
    query = select(table.c.id).join(w, w.c.id == table.c.workspace_id).where(w.c.name == ws, table.c.name == name)
    async with deps.db.read() as conn:
        return (await conn.execute(query)).scalar_one()


async def store_conclusion(
    deps: Deps, ws: str, observer: str, observed: str, content: str, *, level: str = "explicit",
    session: str | None = None, times_derived: int = 1, observed_at: datetime | None = None,
    message_ids: list[str] | None = None, source_ids: list[str] | None = None, embed: bool = True,
) -> str:
    """Insert one conclusion as the deriver or a dream would (the peers, and the session, must exist);
    embedded with the hash embedder unless `embed` is false. Returns its public id."""
    ws_pk = await workspace_pk(deps, ws)
    blob = (await conclusion_blobs(HashEmbedder(HASH_DIMENSIONS), [content]))[0] if embed else None
    row = NewConclusion(
        observer_pk=await _pk(deps, tables.peers, ws, observer),
        observed_pk=await _pk(deps, tables.peers, ws, observed),
        session_pk=await _pk(deps, tables.sessions, ws, session) if session else None, content=content,
        observed_at=observed_at or deps.now(), level=level, times_derived=times_derived,
        message_ids=tuple(message_ids) if message_ids else None, source_ids=tuple(source_ids) if source_ids else None,
        embedding=blob)
    async with deps.db.write() as conn:
        generation = await generation_repo.active_of(conn, ws_pk)
        assert generation is not None
        return (await conclusion_repo.insert(conn, ws_pk, generation.pk, [row], deps.now()))[0]


async def store_summary(deps: Deps, ws: str, session: str, kind: str, *, last_seq: int, message_id: str,
                        token_count: int, content: str | None = None) -> None:
    """A session summary as the summary job would write it."""
    session_pk, ws_pk = await _pk(deps, tables.sessions, ws, session), await workspace_pk(deps, ws)
    async with deps.db.write() as conn:
        summary = SessionSummary(kind=kind, content=content or f"{kind} summary up to {last_seq}", last_seq=last_seq,
                                 message_uid=message_id, token_count=token_count, created_at=deps.now())
        generation = await generation_repo.active_of(conn, ws_pk)
        assert generation is not None
        await summary_repo.add(conn, deps.db.dialect, ws_pk, generation.pk, session_pk, summary)
