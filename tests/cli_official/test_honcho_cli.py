"""The official `honcho-cli` (its `honcho` command, run as a subprocess the way a user runs it) against a live
server with auth on (`app_server`): pointed at the server with `honcho init`, then its workspace, peer, session,
message and conclusion commands, each checked on its JSON output and on what the server then holds (read back with
the honcho-ai SDK). The CLI's config goes to a temporary HONCHO_CONFIG_DIR (and HOME), never the real home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from honcho import Honcho
from sdk_helpers import unique

from app_server import AppServer

pytest.importorskip("honcho_cli", reason="honcho-cli is in the [test] extra")
pytestmark = pytest.mark.sdk

HONCHO = Path(sys.executable).with_name("honcho")
# Settings the CLI (and the SDK under it) read from the environment; a developer's shell must not leak in.
_CLI_ENV = ("HONCHO_API_KEY", "HONCHO_BASE_URL", "HONCHO_URL", "HONCHO_WORKSPACE_ID", "HONCHO_PEER_ID",
            "HONCHO_SESSION_ID", "HONCHO_JSON", "HONCHO_CONFIG_DIR")


@dataclass
class Result:
    code: int
    out: Any  # stdout as JSON (None when empty)
    err: str


class Cli:
    """Runs `honcho ARGS` with its own HOME and config directory."""

    def __init__(self, home: Path) -> None:
        self.config_dir = home / ".honcho"
        self.env = {k: v for k, v in os.environ.items() if k not in _CLI_ENV}
        self.env |= {"HOME": str(home), "HONCHO_CONFIG_DIR": str(self.config_dir), "HONCHO_NO_UPDATE_CHECK": "1"}

    def __call__(self, *args: str, key: str | None = None, ok: bool = True, **env_vars: str) -> Result:
        env = self.env | ({"HONCHO_API_KEY": key} if key else {}) | env_vars
        done = subprocess.run([str(HONCHO), *args], env=env, capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
        if ok:
            assert done.returncode == 0, f"honcho {' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
        return Result(done.returncode, json.loads(done.stdout) if done.stdout.strip() else None, done.stderr)

    def each(self, *commands: tuple[str, ...], key: str | None = None, ok: bool = True) -> list[Result]:
        """Independent commands, run at the same time (each CLI start costs about half a second)."""
        with ThreadPoolExecutor(len(commands)) as pool:
            return list(pool.map(lambda args: self(*args, key=key, ok=ok), commands))


@dataclass
class Setup:
    server: AppServer
    admin: str
    cli: Cli

    def sdk(self, workspace_id: str) -> Honcho:
        return Honcho(base_url=self.server.base_url, api_key=self.admin, workspace_id=workspace_id, max_retries=0)


@pytest.fixture(scope="module")
def setup(app_server: AppServer, backend: str, tmp_path_factory: pytest.TempPathFactory) -> Setup:
    if not HONCHO.exists():
        pytest.skip(f"honcho-cli's command is missing next to {sys.executable}")
    cli = Cli(tmp_path_factory.mktemp(f"cli-home-{backend}"))
    admin = app_server.admin_key
    # A new user's first step: point the CLI at the server, with a key as auth is on.
    saved = cli("init", "--base-url", app_server.base_url, "--api-key", admin, "--json").out
    assert saved == {"apiKey": "***" + admin[-4:], "baseUrl": app_server.base_url}
    return Setup(app_server, admin, cli)


def test_init_writes_its_config_to_the_given_directory(setup: Setup) -> None:
    config = json.loads((setup.cli.config_dir / "config.json").read_text())
    assert config == {"environmentUrl": setup.server.base_url, "apiKey": setup.admin}
    # `doctor` takes its workspace from the environment only (it has no -w option).
    report = setup.cli("doctor", "--json", HONCHO_WORKSPACE_ID=unique("ws")).out
    assert {c["check"]: c["ok"] for c in report["checks"]} == {
        "Config file": True, "Credentials configured": True, "API connectivity": True,
        "Workspace reachable": True, "Queue health": True}


def test_workspace_and_peer_commands(setup: Setup) -> None:
    cli, ws = setup.cli, unique("ws")
    assert cli("workspace", "create", ws, "--metadata", '{"team": "support"}', "--json").out == {
        "workspace_id": ws, "metadata": {"team": "support"}}
    alice, bot = cli.each(("peer", "create", "alice", "--metadata", '{"plan": "pro"}', "-w", ws, "--json"),
                          ("peer", "create", "bot", "--no-observe-me", "-w", ws, "--json"))
    assert alice.out == {"peer_id": "alice", "metadata": {"plan": "pro"}, "configuration": {"observe_me": None}}
    assert bot.out["configuration"] == {"observe_me": False}
    workspaces, peers = cli.each(("workspace", "list", "--json"), ("peer", "list", "-w", ws, "--json"))
    assert {"id": ws} in workspaces.out
    listed = peers.out
    assert sorted((p["id"], p["metadata"], p["configuration"]) for p in listed) == [  # created at the same time
        ("alice", {"plan": "pro"}, {"observe_me": None}), ("bot", {}, {"observe_me": False})]

    sdk = setup.sdk(ws)
    assert sdk.get_metadata() == {"team": "support"}
    assert sdk.peer("alice").get_metadata() == {"plan": "pro"}
    assert sdk.peer("bot").get_configuration().observe_me is False


def test_session_and_message_commands(setup: Setup) -> None:
    cli, ws = setup.cli, unique("ws")
    assert cli("session", "create", "s1", "--peers", "alice,bot", "--metadata", '{"topic": "billing"}', "-w", ws,
               "--json").out == {"session_id": "s1", "metadata": {"topic": "billing"}, "peers": ["alice", "bot"]}
    first = cli("message", "create", "My card was charged twice", "-p", "alice", "-s", "s1", "-w", ws,
                "--metadata", '{"channel": "chat"}', "--json").out
    sdk = setup.sdk(ws)
    session = sdk.session("s1")
    session.add_messages([sdk.peer("bot").message("Sorry, let me check the charge")])
    listed, got, context, found = cli.each(
        ("message", "list", "s1", "-w", ws, "--json"),
        # `--`: an id may start with "-" (nanoid alphabet), which the CLI would take for an option.
        ("message", "get", "-s", "s1", "-w", ws, "--json", "--", first["id"]),
        ("session", "context", "s1", "-w", ws, "--json"),
        ("workspace", "search", "charged twice", "-w", ws, "--json"))
    assert [(m["peer_id"], m["content"], m["metadata"]) for m in listed.out] == [
        ("alice", "My card was charged twice", {"channel": "chat"}), ("bot", "Sorry, let me check the charge", {})]
    assert got.out["content"] == "My card was charged twice"
    assert [m["id"] for m in context.out["messages"]] == [m["id"] for m in listed.out]
    assert first["id"] in [m["id"] for m in found.out]

    assert session.get_metadata() == {"topic": "billing"}
    assert [p.id for p in session.peers()] == ["alice", "bot"]
    assert [(m.peer_id, m.content) for m in session.messages()] == [(m["peer_id"], m["content"]) for m in listed.out]


def test_conclusion_commands(setup: Setup) -> None:
    cli, ws = setup.cli, unique("ws")
    sdk = setup.sdk(ws)
    sdk.session("s1").add_peers(["alice", "bot"])
    made = cli("conclusion", "create", "Alice prefers email over phone", "--observer", "bot", "--observed", "alice",
               "-s", "s1", "-w", ws, "--json").out
    assert (made["observer_id"], made["observed_id"], made["session_id"]) == ("bot", "alice", "s1")
    listed, hits = cli.each(
        ("conclusion", "list", "--observer", "bot", "--observed", "alice", "--level", "explicit", "-w", ws, "--json"),
        ("conclusion", "search", "email", "--observer", "bot", "--observed", "alice", "-w", ws, "--json"))
    assert [(c["id"], c["level"], c["times_derived"]) for c in listed.out] == [(made["id"], "explicit", 1)]
    assert [c["id"] for c in hits.out] == [made["id"]]
    assert "Alice prefers email over phone" in sdk.peer("bot").representation(target="alice")

    assert cli("conclusion", "delete", "--observer", "bot", "--observed", "alice", "-y", "-w", ws, "--json", "--",
               made["id"]).out == {"deleted": made["id"]}
    assert sdk.peer("bot").conclusions_of("alice").list().items == []


def test_a_workspace_key_reaches_its_workspace_only(setup: Setup) -> None:
    ws = unique("ws")
    setup.sdk(ws).peer("alice", metadata={})
    minted = httpx.post(f"{setup.server.base_url}/v3/keys", params={"workspace_id": ws},
                        headers={"Authorization": f"Bearer {setup.admin}"})
    key = minted.json()["key"]
    # HONCHO_API_KEY wins over the key `honcho init` saved.
    own, other = setup.cli.each(("peer", "list", "-w", ws, "--json"), ("peer", "list", "-w", unique("ws"), "--json"),
                                key=key, ok=False)
    assert own.code == 0 and [p["id"] for p in own.out] == ["alice"]
    assert other.code == 3 and json.loads(other.err)["error"]["code"] == "AUTH_ERROR"
