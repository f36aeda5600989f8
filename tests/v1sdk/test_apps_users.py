"""Scenarios 1-3, 13 and 18 (the 409 part) of docs/v1-api.md §4.2, through each v1 SDK: the issue's snippet, apps,
users, errors, and a deterministic conflict sent once."""

from __future__ import annotations

import httpx
import pytest
from v1_helpers import V1, V3_NAME, V1Error, unique

pytestmark = pytest.mark.sdk


def _v3_has_workspace(v3: httpx.Client, workspace_id: str) -> bool:
    """Get-or-create answers 200 for an existing workspace (201 would mean it was missing: a probe that creates)."""
    return v3.post("/v3/workspaces", json={"id": workspace_id}).status_code == 200


def _v3_peer_ids(v3: httpx.Client, workspace_id: str) -> list[str]:
    r = v3.post(f"/v3/workspaces/{workspace_id}/peers/list", json={})
    assert r.status_code == 200, r.text
    return [p["id"] for p in r.json()["items"]]


# --------------------------------------------------------------------------------------------------
# 1. The issue's snippet
# --------------------------------------------------------------------------------------------------
def test_the_issues_snippet_verbatim(v1: V1) -> None:
    app = v1.call("apps.get_or_create", unique("app"))
    user = v1.call("apps.users.get_or_create", unique("user"), app_id=app.id)
    session = v1.call("apps.users.sessions.create", user.id, app_id=app.id)
    message = v1.call("apps.users.sessions.messages.create", app_id=app.id, user_id=user.id, session_id=session.id,
                      content="Hello from the v1 SDK", is_user=True)
    assert v1.last is not None and v1.last.created_at_types == ["datetime"] and v1.last.result_type == "Message"
    assert message.is_user is True and message.session_id == session.id and message.content == "Hello from the v1 SDK"
    assert message.metadata == {}
    page = v1.call("apps.users.sessions.messages.list", session.id, app_id=app.id, user_id=user.id)
    assert [m.id for m in page["items"]] == [message.id] and page["total"] == 1 and page["page"] == 1
    assert page["items"][0]["is_user"] is True and page["items"][0]["session_id"] == session.id


# --------------------------------------------------------------------------------------------------
# 2. Apps
# --------------------------------------------------------------------------------------------------
def test_apps_create_get_and_get_or_create(v1: V1, v3: httpx.Client) -> None:
    name = unique("app")
    app = v1.call("apps.create", name=name, metadata={"plan": "pro"})
    assert app.id == name and app.name == name and app.metadata == {"plan": "pro"}
    assert _v3_has_workspace(v3, app.id)
    assert v1.get_app(app.id) == app
    assert v1.call("apps.get_by_name", name) == app
    assert v1.call("apps.get_or_create", name) == app  # existing: returned as is
    fresh = unique("app")
    made = v1.call("apps.get_or_create", fresh)
    assert made.id == fresh and made.name == fresh and made.metadata == {}
    assert v1.get_app(fresh) == made


def test_a_duplicate_app_is_a_conflict_sent_once(v1: V1) -> None:
    app = v1.new_app()
    retrying = v1.with_options(max_retries=2)  # the SDK's default: 409 is retried unless the server vetoes it
    error = retrying.fails("apps.create", name=app.name)
    assert error.type == "ConflictError" and error.status == 409 and error.detail
    assert error.headers.get("x-should-retry") == "false"
    assert len(error.requests) == 1, error.requests


def test_apps_update_renames_without_changing_the_id(v1: V1) -> None:
    app = v1.new_app(metadata={"a": 1})
    other = v1.new_app()
    new_name = unique("renamed")
    updated = v1.call("apps.update", app.id, name=new_name, metadata={"b": 2})
    assert updated.id == app.id and updated.name == new_name and updated.metadata == {"b": 2}
    assert v1.call("apps.get_by_name", new_name).id == app.id
    assert v1.fails("apps.get_by_name", app.name).type == "NotFoundError"
    only_metadata = v1.call("apps.update", app.id, metadata={"c": 3})
    assert only_metadata.name == new_name and only_metadata.metadata == {"c": 3}
    conflict = v1.fails("apps.update", app.id, name=other.name)
    assert conflict.type == "ConflictError" and conflict.headers.get("x-should-retry") == "false"
    assert v1.get_app(app.id).name == new_name


def test_apps_list_with_filter_reverse_and_pages(v1: V1) -> None:
    if v1.v019:
        assert v1.fails("apps.list").type == "AttributeError"  # 0.0.19 has no apps.list
        return
    marker = unique("batch")
    apps = [v1.new_app(metadata={"batch": marker, "n": n}) for n in range(5)]
    page = v1.call("apps.list", filter={"batch": marker})
    assert [a.id for a in page["items"]] == [a.id for a in apps] and page["total"] == 5
    backwards = v1.call("apps.list", filter={"batch": marker}, reverse=True)
    assert [a.id for a in backwards["items"]] == [a.id for a in reversed(apps)]
    pages = [v1.call("apps.list", filter={"batch": marker}, size=2, page=n) for n in (1, 2, 3, 4)]
    assert [[a.id for a in p["items"]] for p in pages] == [[apps[0].id, apps[1].id], [apps[2].id, apps[3].id],
                                                           [apps[4].id], []]
    assert [p["page"] for p in pages] == [1, 2, 3, 4] and all(p["pages"] == 3 for p in pages)


def test_app_names_v3_cannot_take_get_a_derived_id(v1: V1, v3: httpx.Client) -> None:
    for name in (f"My App {unique('x')}", f"ops@{unique('corp')}.example", "name", "get_or_create"):
        app = v1.call("apps.get_or_create", name)
        assert app.name == name and app.id != name and V3_NAME.match(app.id), app
        assert v1.call("apps.get_by_name", name) == app
        assert v1.get_app(app.id) == app
        assert _v3_has_workspace(v3, app.id)


# --------------------------------------------------------------------------------------------------
# 3. Users
# --------------------------------------------------------------------------------------------------
def test_users_create_get_update(v1: V1, v3: httpx.Client) -> None:
    app = v1.new_app()
    name = unique("ada")
    user = v1.call("apps.users.create", app.id, name=name, metadata={"tier": "gold"})
    assert user == {**user, "id": name, "name": name, "app_id": app.id, "metadata": {"tier": "gold"}}
    assert v1.get_user(app.id, user.id) == user
    assert v1.call("apps.users.get_by_name", name, app_id=app.id) == user
    assert v1.call("apps.users.get_or_create", name, app_id=app.id) == user
    dup = v1.with_options(max_retries=2).fails("apps.users.create", app.id, name=name)
    assert dup.type == "ConflictError" and len(dup.requests) == 1
    renamed = v1.call("apps.users.update", user.id, app_id=app.id, name="Ada Lovelace", metadata={"tier": "plat"})
    assert renamed.id == user.id and renamed.name == "Ada Lovelace" and renamed.metadata == {"tier": "plat"}
    assert v1.call("apps.users.get_by_name", "Ada Lovelace", app_id=app.id).id == user.id
    peer = v3.post(f"/v3/workspaces/{app.id}/peers", json={"id": user.id}).json()
    assert peer["metadata"] == {"tier": "plat"}


def test_user_names_v3_cannot_take_get_a_derived_id(v1: V1, v3: httpx.Client) -> None:
    app = v1.new_app()
    for name in ("ada@example.com", "name", "get_or_create", "Grace Hopper"):
        user = v1.call("apps.users.create", app.id, name=name)
        assert user.name == name and user.id != name and V3_NAME.match(user.id), user
        assert v1.call("apps.users.get_by_name", name, app_id=app.id) == user
        assert v1.get_user(app.id, user.id) == user
        assert user.id in _v3_peer_ids(v3, app.id)


def test_users_list_pages_and_the_sdk_auto_pagination_limit(v1: V1) -> None:
    app = v1.new_app()
    users = [v1.call("apps.users.create", app.id, name=f"u{n}-{unique('p')}") for n in range(7)]
    ids = [u.id for u in users]
    pages = [v1.call("apps.users.list", app.id, size=3, page=n) for n in (1, 2, 3, 4)]
    assert [[u.id for u in p["items"]] for p in pages] == [ids[0:3], ids[3:6], ids[6:7], []]
    assert [(p["page"], p["size"], p["total"], p["pages"]) for p in pages] == [(n, 3, 7, 3) for n in (1, 2, 3, 4)]
    assert [u.id for u in v1.call("apps.users.list", app.id, reverse=True)["items"]] == ids[::-1]
    # The SDKs' own auto-pagination stops after its second page (docs/v1-api.md §1.7): 6 of the 7 users.
    walked = v1.iterate("apps.users.list", app.id, size=3)
    assert [u.id for u in walked["items"]] == ids[:6] and walked["pages"] == [1, 2]
    filtered = v1.call("apps.users.list", app.id, filter={"nope": True})
    assert filtered["items"] == [] and filtered["total"] == 0


def test_the_assistant_peer_is_not_a_user(v1: V1, v3: httpx.Client) -> None:
    app, user, session = v1.world()
    v1.say(app.id, user.id, session.id, "hi", is_user=True)
    v1.say(app.id, user.id, session.id, "hello, human", is_user=False)
    assert [u.id for u in v1.call("apps.users.list", app.id)["items"]] == [user.id]
    assistant = next(p for p in _v3_peer_ids(v3, app.id) if p != user.id)
    assert assistant.startswith("assistant")
    assert v1.fails("apps.users.get_by_name", assistant, app_id=app.id).type == "NotFoundError"
    with pytest.raises(V1Error) as e:
        v1.get_user(app.id, assistant)
    assert e.value.type == "NotFoundError"


# --------------------------------------------------------------------------------------------------
# 13. Errors
# --------------------------------------------------------------------------------------------------
def test_unknown_ids_are_not_found_with_a_json_detail(v1: V1) -> None:
    app, user, session = v1.world()
    nope = unique("nope")
    calls = [
        lambda: v1.get_app(nope),
        lambda: v1.get_user(app.id, nope),
        lambda: v1.get_session(app.id, user.id, nope),
        lambda: v1.call("apps.users.sessions.messages.get", nope, app_id=app.id, user_id=user.id,
                        session_id=session.id),
        lambda: v1.call("apps.users.sessions.messages.create", nope, app_id=app.id, user_id=user.id, content="x",
                        is_user=True),
        lambda: v1.call("apps.users.sessions.create", nope, app_id=app.id),
        lambda: v1.call("apps.users.create", nope, name="x"),
        lambda: v1.get_collection(app.id, user.id, nope),
    ]
    for call in calls:
        with pytest.raises(V1Error) as e:
            call()
        assert e.value.type == "NotFoundError" and e.value.status == 404, e.value
        assert isinstance(e.value.detail, str) and e.value.detail


def test_bad_paging_is_unprocessable(v1: V1) -> None:
    app = v1.new_app()
    for params in ({"size": 101}, {"size": 0}, {"page": 0}):
        error = v1.fails("apps.users.list", app.id, **params)
        assert error.type == "UnprocessableEntityError" and error.status == 422, (params, error)
        assert isinstance(error.detail, list) and error.detail
    assert v1.call("apps.users.list", app.id, size=100)["size"] == 100
