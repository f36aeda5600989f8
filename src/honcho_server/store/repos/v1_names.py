"""Rows of the v1 API's names: app and user aliases (v1 names that are not their v3 ids) and each app's assistant."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.store.dialect import Dialect
from honcho_server.store.tables import peers, v1_apps, v1_users, workspaces

# ---- apps ------------------------------------------------------------------------------------------------------


async def app_aliases(conn: AsyncConnection, workspace_pks: Iterable[int]) -> dict[int, str]:
    """The alias of each of the workspaces that has one."""
    pks = list(workspace_pks)
    if not pks:
        return {}
    query = select(v1_apps.c.workspace_id, v1_apps.c.name).where(
        v1_apps.c.workspace_id.in_(pks), v1_apps.c.name.is_not(None))
    return {row.workspace_id: row.name for row in await conn.execute(query)}


async def workspace_of_alias(conn: AsyncConnection, name: str) -> str | None:
    """The id (v3 name) of the workspace whose v1 name is the alias `name`."""
    query = (select(workspaces.c.name).join(v1_apps, v1_apps.c.workspace_id == workspaces.c.id)
             .where(v1_apps.c.name == name))
    return (await conn.execute(query)).scalar_one_or_none()


async def set_app_alias(conn: AsyncConnection, dialect: Dialect, workspace_pk: int, name: str | None) -> None:
    """Set (or with None clear) the workspace's alias; the row stays while it also names an assistant."""
    stmt = dialect.insert(v1_apps).values(workspace_id=workspace_pk, name=name)
    await conn.execute(stmt.on_conflict_do_update(index_elements=["workspace_id"], set_={"name": name}))


async def assistant_of(conn: AsyncConnection, workspace_pk: int) -> Any:
    """The peer row of the app's assistant, or None while it has none (or it was deleted)."""
    query = (select(peers).join(v1_apps, v1_apps.c.assistant_peer_id == peers.c.id)
             .where(v1_apps.c.workspace_id == workspace_pk))
    return (await conn.execute(query)).first()


async def set_assistant(conn: AsyncConnection, dialect: Dialect, workspace_pk: int, peer_pk: int) -> None:
    stmt = dialect.insert(v1_apps).values(workspace_id=workspace_pk, assistant_peer_id=peer_pk)
    await conn.execute(stmt.on_conflict_do_update(index_elements=["workspace_id"],
                                                  set_={"assistant_peer_id": peer_pk}))


# ---- users -----------------------------------------------------------------------------------------------------


async def user_aliases(conn: AsyncConnection, peer_pks: Iterable[int]) -> dict[int, str]:
    pks = list(peer_pks)
    if not pks:
        return {}
    query = select(v1_users.c.peer_id, v1_users.c.name).where(v1_users.c.peer_id.in_(pks))
    return {row.peer_id: row.name for row in await conn.execute(query)}


async def peer_of_alias(conn: AsyncConnection, workspace_pk: int, name: str) -> str | None:
    """The id (v3 name) of the workspace's peer whose v1 name is the alias `name`."""
    query = (select(peers.c.name).join(v1_users, v1_users.c.peer_id == peers.c.id)
             .where(v1_users.c.workspace_id == workspace_pk, v1_users.c.name == name))
    return (await conn.execute(query)).scalar_one_or_none()


async def set_user_alias(conn: AsyncConnection, dialect: Dialect, workspace_pk: int, peer_pk: int,
                         name: str | None) -> None:
    """Set (or with None remove) the peer's alias."""
    if name is None:
        await conn.execute(delete(v1_users).where(v1_users.c.peer_id == peer_pk))
        return
    found = await conn.execute(update(v1_users).where(v1_users.c.peer_id == peer_pk).values(name=name))
    if not found.rowcount:
        await conn.execute(dialect.insert(v1_users).values(peer_id=peer_pk, workspace_id=workspace_pk, name=name))
