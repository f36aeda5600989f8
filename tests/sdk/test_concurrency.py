"""Parallel SDK clients: get-or-create races and concurrent writers must not produce errors or lose data."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sdk_helpers import contents, ids, unique

pytestmark = pytest.mark.sdk

WORKERS = 8


def _run(n: int, fn):
    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(fn, range(n)))


def test_concurrent_get_or_create_of_the_same_objects(server, make_client):
    ws = unique("race")
    clients = [make_client(server, workspace_id=ws) for _ in range(WORKERS)]

    def work(i: int):
        h = clients[i]
        peer = h.peer("shared-peer", metadata={"writer": i})
        session = h.session("shared-session", peers=["shared-peer"])
        return peer.uid, session.uid

    results = _run(WORKERS, work)  # any exception (409, 5xx, ...) fails the test here
    assert len({p for p, _ in results}) == 1 and len({s for _, s in results}) == 1
    h = clients[0]
    assert ids(h.peers()) == ["shared-peer"]
    assert ids(h.sessions()) == ["shared-session"]
    assert list(h.workspaces(filters={"id": ws})) == [ws]


def test_concurrent_writers_to_one_session(server, make_client):
    ws = unique("writers")
    clients = [make_client(server, workspace_id=ws) for _ in range(WORKERS)]
    per_writer = 3
    batch = 5

    def work(i: int):
        s = clients[i].session("busy")
        author = clients[i].peer(f"writer{i}")
        for b in range(per_writer):
            s.add_messages([author.message(f"w{i} b{b} m{m}") for m in range(batch)])

    _run(WORKERS, work)
    listed = list(clients[0].session("busy").messages())
    assert len(listed) == WORKERS * per_writer * batch
    # each batch is contiguous and every writer's messages keep their order
    for i in range(WORKERS):
        mine = [c for c in contents(listed) if c.startswith(f"w{i} ")]
        assert mine == [f"w{i} b{b} m{m}" for b in range(per_writer) for m in range(batch)]
    text = contents(listed)
    for i in range(WORKERS):
        for b in range(per_writer):
            start = text.index(f"w{i} b{b} m0")
            assert text[start:start + batch] == [f"w{i} b{b} m{m}" for m in range(batch)]
    assert {p.id for p in clients[0].session("busy").peers()} == {f"writer{i}" for i in range(WORKERS)}
