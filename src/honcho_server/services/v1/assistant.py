"""The app's assistant peer (docs/v1-api.md §3.3): the author of v1 messages sent with `is_user=false`.

Made on first use, named `assistant`. An existing peer of that name was made through v3 (v1 never gives a user that
id, see names.RESERVED), so it is taken to be the app's AI peer already and reused as it is; a new one does not
observe itself (v1 derived facts about users only). The choice is recorded once, in `v1_apps`.
"""

from __future__ import annotations

from honcho_server.domain.models import Workspace
from honcho_server.services.deps import Deps
from honcho_server.store.repos import peers as peer_repo
from honcho_server.store.repos import v1_names as repo

NAME = "assistant"


async def ensure(deps: Deps, ws: Workspace) -> str:
    """The id of the app's assistant peer, created when missing."""
    async with deps.db.read() as conn:
        found = await repo.assistant_of(conn, ws.pk)
    if found is not None:
        return str(found.name)
    async with deps.db.write() as conn:
        found = await repo.assistant_of(conn, ws.pk)  # another request may have made it meanwhile
        if found is not None:
            return str(found.name)
        await peer_repo.insert_missing(conn, deps.db.dialect, ws.pk, [NAME], deps.now(),
                                       configuration={"observe_me": False})  # nothing when it exists
        peer = await peer_repo.find(conn, ws.pk, NAME, ws.name)
        assert peer is not None  # inserted or found, in this transaction
        await repo.set_assistant(conn, deps.db.dialect, ws.pk, peer.pk)
        return NAME
