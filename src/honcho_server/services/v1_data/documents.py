"""v1 documents (docs/v1-api.md §3.6): texts in a user collection, embedded like conclusions (a float32 unit vector
on the row) and queried by exact cosine. The reserved collection's documents go to honcho_collection."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from honcho_server.domain.conclusions import Conclusion
from honcho_server.domain.models import Page
from honcho_server.embeddings.base import EmbeddingError
from honcho_server.errors import NotFound
from honcho_server.search.terms import query_terms
from honcho_server.services.conclusions import check_embeddable
from honcho_server.services.deps import Deps
from honcho_server.services.embedding import conclusion_blobs, query_vector
from honcho_server.services.v1.filters import metadata_filter
from honcho_server.services.v1_data import honcho_collection, paths
from honcho_server.services.v1_data.collections import HONCHO, resolve
from honcho_server.services.v1_data.paths import Owner
from honcho_server.store.repos import v1_collections as repo
from honcho_server.store.repos.v1_collections import Collection, Document

log = logging.getLogger("honcho_server.v1_documents")


@dataclass(frozen=True, slots=True)
class Where:
    """The app, user and collection a document path names."""

    owner: Owner
    collection: Collection


async def _where(deps: Deps, app_id: str, user_id: str, collection_id: str) -> Where:
    async with deps.db.read() as conn:
        owner = await paths.user(conn, app_id, user_id)
        return Where(owner, await resolve(conn, owner, collection_id))


def _missing(uid: str, collection_id: str) -> NotFound:
    return NotFound(f"Document {uid} not found in collection {collection_id}")


async def _vector(deps: Deps, content: str) -> bytes | None:
    """The stored vector of a document; none (and a log line) when the embedder fails: the SDK would retry a
    failed write, and the document is still listed and found by words."""
    try:
        return (await conclusion_blobs(deps.embedder, [content]))[0]
    except EmbeddingError as exc:
        log.warning("embedding a v1 document failed; storing it without a vector: %s", exc)
        return None


def _check(deps: Deps, content: str, what: str) -> None:
    check_embeddable(content, what, deps.settings.limits.embedding_max_input_tokens)


async def create(deps: Deps, app_id: str, user_id: str, collection_id: str, content: str,
                 metadata: dict[str, Any] | None) -> tuple[Where, Document | Conclusion]:
    _check(deps, content, "content")
    at = await _where(deps, app_id, user_id, collection_id)  # refuse before paying for the embedding
    if collection_id == HONCHO:
        return at, await honcho_collection.create(deps, at.owner, content)
    vector = await _vector(deps, content)  # no transaction held meanwhile
    async with deps.db.write() as conn:
        owner = await paths.user(conn, app_id, user_id)
        collection = await resolve(conn, owner, collection_id)
        return at, await repo.insert_document(conn, owner.workspace.pk, collection.pk, content, metadata or {},
                                              vector, deps.now())


async def get(deps: Deps, app_id: str, user_id: str, collection_id: str, uid: str
              ) -> tuple[Where, Document | Conclusion]:
    at = await _where(deps, app_id, user_id, collection_id)
    if collection_id == HONCHO:
        return at, await honcho_collection.get(deps, at.owner, uid)
    async with deps.db.read() as conn:
        found = await repo.find_document(conn, at.collection.pk, uid)
    if found is None:
        raise _missing(uid, collection_id)
    return at, found


async def update(deps: Deps, app_id: str, user_id: str, collection_id: str, uid: str, content: str | None,
                 metadata: dict[str, Any] | None) -> tuple[Where, Document]:
    """Replace the content (embedded again) and/or the metadata, each when not null."""
    if collection_id == HONCHO:
        honcho_collection.refuse_update()
    if content is not None:
        _check(deps, content, "content")
    at, _ = await get(deps, app_id, user_id, collection_id, uid)
    vector = await _vector(deps, content) if content is not None else None
    async with deps.db.write() as conn:
        found = await repo.find_document(conn, at.collection.pk, uid)
        if found is None:  # deleted meanwhile
            raise _missing(uid, collection_id)
        values: dict[str, Any] = {}
        if content is not None:
            values.update(content=content, embedding=vector)
        if metadata is not None:
            values["metadata"] = metadata
        await repo.update_document(conn, found.pk, **values)
        updated = await repo.find_document(conn, at.collection.pk, uid)
    assert updated is not None  # read in the same transaction
    return at, updated


async def delete(deps: Deps, app_id: str, user_id: str, collection_id: str, uid: str) -> str | None:
    """Returns the receipt header of a conclusion's deletion (the reserved collection), else None."""
    at = await _where(deps, app_id, user_id, collection_id)
    if collection_id == HONCHO:
        return (await honcho_collection.delete(deps, at.owner, uid)).header()
    async with deps.db.write() as conn:
        found = await repo.find_document(conn, at.collection.pk, uid)
        if found is None:
            raise _missing(uid, collection_id)
        await repo.delete_document(conn, found.pk)
    return None


async def list_page(deps: Deps, app_id: str, user_id: str, collection_id: str, filters: dict[str, Any] | None,
                    page: int, size: int, reverse: bool) -> tuple[Where, Page[Document] | Page[Conclusion]]:
    """Oldest first (`reverse`: newest first)."""
    at = await _where(deps, app_id, user_id, collection_id)
    if collection_id == HONCHO:
        return at, await honcho_collection.list_page(deps, at.owner, filters, page, size, reverse)
    async with deps.db.read() as conn:
        return at, await repo.list_documents(conn, deps.db.dialect, at.collection.pk, metadata_filter(filters), page,
                                             size, reverse)


async def query(deps: Deps, app_id: str, user_id: str, collection_id: str, text: str, top_k: int,
                filters: dict[str, Any] | None) -> tuple[Where, list[Document] | list[Conclusion]]:
    """The `top_k` documents closest in meaning to `text`, most similar first, among those the filter selects.
    When no query vector can be had (the embedder failing), documents sharing a word with it, newest first."""
    _check(deps, text, "query")
    at = await _where(deps, app_id, user_id, collection_id)
    if collection_id == HONCHO:
        return at, await honcho_collection.query(deps, at.owner, text, top_k, filters)
    vector = await query_vector(deps, text, stop_words_only=True)  # before any connection is taken
    async with deps.db.read() as conn:
        where = repo.document_condition(deps.db.dialect, metadata_filter(filters))
        if vector is not None:
            return at, await repo.nearest(conn, at.collection.pk, vector, top_k, where)
        words = query_terms(text)
        by_words = repo.document_condition(deps.db.dialect, {"OR": [{"content": {"icontains": w}} for w in words]})
        if not words or by_words is None:
            return at, []
        return at, await repo.recent(conn, at.collection.pk, top_k, [c for c in (where, by_words) if c is not None])
