"""`honcho-server mcp`: the stdio server a desktop agent spawns, driven by the SDK's stdio client on both databases
(confined to a peer by `--key`; admin without one), and its one-line refusals."""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

import pytest
from api_helpers import JWT_SECRET, sign
from mcp_helpers import call
from typer.testing import CliRunner

from honcho_server.cli.main import _principal_of
from honcho_server.cli.main import app as cli
from honcho_server.domain.configuration import SessionPeerConfig
from honcho_server.domain.credentials import Principal
from honcho_server.mcp import INSTALL_HINT
from honcho_server.services import messages, peer_cards, sessions
from honcho_server.services.deps import Deps
from mcp import Client, StdioServerParameters
from server_process import server_command


def _server(database_url: str, tmp_path: Path, *extra: str) -> StdioServerParameters:
    """The command a desktop agent's configuration names, with a clean environment (no developer settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HONCHO_")}
    env.update({"HONCHO_CONFIG_FILE": str(tmp_path / "no-config.toml"), "HONCHO_AUTH__JWT_SECRET": JWT_SECRET})
    command, *args = server_command()
    return StdioServerParameters(command=command, args=[*args, "mcp", "--db", database_url, *extra], env=env,
                                 cwd=str(tmp_path))


async def _seed(deps: Deps, ws: str) -> None:
    """alice and bob in s1, bob alone in s2, a card about bob (through the services, as an admin would)."""
    await sessions.get_or_create(deps, ws, "s1", None, None, {"alice": SessionPeerConfig(), "bob": SessionPeerConfig()})
    await sessions.get_or_create(deps, ws, "s2", None, None, {"bob": SessionPeerConfig()})
    await messages.create(deps, ws, "s1", [messages.NewMessage("I keep bees", "alice", {}),
                                           messages.NewMessage("I sail", "bob", {})])
    await peer_cards.put(deps, ws, "bob", None, ["Sails"])


async def test_stdio_server_confined_by_a_key(deps: Deps, database_url: str, tmp_path: Path) -> None:
    """One spawn (about 3 s of start-up): alice's key reaches her sessions and nothing else."""
    ws = f"stdio-{uuid.uuid4().hex[:8]}"
    await _seed(deps, ws)
    async with Client(_server(database_url, tmp_path, "--key", sign(w=ws, p="alice"))) as alice:
        assert len((await alice.list_tools()).tools) == 30
        is_error, text = await call(alice, "peer_card_set", {"workspace": ws, "peer": "alice", "card": ["Keeps bees"]})
        assert not is_error and json.loads(text)["card"] == ["Keeps bees"], text
        is_error, text = await call(alice, "session_messages", {"workspace": ws, "session": "s1",
                                                                "newest_first": False})
        assert [m["content"] for m in json.loads(text)["messages"]] == ["I keep bees", "I sail"]
        is_error, text = await call(alice, "session_inspect", {"workspace": ws, "session": "gone"})
        assert is_error and text.endswith("JWT not permissioned for this resource")  # no membership: refused first
        for tool, args in (("peer_card_get", {"workspace": ws, "peer": "bob"}),  # another peer's card
                           ("session_messages", {"workspace": ws, "session": "s2"}),  # a session she is not in
                           ("workspace_list", {}),
                           ("peer_list", {"workspace": ws}),
                           ("peer_context", {"workspace": "elsewhere", "peer": "alice"})):
            is_error, text = await call(alice, tool, args)
            assert is_error and text.endswith(("JWT not permissioned for this resource",
                                               "Resource requires admin privileges")), (tool, text)
            assert "Sails" not in text


def test_without_a_key_the_local_command_is_admin() -> None:
    from honcho_server.config import Settings

    assert _principal_of(Settings(), None) == Principal.anonymous_admin()


runner = CliRunner()


def test_bad_key_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HONCHO_CONFIG_FILE", str(tmp_path / "none.toml"))
    monkeypatch.setenv("HONCHO_AUTH__JWT_SECRET", JWT_SECRET)
    result = runner.invoke(cli, ["mcp", "--db", f"sqlite:///{tmp_path}/h.db", "--key", "not-a-jwt"])
    assert result.exit_code == 2
    assert result.output.strip() == "--key: Invalid JWT"
    monkeypatch.setenv("HONCHO_API_KEY", "not-a-jwt-either")  # the key may come from the SDK's variable
    result = runner.invoke(cli, ["mcp", "--db", f"sqlite:///{tmp_path}/h.db"])
    assert result.exit_code == 2 and result.output.strip() == "--key: Invalid JWT"


def test_without_the_sdk_mcp_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mcp", None)  # as if the [mcp] extra were not installed
    result = runner.invoke(cli, ["mcp", "--db", f"sqlite:///{tmp_path}/h.db"])
    assert result.exit_code == 2
    assert result.output.strip() == f"honcho-server mcp: {INSTALL_HINT}"
    assert "pip install 'honcho-server[mcp]'" in result.output


