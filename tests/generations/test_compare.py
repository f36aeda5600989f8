"""Comparing two generations (`GET .../generations/compare`): rows written straight into each generation, then the
comparison must show what only one holds, what is the same fact reworded, how the cards changed, which summaries
differ, and each one's usage; bounded, and confined to one peer when asked."""

from __future__ import annotations

import httpx
from api_helpers import expect
from generation_helpers import (
    ADMIN,
    add_generation,
    gen_url,
    keys,
    make_world,
    new_ws,
    put_card,
    put_conclusion,
    put_llm_call,
    put_summary,
    vector,
)

from honcho_server.services import generation_compare
from honcho_server.services.deps import Deps


def _pair(found: dict, observer: str, observed: str) -> dict:
    (pair,) = [p for p in found["pairs"] if (p["observer"], p["observed"]) == (observer, observed)]
    return pair


def _contents(side: dict) -> set[str]:
    return {c["content"] for c in side["listed"]}


async def test_compare_shows_the_differences_of_two_generations(gc: httpx.AsyncClient, gen_deps: Deps) -> None:
    ws = new_ws()
    await make_world(gc, ws)
    k = await keys(gen_deps, ws)
    a, b = k.active, (await add_generation(gen_deps, k.ws)).pk
    # the same fact in both (the fingerprint ignores case and a final full stop)
    await put_conclusion(gen_deps, k, a, "alice", "bob", "Bob likes tea")
    await put_conclusion(gen_deps, k, b, "alice", "bob", "bob likes tea.")
    # the same fact reworded: near-duplicates by their vectors
    await put_conclusion(gen_deps, k, a, "alice", "bob", "Bob has a dog", embedding=vector(1, 0.1))
    await put_conclusion(gen_deps, k, b, "alice", "bob", "Bob owns a dog", embedding=vector(1, 0.12))
    # different facts, far apart
    await put_conclusion(gen_deps, k, a, "alice", "bob", "Bob lives in Oslo", embedding=vector(0, 1))
    await put_conclusion(gen_deps, k, b, "alice", "bob", "Bob plays chess", level="deductive",
                         embedding=vector(0, 0, 1))
    # superseded conclusions are history: not compared
    await put_conclusion(gen_deps, k, b, "alice", "bob", "Bob lived in Rome", superseded=True)
    # a pair only b has
    await put_conclusion(gen_deps, k, b, "bob", "bob", "Bob is a teacher")
    await put_card(gen_deps, k, a, "bob", "bob", ["Name: Bob", "Lives in Oslo"])
    await put_card(gen_deps, k, b, "bob", "bob", ["Name: Bob", "Teacher"])
    await put_summary(gen_deps, k, a, "s1", "short", "old text", 2)
    await put_summary(gen_deps, k, a, "s1", "short", "Alice and Bob talked.", 4)
    await put_summary(gen_deps, k, b, "s1", "short", "Alice and Bob talked about tea.", 4)
    await put_summary(gen_deps, k, a, "s2", "short", "Bob alone.", 2)
    await put_summary(gen_deps, k, b, "s2", "short", "Bob alone.", 2)
    await put_llm_call(gen_deps, k, b, 1200, 300, 0.004)

    found = expect(await gc.get(gen_url(ws, "compare"), params={"a": "g1", "b": "g2"}, headers=ADMIN), 200)
    assert (found["a"]["id"], found["b"]["id"], found["peer"]) == ("g1", "g2", None)
    assert found["b"]["usage"]["calls"] == 1 and found["a"]["usage"]["calls"] == 0
    about_bob = _pair(found, "alice", "bob")
    assert about_bob["levels"] == {"a": {"explicit": 3}, "b": {"explicit": 2, "deductive": 1}}
    assert _contents(about_bob["only_in_a"]) == {"Bob has a dog", "Bob lives in Oslo"}
    assert about_bob["only_in_a"]["count"] == 2
    assert _contents(about_bob["only_in_b"]) == {"Bob owns a dog", "Bob plays chess"}
    near = about_bob["near_duplicates"]
    assert near["count"] == 1 and near["complete"]
    assert (near["listed"][0]["a"]["content"], near["listed"][0]["b"]["content"]) == ("Bob has a dog",
                                                                                       "Bob owns a dog")
    assert 0.9 <= near["listed"][0]["similarity"] <= 1.0
    own = _pair(found, "bob", "bob")
    assert own["levels"] == {"a": {}, "b": {"explicit": 1}} and own["only_in_b"]["count"] == 1
    assert own["card"] == {"a_entries": 2, "b_entries": 2, "added": ["Teacher"], "removed": ["Lives in Oslo"]}
    assert about_bob["card"] == {"a_entries": None, "b_entries": None, "added": [], "removed": []}
    assert found["pairs_total"] == 2 and found["sessions_total"] == 2
    assert found["summaries"] == [  # the sessions that differ first; the newest summary of each kind compared
        {"session": "s1", "short": {"a_length": 21, "b_length": 31, "differs": True},
         "long": {"a_length": None, "b_length": None, "differs": False}},
        {"session": "s2", "short": {"a_length": 10, "b_length": 10, "differs": False},
         "long": {"a_length": None, "b_length": None, "differs": False}}]

    # confined to the memory about one peer (and the sessions it was in)
    about_alice = expect(await gc.get(gen_url(ws, "compare"), params={"a": "g1", "b": "g2", "peer": "alice"},
                                headers=ADMIN), 200)
    assert about_alice["pairs"] == [] and [s["session"] for s in about_alice["summaries"]] == ["s1"]
    bob = expect(await gc.get(gen_url(ws, "compare"), params={"a": "g1", "b": "g2", "peer": "bob"},
                              headers=ADMIN), 200)
    assert {(p["observer"], p["observed"]) for p in bob["pairs"]} == {("alice", "bob"), ("bob", "bob")}
    # the other way round: what b lacks is listed as only in a
    swapped = expect(await gc.get(gen_url(ws, "compare"), params={"a": "g2", "b": "g1"}, headers=ADMIN), 200)
    assert _contents(_pair(swapped, "alice", "bob")["only_in_b"]) == {"Bob has a dog", "Bob lives in Oslo"}
    assert _pair(swapped, "bob", "bob")["card"]["added"] == ["Lives in Oslo"]


async def test_compare_refuses_unknown_generations_and_peers(gc: httpx.AsyncClient, gen_deps: Deps) -> None:
    ws = new_ws()
    await make_world(gc, ws)
    for params, word in (({"a": "g1", "b": "g5"}, "g5"), ({"a": "zz", "b": "g1"}, "zz"),
                         ({"a": "g1", "b": "g1", "peer": "mallory"}, "mallory")):
        assert word in expect(await gc.get(gen_url(ws, "compare"), params=params, headers=ADMIN), 404)["detail"]
    expect(await gc.get(gen_url(ws, "compare"), params={"a": "g1"}, headers=ADMIN), 422)
    same = expect(await gc.get(gen_url(ws, "compare"), params={"a": "g1", "b": "g1"}, headers=ADMIN), 200)
    assert same["pairs"] == [] and same["summaries"] == []


async def test_compare_is_bounded(gc: httpx.AsyncClient, gen_deps: Deps) -> None:
    ws = new_ws()
    await make_world(gc, ws)
    k = await keys(gen_deps, ws)
    b = (await add_generation(gen_deps, k.ws)).pk
    for i in range(generation_compare.LISTED + 7):
        await put_conclusion(gen_deps, k, b, "alice", "bob", f"fact number {i}")
    found = expect(await gc.get(gen_url(ws, "compare"), params={"a": "g1", "b": "g2"}, headers=ADMIN), 200)
    side = _pair(found, "alice", "bob")["only_in_b"]
    assert side["count"] == generation_compare.LISTED + 7 and len(side["listed"]) == generation_compare.LISTED


def test_near_duplicates_pair_greedily_the_most_alike_first() -> None:
    """Each conclusion in one pair at most, the most alike pairs first; vectors of another size or missing are
    not compared."""
    left = [vector(1, 0), vector(1, 0.3), vector(0, 1), None, vector(1, 0, size=4)]
    right = [vector(1, 0.05), vector(0, 0, 1), vector(1, 0.01, size=4)]
    found = generation_compare.near_pairs(left, right, 0.9)
    # left 0 and left 1 both resemble right 0; left 0 is nearer and takes it; left 1 stays unpaired
    assert [(i, j) for i, j, _ in found] == [(4, 2), (0, 0)]
    assert all(score >= 0.9 for _, _, score in found) and found[0][2] >= found[1][2]
    assert generation_compare.near_pairs([vector(1, 0)], [vector(0.7, 0.7)], 0.9) == []
    assert generation_compare.near_pairs([], [vector(1)], 0.9) == []
