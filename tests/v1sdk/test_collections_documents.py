"""Scenarios 8 and 9 of docs/v1-api.md §4.2, through each v1 SDK: a user's own collections and documents (the app's
RAG store, embedded by the server's default local embedder), beside the reserved, virtual collection `honcho`."""

from __future__ import annotations

from typing import Any

import pytest
from v1_helpers import V1, V1Error, unique

pytestmark = pytest.mark.sdk

TEXTS = ["The cat sat quietly on the warm mat", "Quarterly revenue grew by ten percent this year",
         "Photosynthesis turns sunlight into chemical energy in plants"]


def _documents(v1: V1, where: dict[str, str], collection_id: str, **kwargs: Any) -> list[Any]:
    return v1.call("apps.users.collections.documents.list", collection_id, **where, **kwargs)["items"]


# --------------------------------------------------------------------------------------------------
# 8. Collections
# --------------------------------------------------------------------------------------------------
def test_collections_create_get_list_update(v1: V1) -> None:
    app = v1.new_app()
    user = v1.new_user(app.id)
    name = unique("notes")
    made = v1.call("apps.users.collections.create", user.id, app_id=app.id, name=name, metadata={"k": 1})
    assert (made.name, made.user_id, made.metadata) == (name, user.id, {"k": 1}) and made.id not in (name, "honcho")
    if v1.v020:
        assert made.app_id == app.id
    assert v1.get_collection(app.id, user.id, made.id) == made
    assert v1.call("apps.users.collections.get_by_name", name, app_id=app.id, user_id=user.id) == made
    dup = v1.with_options(max_retries=2).fails("apps.users.collections.create", user.id, app_id=app.id, name=name)
    assert dup.type == "ConflictError" and len(dup.requests) == 1
    second = v1.call("apps.users.collections.create", user.id, app_id=app.id, name=unique("more"))
    listed = v1.call("apps.users.collections.list", user.id, app_id=app.id)["items"]
    assert [c.id for c in listed] == ["honcho", made.id, second.id]
    assert listed[0].name == "honcho" and listed[0].metadata == {}
    renamed = v1.call("apps.users.collections.update", made.id, app_id=app.id, user_id=user.id, name="renamed",
                      metadata={"k": 2})
    assert (renamed.id, renamed.name, renamed.metadata) == (made.id, "renamed", {"k": 2})
    assert v1.call("apps.users.collections.get_by_name", "renamed", app_id=app.id, user_id=user.id).id == made.id


def test_the_name_honcho_is_reserved(v1: V1) -> None:
    app = v1.new_app()
    user = v1.new_user(app.id)
    where = {"app_id": app.id, "user_id": user.id}
    honcho = v1.get_collection(app.id, user.id, "honcho")
    assert honcho.id == "honcho" and honcho.name == "honcho" and honcho.user_id == user.id
    assert v1.call("apps.users.collections.get_by_name", "honcho", **where) == honcho
    assert v1.fails("apps.users.collections.create", user.id, app_id=app.id,
                    name="honcho").type == "UnprocessableEntityError"
    mine = v1.call("apps.users.collections.create", user.id, app_id=app.id, name=unique("mine"))
    assert v1.fails("apps.users.collections.update", mine.id, **where,
                    name="honcho").type == "UnprocessableEntityError"
    assert v1.fails("apps.users.collections.update", "honcho", **where,
                    name="other").type == "UnprocessableEntityError"
    assert v1.fails("apps.users.collections.delete", "honcho", **where).type == "UnprocessableEntityError"


def test_collections_delete_removes_their_documents(v1: V1) -> None:
    app = v1.new_app()
    user = v1.new_user(app.id)
    where = {"app_id": app.id, "user_id": user.id}
    collection = v1.call("apps.users.collections.create", user.id, app_id=app.id, name=unique("tmp"))
    document = v1.call("apps.users.collections.documents.create", collection.id, **where, content="a fact")
    gone = v1.call("apps.users.collections.delete", collection.id, **where)
    assert isinstance(gone, dict) and gone.get("message")
    with pytest.raises(V1Error) as e:
        v1.get_collection(app.id, user.id, collection.id)
    assert e.value.type == "NotFoundError"
    assert v1.fails("apps.users.collections.documents.get", document.id, **where,
                    collection_id=collection.id).type == "NotFoundError"
    assert [c.id for c in v1.call("apps.users.collections.list", user.id, app_id=app.id)["items"]] == ["honcho"]


# --------------------------------------------------------------------------------------------------
# 9. Documents
# --------------------------------------------------------------------------------------------------
def test_documents_create_get_list_update_delete(v1: V1) -> None:
    app = v1.new_app()
    user = v1.new_user(app.id)
    where = {"app_id": app.id, "user_id": user.id}
    collection = v1.call("apps.users.collections.create", user.id, app_id=app.id, name=unique("facts"))
    docs = [v1.call("apps.users.collections.documents.create", collection.id, **where, content=text,
                    metadata={"n": n}) for n, text in enumerate(TEXTS)]
    assert [(d.content, d.metadata, d.collection_id) for d in docs] == [(t, {"n": n}, collection.id)
                                                                         for n, t in enumerate(TEXTS)]
    if v1.v020:
        assert (docs[0].app_id, docs[0].user_id) == (app.id, user.id)
    got = v1.call("apps.users.collections.documents.get", docs[1].id, **where, collection_id=collection.id)
    assert got == docs[1]
    assert [d.id for d in _documents(v1, where, collection.id)] == [d.id for d in docs]
    assert [d.id for d in _documents(v1, where, collection.id, reverse=True)] == [d.id for d in reversed(docs)]
    assert [d.id for d in _documents(v1, where, collection.id, filter={"n": 2})] == [docs[2].id]
    paged = v1.call("apps.users.collections.documents.list", collection.id, **where, size=2, page=2)
    assert [d.id for d in paged["items"]] == [docs[2].id] and paged["total"] == 3
    edited = v1.call("apps.users.collections.documents.update", docs[0].id, **where, collection_id=collection.id,
                     metadata={"n": 0, "edited": True})
    assert edited.content == TEXTS[0] and edited.metadata == {"n": 0, "edited": True}
    deleted = v1.call("apps.users.collections.documents.delete", docs[2].id, **where, collection_id=collection.id)
    assert isinstance(deleted, dict)
    assert v1.fails("apps.users.collections.documents.get", docs[2].id, **where,
                    collection_id=collection.id).type == "NotFoundError"
    assert [d.id for d in _documents(v1, where, collection.id)] == [docs[0].id, docs[1].id]


def test_documents_query_ranks_by_cosine_and_follows_updates(v1: V1) -> None:
    app = v1.new_app()
    user = v1.new_user(app.id)
    where = {"app_id": app.id, "user_id": user.id}
    collection = v1.call("apps.users.collections.create", user.id, app_id=app.id, name=unique("rag"))
    docs = [v1.call("apps.users.collections.documents.create", collection.id, **where, content=text)
            for text in TEXTS]

    def query(text: str, **kwargs: Any) -> list[str]:
        found = v1.call("apps.users.collections.documents.query", collection.id, **where, query=text, **kwargs)
        assert v1.last is not None and v1.last.created_at_types == ["datetime"] * len(found)
        return [d.id for d in found]

    assert query(TEXTS[1], top_k=1) == [docs[1].id]
    three = query(TEXTS[2], top_k=3)
    assert three[0] == docs[2].id and sorted(three) == sorted(d.id for d in docs)
    assert len(query("anything at all")) == 3  # top_k defaults to 5: the whole collection here
    new_text = "Stock markets fell sharply this morning on rate fears"
    v1.call("apps.users.collections.documents.update", docs[0].id, **where, collection_id=collection.id,
            content=new_text)
    assert query(new_text, top_k=1) == [docs[0].id]
    for bad in (0, 51):
        assert v1.fails("apps.users.collections.documents.query", collection.id, **where, query="q",
                        top_k=bad).type == "UnprocessableEntityError"
    assert v1.call("apps.users.collections.documents.query", collection.id, **where, query="q", top_k=50)
