"""Runs an example as a user would (a subprocess, settings from the environment) and reads what its model was
sent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from honcho import Honcho

from app_server import AppServer
from fake_openai import FakeOpenAI

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
APP_MODEL = "example-model"  # the model name the examples are given: their requests are the ones named so


def app_requests(model: FakeOpenAI) -> list[dict[str, Any]]:
    return [r for r in model.chat_requests if r.get("model") == APP_MODEL]


def sdk(server: AppServer, workspace_id: str) -> Honcho:
    return Honcho(base_url=server.base_url, api_key=server.admin_key, workspace_id=workspace_id, max_retries=0)


def run_example(name: str, server: AppServer, model: FakeOpenAI, *args: str) -> str:
    """Run examples/NAME with ARGS; its stdout (asserting it exited 0)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HONCHO_", "OPENAI_"))}
    env |= {"HONCHO_URL": server.base_url, "HONCHO_API_KEY": server.admin_key,
            "OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": "sk-test", "OPENAI_MODEL": APP_MODEL}
    done = subprocess.run([sys.executable, str(EXAMPLES / name), *args], env=env, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"{name} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout
