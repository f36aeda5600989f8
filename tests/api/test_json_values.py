"""JSON values at the edges: integers beyond 64 bits survive exactly; NaN and Infinity are refused."""

from __future__ import annotations

import httpx
import pytest
from api_helpers import expect, messages_url, ws_url

BIG = 123456789012345678901234567890
RAW = {"content-type": "application/json"}


async def test_big_integers_round_trip_exactly(client: httpx.AsyncClient, ws: str) -> None:
    body = f'{{"id": "{ws}", "metadata": {{"big": {BIG}, "neg": -{BIG}}}}}'
    created = expect(await client.post("/v3/workspaces", content=body, headers=RAW), 201)
    assert created["metadata"] == {"big": BIG, "neg": -BIG}
    listed = expect(await client.post("/v3/workspaces/list", json={"filters": {"id": ws}}), 200)
    assert listed["items"][0]["metadata"] == {"big": BIG, "neg": -BIG}


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
async def test_non_finite_numbers_are_refused(client: httpx.AsyncClient, ws: str, literal: str) -> None:
    template = '{"messages": [{"peer_id": "alice", "content": "x", "metadata": {"v": LITERAL}}]}'
    body = template.replace("LITERAL", literal)
    detail = expect(await client.post(messages_url(ws, "s1"), content=body, headers=RAW), 422)["detail"]
    assert "NaN or Infinity" in detail[0]["msg"]
    assert expect(await client.post(ws_url(ws, "sessions", "list")), 200)["total"] == 0
