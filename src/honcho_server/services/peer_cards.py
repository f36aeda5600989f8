"""Peer cards (spec 6.7-6.8): the short list of stable facts one peer keeps about another."""

from __future__ import annotations

from honcho_server.domain.credentials import Principal
from honcho_server.errors import NotFound
from honcho_server.services import peers, workspaces
from honcho_server.services.conclusions import check_not_scope
from honcho_server.services.deps import Deps
from honcho_server.store.repos import peer_cards as repo
from honcho_server.store.repos import peers as peer_repo


async def get(deps: Deps, workspace_name: str, observer: str, target: str | None, generation: str | None = None
              ) -> list[str] | None:
    """The card `observer` keeps about `target` (itself by default) in the active generation (or the one
    `generation` names); None when there is none. NotFound when the observer does not exist."""
    observed = target or observer
    check_not_scope("target", observed)
    async with deps.db.read() as conn:
        ws = await workspaces.serving(conn, workspace_name, generation)
        rows = await peer_repo.find_many(conn, ws.pk, [observer, observed]) if ws else {}
        if observer not in rows:
            raise NotFound(f"Peer {observer} not found in workspace {workspace_name}")
        if ws is None or observed not in rows:
            return None
        return await repo.get(conn, ws.generation_pk, rows[observer].id, rows[observed].id)


async def put(deps: Deps, workspace_name: str, observer: str, target: str | None, entries: list[str], *,
              caller: Principal | None = None) -> list[str]:
    """Replace the whole card. The workspace and both peers are created when missing (a card about a peer
    that has not spoken yet is a normal thing to write), except by a peer key: its own peer only."""
    observed = target or observer
    check_not_scope("peer", observer)
    check_not_scope("target", observed)
    async with deps.db.write() as conn:
        ws = await workspaces.ensure(conn, deps, workspace_name)
        rows = await peers.ensure_many(conn, deps, ws.pk, [observer, observed], caller=caller)
        await repo.put(conn, deps.db.dialect, ws.pk, ws.generation_pk, rows[observer].id, rows[observed].id, entries,
                       deps.now())
    return entries
