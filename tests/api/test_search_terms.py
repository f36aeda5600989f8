"""Which words the full-text side of search uses: the workspace's peer names are left out (they are indexed with
every message their peer wrote, so within the workspace they are close to stop words), unless nothing else is
left. Checked on the lexical ranking alone (no query vector), on both databases."""

from __future__ import annotations

import httpx
from api_helpers import add_messages, msg

from honcho_server.search.messages import MessageQuery, search_messages
from honcho_server.services.deps import Deps
from honcho_server.store.repos import search as search_repo
from honcho_server.store.repos import workspaces as workspace_repo

POTTERY = "Mel took a pottery class last weekend"


async def _seed(client: httpx.AsyncClient, ws: str) -> None:
    chatter = [msg("Caroline", f"Caroline here again with note number {i}") for i in range(12)]
    await add_messages(client, ws, "s1", [*chatter, msg("Mel", POTTERY)])


async def _lexical(deps: Deps, ws: str, text: str) -> list[str]:
    async with deps.db.read() as conn:
        found = await workspace_repo.find(conn, ws)
        assert found is not None
        query = MessageQuery(text=text, workspace_pk=found.pk, workspace_name=ws, filters=None, limit=50)
    return [m.content for m in await search_messages(deps.db, query, vector=None)]


async def test_peer_names_are_not_search_words(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await _seed(client, ws)
    # "caroline" is a peer of this workspace: only the pottery message shares a word with the question.
    assert await _lexical(deps, ws, "What did Caroline say about pottery?") == [POTTERY]
    # A question made of peer names only still searches by them (the pottery message through its context,
    # the turn before it, which Caroline wrote: weighted lower than a message's own words).
    hits = await _lexical(deps, ws, "caroline")
    assert len(hits) == 13 and hits[-1] == POTTERY


async def test_peer_name_words_by_exact_name_in_usual_casings(
    client: httpx.AsyncClient, deps: Deps, ws: str,
) -> None:
    await _seed(client, ws)
    async with deps.db.read() as conn:
        found = await workspace_repo.find(conn, ws)
        assert found is not None
        words = ["caroline", "mel", "pottery", "carol"]
        assert await search_repo.peer_name_words(conn, found.pk, words) == {"caroline", "mel"}
        assert await search_repo.peer_name_words(conn, found.pk, []) == set()
        assert await search_repo.peer_name_words(conn, found.pk + 10**9, words) == set()
