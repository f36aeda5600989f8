"""Embedding messages for search: the vector table's lifecycle, the embed job, re-embedding everything.

No database transaction is ever held across an embedder call: read, release, embed, then write in a short
transaction that replaces vectors (so running a job twice leaves the same state).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

import numpy as np
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.tokens import get_encoding
from honcho_server.embeddings.base import Embedder, EmbeddingError
from honcho_server.errors import EmbeddingSpaceMismatch
from honcho_server.queue.jobs import ClaimedJob
from honcho_server.search.documents import document_vectors, query_text
from honcho_server.search.terms import query_terms
from honcho_server.services.deps import Deps
from honcho_server.store.repos import conclusions as conclusion_repo
from honcho_server.store.repos import embeddings as repo
from honcho_server.store.repos import v1_collections as v1_document_repo
from honcho_server.store.repos.embeddings import EmbeddingSpace, SourceMessage

log = logging.getLogger("honcho_server.embedding")
REEMBED_PAGE = 512


def configured_space(embedder: Embedder) -> EmbeddingSpace:
    return EmbeddingSpace(embedder.model_id, embedder.dimensions)


async def prepare_vectors(deps: Deps) -> bool:
    """Make sure the vector table matches the configured embedder (creating it on first use); returns
    whether vectors can be stored and searched. Raises EmbeddingSpaceMismatch when the database holds
    vectors of another model or size."""
    if deps.vectors_ready is not None:
        return deps.vectors_ready
    dialect = deps.db.dialect
    if not dialect.vectors_available:
        log.warning("vector search is unavailable on this database (no SQLite build that can load "
                    "sqlite-vec); search uses full text only")
        deps.vectors_ready = False
        return False
    wanted = configured_space(deps.embedder)
    async with deps.db.write() as conn:
        # Concurrent jobs, and the server and worker processes, may all get here first.
        await dialect.lock_vector_setup(conn)
        recorded = await repo.recorded_space(conn)
        if recorded is not None and recorded != wanted:
            raise EmbeddingSpaceMismatch(recorded.model_id, recorded.dimensions, wanted.model_id, wanted.dimensions)
        if recorded is None:
            existing = await dialect.vector_table_dimensions(conn)
            if existing is not None and existing != wanted.dimensions:
                await dialect.drop_vector_table(conn)  # unrecorded leftovers of unknown origin
            await repo.record_space(conn, dialect, wanted, deps.now())
        await dialect.create_vector_table(conn, wanted.dimensions)
    deps.vectors_ready = True
    return True


async def warm_up(deps: Deps) -> None:
    """Load what the first create and search calls would otherwise load while they wait: the token counter's
    vocabulary (~0.4 s of CPU) and a local embedding model (~0.3 s). Off the event loop. Only an optimisation:
    a model that cannot load (or an embedder already closed) is reported by its first real use, as before."""
    try:
        await asyncio.to_thread(get_encoding)
    except Exception as exc:  # e.g. an unreadable file: every request that counts tokens will say so too
        log.error("token vocabulary not loaded: %s", exc)
    warm = getattr(deps.embedder, "warm_up", None)  # local models only; remote clients have nothing to load
    if warm is None or not deps.vectors_ready:
        return
    try:
        await warm()
    except EmbeddingError as exc:
        log.warning("embedding model not loaded at start-up: %s", exc)


async def _embed_and_store(deps: Deps, embedder: Embedder, messages: list[SourceMessage]) -> None:
    """Embed outside any transaction, then replace the messages' vectors in a short one."""
    vectors = await document_vectors(embedder, messages)
    async with deps.db.write() as conn:
        await deps.db.dialect.store_vectors(conn, [(m.pk, v) for m, v in zip(messages, vectors, strict=True)])


async def embed_new_messages(deps: Deps, job: ClaimedJob) -> None:
    """The `embed` job: vectors for the messages a create call added to one session."""
    if not await prepare_vectors(deps) or job.session_pk is None:
        return
    first, last = int(job.payload["first_seq"]), int(job.payload["last_seq"])
    async with deps.db.read() as conn:
        targets = await repo.session_range(conn, job.session_pk, first, last)
    if not targets:
        return  # the session was deleted meanwhile
    await _embed_and_store(deps, deps.embedder, targets)


async def reembed_all(deps: Deps, progress: Callable[[int, int], None] | None = None) -> int:
    """Replace every stored vector with the configured embedder's, recording it as the database's model.

    The table is rebuilt at the new size and indexed after loading (faster than indexing row by row);
    messages created meanwhile are embedded by their own jobs. Returns how many messages were embedded."""
    dialect, embedder = deps.db.dialect, deps.embedder
    if not dialect.vectors_available:
        raise RuntimeError("this database cannot store vectors (no SQLite build that can load sqlite-vec)")
    wanted = configured_space(embedder)
    async with deps.db.write() as conn:
        await dialect.lock_vector_setup(conn)
        await dialect.drop_vector_table(conn)
        await dialect.create_vector_table(conn, wanted.dimensions, with_index=False)
        await repo.record_space(conn, dialect, wanted, deps.now())
        total = await repo.count_messages(conn)
    done, after = 0, 0
    while True:
        async with deps.db.read() as conn:
            page = await repo.page_after(conn, after, REEMBED_PAGE)
        if not page:
            break
        await _embed_and_store(deps, embedder, page)
        done, after = done + len(page), page[-1].pk
        if progress:
            progress(done, max(total, done))
    async with deps.db.write() as conn:
        await dialect.build_vector_index(conn)
    await _reembed_rows(deps, embedder, conclusion_repo.page_after, conclusion_repo.set_embeddings)
    await _reembed_rows(deps, embedder, v1_document_repo.page_after, v1_document_repo.set_embeddings)
    deps.vectors_ready = True
    return done


async def _reembed_rows(deps: Deps, embedder: Embedder,
                        page_after: Callable[[AsyncConnection, int, int], Awaitable[list[tuple[int, str]]]],
                        set_embeddings: Callable[[AsyncConnection, Sequence[tuple[int, bytes]]], Awaitable[None]],
                        ) -> None:
    """Rows that carry their vector (conclusions, v1 documents): replace each with the new model's."""
    after = 0
    while True:
        async with deps.db.read() as conn:
            page = await page_after(conn, after, REEMBED_PAGE)
        if not page:
            return
        blobs = await conclusion_blobs(embedder, [content for _, content in page])
        async with deps.db.write() as conn:
            await set_embeddings(conn, [(pk, blob) for (pk, _), blob in zip(page, blobs, strict=True)])
        after = page[-1][0]


# ---------------------------------------------------------------------------------------- conclusion vectors
# A conclusion's vector is stored on its row (float32 unit vector, little-endian): collections are small enough
# to be searched exactly (store/repos/conclusions.nearest), and need no vector table or sqlite-vec.


def _blob(vector: np.ndarray) -> bytes:
    norm = float(np.linalg.norm(vector))
    return (vector / (norm or 1.0)).astype("<f4").tobytes()


async def conclusion_blobs(embedder: Embedder, texts: list[str]) -> list[bytes]:
    """One stored vector per conclusion text, in order (one embedder call). Raises EmbeddingError."""
    if not texts:
        return []
    return [_blob(np.asarray(v, dtype=np.float32)) for v in await embedder.embed(texts, "document")]


async def query_vector(deps: Deps, text: str, *, stop_words_only: bool = False) -> np.ndarray | None:
    """The unit vector of a search query, or None when it cannot be had (no content words, or the embedder is
    failing: callers then answer by words or recency rather than erroring, as spec 6.6 asks).
    `stop_words_only`: embed a query without content words too (as asked), unless it is blank."""
    if not query_terms(text) and not (stop_words_only and text.strip()):
        return None
    embedder = deps.embedder
    asked = query_text(embedder, text)
    cached = deps.query_vectors.get(embedder.model_id, asked)
    if cached is not None:
        return cached
    try:
        vector = (await embedder.embed([asked], "query"))[0]
    except EmbeddingError as exc:
        log.warning("query embedding failed; answering without it: %s", exc)
        return None  # not remembered: the next search asks again
    array = np.asarray(vector, dtype=np.float32)
    array = array / (float(np.linalg.norm(array)) or 1.0)
    deps.query_vectors.put(embedder.model_id, asked, array)
    return array
