"""Scenario 12 of docs/v1-api.md §4.2, through each v1 SDK, on `auth_server` (JWT auth on): `keys.create` (0.2.0) and
what app, user and session keys reach through v1 (both versions; 0.0.19 has no `keys`, its keys are minted here with
the same claims). Every refusal is a 401 `AuthenticationError`."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from sdk_helpers import admin_key, mint
from v1_helpers import V1, V1Error, dt

from server_process import ServerProcess

pytestmark = pytest.mark.sdk


@pytest.fixture(scope="module")
def v1_server(auth_server: ServerProcess) -> ServerProcess:
    return auth_server


@pytest.fixture(scope="module")
def v1_api_key(auth_server: ServerProcess) -> str:
    assert auth_server.secret is not None
    return admin_key(auth_server.secret)


def _key(v1: V1, secret: str, **scope: str) -> str:
    """A key for `scope` (app_id, user_id, session_id): from `keys.create` in 0.2.0, minted with the same claims in
    0.0.19."""
    if v1.v020:
        made = v1.call("keys.create", **scope)
        assert isinstance(made, dict) and isinstance(made.get("key"), str), made
        claims = jwt.decode(made["key"], secret, algorithms=["HS256"])
        assert claims.get("w") == scope["app_id"]
        return made["key"]
    claims = {"w": scope["app_id"], "p": scope.get("user_id"), "s": scope.get("session_id")}
    return mint(secret, **claims)


def _unauthorized(error: V1Error) -> None:
    assert error.type == "AuthenticationError" and error.status == 401, error
    assert error.detail


def test_keys_reach_what_their_scope_allows(v1: V1, auth_server: ServerProcess) -> None:
    secret = auth_server.secret
    assert secret is not None
    app, user, session = v1.world()
    other_app, _other_user, _ = v1.world()
    neighbour = v1.new_user(app.id)
    theirs = v1.new_session(app.id, neighbour.id)

    as_app = v1.with_options(api_key=_key(v1, secret, app_id=app.id))
    assert as_app.get_app(app.id).id == app.id
    assert as_app.get_user(app.id, user.id).id == user.id
    assert as_app.say(app.id, user.id, session.id, "written with an app key").is_user
    with pytest.raises(V1Error) as e:
        as_app.get_app(other_app.id)
    _unauthorized(e.value)
    _unauthorized(as_app.fails("apps.users.list", other_app.id))

    as_user = v1.with_options(api_key=_key(v1, secret, app_id=app.id, user_id=user.id))
    assert as_user.get_user(app.id, user.id).id == user.id
    assert [s.id for s in as_user.call("apps.users.sessions.list", user.id, app_id=app.id)["items"]] == [session.id]
    _unauthorized(as_user.fails("apps.users.sessions.list", neighbour.id, app_id=app.id))
    with pytest.raises(V1Error) as e:
        as_user.get_session(app.id, neighbour.id, theirs.id)
    _unauthorized(e.value)
    _unauthorized(as_user.fails("apps.users.sessions.messages.create", session.id, app_id=app.id, user_id=user.id,
                                content="a user key cannot write", is_user=True))

    as_session = v1.with_options(api_key=_key(v1, secret, app_id=app.id, session_id=session.id))
    assert as_session.say(app.id, user.id, session.id, "written with a session key").is_user
    listed = as_session.call("apps.users.sessions.messages.list", session.id, app_id=app.id, user_id=user.id)
    assert [m.content for m in listed["items"]] == ["written with an app key", "written with a session key"]
    _unauthorized(as_session.fails("apps.users.sessions.messages.list", theirs.id, app_id=app.id,
                                   user_id=neighbour.id))

    _unauthorized(v1.with_options(api_key=None).fails("apps.get_by_name", app.name))
    _unauthorized(v1.with_options(api_key="not-a-jwt").fails("apps.get_by_name", app.name))
    expired = mint(secret, w=app.id, exp=int(time.time()) - 60)
    _unauthorized(v1.with_options(api_key=expired).fails("apps.get_by_name", app.name))


def test_get_without_an_id_answers_the_keys_own(v1: V1, auth_server: ServerProcess) -> None:
    if v1.v019:
        return  # 0.0.19's `get`s take the id in the path: there is no form without one
    secret = auth_server.secret
    assert secret is not None
    app, user, session = v1.world()
    as_app = v1.with_options(api_key=_key(v1, secret, app_id=app.id))
    assert as_app.get_app().id == app.id
    as_user = v1.with_options(api_key=_key(v1, secret, app_id=app.id, user_id=user.id))
    assert as_user.get_user(app.id).id == user.id
    as_session = v1.with_options(api_key=_key(v1, secret, app_id=app.id, session_id=session.id))
    assert as_session.get_session(app.id, user.id).id == session.id
    assert v1.fails("apps.get").type == "UnprocessableEntityError"  # an admin key names no app


def test_keys_create_refusals(v1: V1, server: ServerProcess) -> None:
    if v1.v019:
        assert v1.fails("keys.create").type == "AttributeError"  # 0.0.19 has no keys
        return
    app, user, _session = v1.world()
    collection = v1.fails("keys.create", app_id=app.id, collection_id="c")
    assert collection.type == "UnprocessableEntityError"
    assert v1.fails("keys.create", user_id=user.id).type == "UnprocessableEntityError"  # no app_id
    past = v1.fails("keys.create", app_id=app.id, expires_at=dt("2001-01-01T00:00:00+00:00"))
    assert past.type == "UnprocessableEntityError"
    future: dict[str, Any] = v1.call("keys.create", app_id=app.id, expires_at=dt("2099-01-01T00:00:00+00:00"))
    assert isinstance(future.get("key"), str)
    as_user = v1.with_options(api_key=v1.call("keys.create", app_id=app.id, user_id=user.id)["key"])
    _unauthorized(as_user.fails("keys.create", app_id=app.id))  # admin only
    auth_off = v1.with_options(base_url=server.base_url, api_key=None).fails("keys.create", app_id=app.id)
    assert auth_off.status == 405, auth_off
