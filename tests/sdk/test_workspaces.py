"""Workspaces through the SDK: implicit get-or-create, metadata, configuration, listing, deletion."""

from __future__ import annotations

import pytest
from honcho.api_types import WorkspaceConfiguration
from honcho.http.exceptions import ConflictError, NotFoundError
from sdk_helpers import CLIENT_ERRORS, eventually, unique

pytestmark = pytest.mark.sdk


def _listed(honcho, workspace_id: str) -> bool:
    return workspace_id in list(honcho.workspaces(filters={"id": workspace_id}))


def test_workspace_is_created_implicitly(honcho):
    assert not _listed(honcho, honcho.workspace_id)
    assert honcho.get_metadata() == {}
    assert _listed(honcho, honcho.workspace_id)
    assert isinstance(honcho.uid, str) and honcho.uid
    cfg = honcho.get_configuration()
    assert cfg.model_dump(exclude_none=True) == {}
    # get-or-create of an existing workspace returns it unchanged
    honcho.refresh()
    assert honcho.metadata == {}


def test_workspace_metadata_round_trip_and_replace(honcho):
    meta = {"purpose": "sdk", "n": 3, "flag": True, "nested": {"list": [1, "two", {"x": None}]}}
    honcho.set_metadata(meta)
    assert honcho.get_metadata() == meta
    honcho.set_metadata({"only": "this"})
    assert honcho.get_metadata() == {"only": "this"}  # replaced, not merged
    honcho.set_metadata({})
    assert honcho.get_metadata() == {}


def test_workspace_configuration_nested_sections_round_trip(honcho):
    honcho.set_configuration({"reasoning": {"enabled": False}, "summary": {"messages_per_short_summary": 15}})
    cfg = honcho.get_configuration()
    assert isinstance(cfg, WorkspaceConfiguration)
    assert cfg.reasoning is not None and cfg.reasoning.enabled is False
    assert cfg.summary is not None and cfg.summary.messages_per_short_summary == 15
    assert cfg.model_dump(exclude_none=True) == {
        "reasoning": {"enabled": False}, "summary": {"messages_per_short_summary": 15}}
    # metadata is untouched by a configuration update
    assert honcho.get_metadata() == {}


def test_workspace_configuration_is_shallow_merged(honcho):
    honcho.set_configuration({"reasoning": {"enabled": False},
                              "summary": {"enabled": True, "messages_per_short_summary": 15}})
    honcho.set_configuration({"dream": {"enabled": False}})
    assert honcho.get_configuration().model_dump(exclude_none=True) == {
        "reasoning": {"enabled": False},
        "summary": {"enabled": True, "messages_per_short_summary": 15},
        "dream": {"enabled": False},
    }
    # a provided section replaces the stored section wholesale (no deep merge)
    honcho.set_configuration({"summary": {"messages_per_long_summary": 40}})
    assert honcho.get_configuration().model_dump(exclude_none=True) == {
        "reasoning": {"enabled": False},
        "summary": {"messages_per_long_summary": 40},
        "dream": {"enabled": False},
    }


def test_workspace_configuration_sdk_2_7_keys_round_trip(honcho):
    """Spec 12.3 D7: custom_instructions at top level and inside every section are stored."""
    cfg = {
        "custom_instructions": "Be concise.",
        "reasoning": {"enabled": True, "custom_instructions": "Focus on preferences."},
        "peer_card": {"use": True, "create": False, "custom_instructions": "Names only."},
        "summary": {"enabled": True, "messages_per_short_summary": 10, "messages_per_long_summary": 30,
                    "custom_instructions": "Bullet points."},
        "dream": {"enabled": False, "custom_instructions": "Be careful."},
        "dialectic": {"custom_instructions": "Answer briefly."},
    }
    honcho.set_configuration(cfg)
    assert honcho.get_configuration().model_dump(exclude_none=True) == cfg


def test_workspace_configuration_invalid_summary_cadence_rejected(honcho):
    honcho.set_configuration({"summary": {"messages_per_short_summary": 12}})
    with pytest.raises(CLIENT_ERRORS):
        honcho.set_configuration({"summary": {"messages_per_short_summary": 5}})  # < 10
    with pytest.raises(CLIENT_ERRORS):
        honcho.set_configuration({"summary": {"messages_per_short_summary": 30,
                                              "messages_per_long_summary": 20}})  # short >= long
    assert honcho.get_configuration().model_dump(exclude_none=True) == {
        "summary": {"messages_per_short_summary": 12}}


def test_workspaces_listing_with_filters(server, make_client):
    tag = unique("tag")
    created = []
    for _ in range(3):
        h = make_client(server)
        h.set_metadata({"suite_tag": tag, "idx": len(created)})
        created.append(h.workspace_id)
    other = make_client(server)
    other.set_metadata({"suite_tag": unique("other")})

    lister = make_client(server)
    assert list(lister.workspaces(filters={"metadata": {"suite_tag": tag}})) == created  # created_at asc
    assert list(lister.workspaces(filters={"metadata": {"suite_tag": tag}}, reverse=True)) == created[::-1]
    assert list(lister.workspaces(filters={"id": created[1]})) == [created[1]]
    assert list(lister.workspaces(filters={"id": {"in": [created[0], created[2]]}})) == [created[0], created[2]]
    page = lister.workspaces(filters={"metadata": {"suite_tag": tag}}, size=2)
    assert page.total == 3 and page.pages == 2 and page.size == 2 and page.page == 1
    assert len(page.items) == 2
    assert list(page) == created  # iterates through page 2


def test_delete_workspace_requires_sessions_deleted_first(honcho, server, make_client):
    ws = honcho.workspace_id
    honcho.set_metadata({"old": True})
    s1 = honcho.session(unique("s"))
    s2 = honcho.session(unique("s"))
    alice = honcho.peer("alice")
    s1.add_messages([alice.message("hello")])

    with pytest.raises(ConflictError):
        honcho.delete_workspace(ws)
    assert _listed(honcho, ws)

    s1.delete()
    with pytest.raises(ConflictError):  # s2 still active
        honcho.delete_workspace(ws)
    s2.delete()
    honcho.delete_workspace(ws)

    # the deletion is asynchronous; the workspace disappears from listings
    observer = make_client(server)
    eventually(lambda: not _listed(observer, ws), what=f"workspace {ws} gone from list")

    # once purged, the id starts over as an empty workspace: nothing of the old one survives
    reborn = make_client(server, workspace_id=ws)
    assert reborn.get_metadata() == {}
    assert list(reborn.peers()) == [] and list(reborn.sessions()) == []
    assert list(reborn.session(s1.id).messages()) == []


def test_delete_unknown_workspace_is_not_found(honcho):
    with pytest.raises(NotFoundError):
        honcho.delete_workspace(unique("never-created"))
