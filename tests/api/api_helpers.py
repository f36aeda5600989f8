"""Small helpers shared by the API tests: request shortcuts, response-shape checks and database probes."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import httpx
import jwt
from sqlalchemy import func, select

from honcho_server.services.deps import Deps
from honcho_server.store import tables

JWT_SECRET = "api-test-secret-that-is-long-enough-for-hs256"
UID_RE = re.compile(r"^[A-Za-z0-9_-]{21}$")
PAGE_KEYS = ["items", "total", "page", "size", "pages"]

WORKSPACE_KEYS = {"id", "metadata", "configuration", "created_at", "uid"}
PEER_KEYS = {"id", "workspace_id", "created_at", "metadata", "configuration", "uid"}
SESSION_KEYS = {"id", "is_active", "workspace_id", "metadata", "configuration", "created_at", "uid"}
MESSAGE_KEYS = {
    "id",
    "content",
    "peer_id",
    "session_id",
    "metadata",
    "created_at",
    "workspace_id",
    "token_count",
}


def ws_url(ws: str, *parts: str) -> str:
    return "/".join([f"/v3/workspaces/{ws}", *parts]) if parts else f"/v3/workspaces/{ws}"


def session_url(ws: str, session: str, *parts: str) -> str:
    return ws_url(ws, "sessions", session, *parts)


def messages_url(ws: str, session: str, *parts: str) -> str:
    return session_url(ws, session, "messages", *parts)


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def expect(response: httpx.Response, status: int) -> Any:
    """Assert the status code (showing the body when it differs) and return the JSON body, if any."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json() if response.content else None


def assert_page(
    body: dict[str, Any], *, total: int, page: int, size: int, pages: int
) -> list[dict[str, Any]]:
    """The five pagination keys, in order, with the given values; returns the items."""
    assert list(body) == PAGE_KEYS
    assert (body["total"], body["page"], body["size"], body["pages"]) == (total, page, size, pages)
    return body["items"]


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


def assert_workspace(body: dict[str, Any], ws: str) -> None:
    assert set(body) == WORKSPACE_KEYS
    assert body["id"] == ws
    assert UID_RE.match(body["uid"])
    assert body["created_at"].endswith("Z")


def assert_peer(body: dict[str, Any], ws: str, peer: str) -> None:
    assert set(body) == PEER_KEYS
    assert (body["id"], body["workspace_id"]) == (peer, ws)
    assert UID_RE.match(body["uid"])


def assert_session(body: dict[str, Any], ws: str, session: str, *, active: bool = True) -> None:
    assert set(body) == SESSION_KEYS
    assert (body["id"], body["workspace_id"], body["is_active"]) == (session, ws, active)
    assert UID_RE.match(body["uid"])


def assert_message(body: dict[str, Any], ws: str, session: str) -> None:
    assert set(body) == MESSAGE_KEYS
    assert (body["workspace_id"], body["session_id"]) == (ws, session)
    assert UID_RE.match(body["id"])


def sign(**claims: Any) -> str:
    """A JWT with the reference's short claim names (`w`, `p`, `s`, `ad`, `exp`); None claims are left out."""
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, JWT_SECRET, algorithm="HS256")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ---- request shortcuts -------------------------------------------------------------------------------


async def create_workspace(client: httpx.AsyncClient, ws: str, **body: Any) -> dict[str, Any]:
    response = await client.post("/v3/workspaces", json={"id": ws, **body})
    assert response.status_code in (200, 201), response.text
    return response.json()


async def create_peer(client: httpx.AsyncClient, ws: str, peer: str, **body: Any) -> dict[str, Any]:
    response = await client.post(ws_url(ws, "peers"), json={"id": peer, **body})
    assert response.status_code in (200, 201), response.text
    return response.json()


async def create_session(
    client: httpx.AsyncClient,
    ws: str,
    session: str,
    peers: dict[str, dict[str, Any]] | None = None,
    **body: Any,
) -> dict[str, Any]:
    payload = {"id": session, **body}
    if peers is not None:
        payload["peers"] = peers
    response = await client.post(ws_url(ws, "sessions"), json=payload)
    assert response.status_code in (200, 201), response.text
    return response.json()


def msg(peer: str, content: str, **extra: Any) -> dict[str, Any]:
    return {"peer_id": peer, "content": content, **extra}


async def add_messages(
    client: httpx.AsyncClient,
    ws: str,
    session: str,
    messages: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Create messages in batches of at most 100; returns all created messages in order."""
    created: list[dict[str, Any]] = []
    for start in range(0, len(messages), 100):
        response = await client.post(
            messages_url(ws, session), json={"messages": messages[start : start + 100]}
        )
        created += expect(response, 201)
    return created


async def list_all(
    client: httpx.AsyncClient, url: str, body: dict[str, Any] | None = None, **params: Any
) -> dict[str, Any]:
    response = await client.post(url, json=body if body is not None else {}, params=params)
    return expect(response, 200)


# ---- database probes ---------------------------------------------------------------------------------


async def workspace_pk(deps: Deps, ws: str) -> int | None:
    async with deps.db.read() as conn:
        query = select(tables.workspaces.c.id).where(tables.workspaces.c.name == ws)
        return (await conn.execute(query)).scalar_one_or_none()


async def session_row(deps: Deps, ws: str, session: str) -> Any:
    w, s = tables.workspaces, tables.sessions
    async with deps.db.read() as conn:
        query = select(s).join(w, w.c.id == s.c.workspace_id).where(w.c.name == ws, s.c.name == session)
        return (await conn.execute(query)).first()


async def count_where(deps: Deps, table: Any, *conditions: Any) -> int:
    async with deps.db.read() as conn:
        query = select(func.count()).select_from(table).where(*conditions)
        return (await conn.execute(query)).scalar_one()


async def workspace_row_counts(deps: Deps, ws_pk: int, session_pks: list[int]) -> dict[str, int]:
    """How many rows of the workspace (or its sessions) each table still holds."""
    t = tables
    return {
        "workspaces": await count_where(deps, t.workspaces, t.workspaces.c.id == ws_pk),
        "peers": await count_where(deps, t.peers, t.peers.c.workspace_id == ws_pk),
        "sessions": await count_where(deps, t.sessions, t.sessions.c.workspace_id == ws_pk),
        "session_peers": await count_where(deps, t.session_peers, t.session_peers.c.workspace_id == ws_pk),
        "messages": await count_where(deps, t.messages, t.messages.c.workspace_id == ws_pk),
        "jobs": await count_where(
            deps, t.jobs, (t.jobs.c.workspace_id == ws_pk) | t.jobs.c.session_id.in_(session_pks or [-1])
        ),
    }


async def message_seqs(deps: Deps, uids: list[str]) -> list[int]:
    """The `seq` of each message uid, in the given order."""
    m = tables.messages
    async with deps.db.read() as conn:
        rows = await conn.execute(select(m.c.uid, m.c.seq).where(m.c.uid.in_(uids)))
        by_uid = {row.uid: row.seq for row in rows}
    return [by_uid[uid] for uid in uids]


async def session_jobs(deps: Deps, ws: str, session: str, kind: str | None = None) -> list[Any]:
    """Job rows of a session, oldest first (optionally of one kind)."""
    row = await session_row(deps, ws, session)
    if row is None:
        return []
    j = tables.jobs
    query = select(j).where(j.c.session_id == row.id).order_by(j.c.id)
    if kind is not None:
        query = query.where(j.c.kind == kind)
    async with deps.db.read() as conn:
        return list(await conn.execute(query))


async def memberships(deps: Deps, ws: str, session: str) -> dict[str, Any]:
    """Membership rows of a session keyed by peer name (observe_me, observe_others, left_at)."""
    row = await session_row(deps, ws, session)
    sp, p = tables.session_peers, tables.peers
    query = (
        select(p.c.name, sp.c.observe_me, sp.c.observe_others, sp.c.left_at)
        .join(p, p.c.id == sp.c.peer_id)
        .where(sp.c.session_id == row.id)
    )
    async with deps.db.read() as conn:
        return {r.name: r for r in await conn.execute(query)}


async def session_keys(deps: Deps, ws: str, session: str = "s") -> tuple[int, int]:
    """(workspace pk, session pk) of an existing session."""
    row = await session_row(deps, ws, session)
    return row.workspace_id, row.id
