"""`serve --processes N`: several stateless API processes on one port agree on everything they store."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sdk_helpers import contents, unique

pytestmark = pytest.mark.sdk


def test_concurrent_writers_across_processes_keep_order_and_lose_nothing(multi_process_server, make_client):
    ws = unique("ws")
    session_id = unique("s")

    def write(writer: int) -> None:
        honcho = make_client(multi_process_server, workspace_id=ws)
        session = honcho.session(session_id)
        peer = honcho.peer(f"writer-{writer}")
        for i in range(15):
            session.add_messages([peer.message(f"{writer}:{i}")])

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(write, range(6)))

    honcho = make_client(multi_process_server, workspace_id=ws)
    messages = list(honcho.session(session_id).messages())
    assert len(messages) == 90
    for writer in range(6):  # each writer's messages keep their order
        mine = [c for c in contents(messages) if c.startswith(f"{writer}:")]
        assert mine == [f"{writer}:{i}" for i in range(15)]
    assert honcho.queue_status().total_work_units >= 90 // 15
