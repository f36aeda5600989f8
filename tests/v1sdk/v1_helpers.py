"""The v1 suite's machinery (tests/v1sdk/conftest.py has the fixtures): the SDKs' virtualenvs, the driver process
and the `V1` proxy tests call it through, `V1Error` for what the SDK raised, `eventually` to wait on the worker."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import support
from file_lock import file_lock

V1_DIR = Path(__file__).resolve().parent
VERSIONS = ("0.0.19", "0.2.0")
DRIVER = V1_DIR / "driver.py"
PIP_TIMEOUT = 600.0
ANSWER_TIMEOUT = 180.0  # one SDK call (its own timeout is 60 s a request)
READY_TIMEOUT = 60.0


# --------------------------------------------------------------------------------------------------
# The virtualenvs
# --------------------------------------------------------------------------------------------------
def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "honcho-server-tests"


def base_python() -> str:
    """The interpreter running pytest, outside any virtualenv it runs in (a venv made from a venv's python would point
    at that venv)."""
    return getattr(sys, "_base_executable", None) or sys.executable


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _marker_text(version: str, python: str) -> str:
    return f"honcho-ai=={version}\n{python}\n{sys.version.split()[0]}\n"


def ensure_venv(version: str) -> Path:
    """The python of a venv holding `honcho-ai==<version>`: made (under the lock) unless the marker says it is there."""
    venv = cache_root() / f"v1sdk-{version}"
    marker = venv / ".honcho-server-installed"
    python = base_python()
    expected = _marker_text(version, python)
    with file_lock(f"v1sdk-{version}", per_checkout=False):  # the cache is per machine, not per checkout
        if marker.is_file() and marker.read_text() == expected and _venv_python(venv).exists():
            return _venv_python(venv)
        shutil.rmtree(venv, ignore_errors=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PIP_REQUIRE"))}
        steps = [[python, "-m", "venv", str(venv)],
                 [str(_venv_python(venv)), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                  "--no-input", f"honcho-ai=={version}"]]
        for step in steps:
            try:
                done = subprocess.run(step, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                      timeout=PIP_TIMEOUT, check=False)
            except subprocess.TimeoutExpired as e:
                pytest.fail(f"making the venv of honcho-ai=={version} timed out: {' '.join(step)}\n{e.stdout}\n"
                            f"{e.stderr}", pytrace=False)
            if done.returncode != 0:
                pytest.fail(f"making the venv of honcho-ai=={version} in {venv} failed ({done.returncode}): "
                            f"{' '.join(step)}\n--- stdout ---\n{done.stdout[-4000:]}\n--- stderr ---\n"
                            f"{done.stderr[-4000:]}", pytrace=False)
        marker.write_text(expected)
    return _venv_python(venv)


# --------------------------------------------------------------------------------------------------
# The driver and its proxy
# --------------------------------------------------------------------------------------------------
class V1Error(Exception):
    """What the SDK raised: `type` is its exception class (`NotFoundError`, `APIResponseValidationError`,
    `TypeError`...), `status` the HTTP status when there was a response, `body` the SDK's `.body`, `headers` the
    response's."""

    def __init__(self, error: dict[str, Any], requests: list[list[str]]) -> None:
        self.type: str = error.get("type", "")
        self.status: int | None = error.get("status")
        self.body: Any = error.get("body")
        self.headers: dict[str, str] = error.get("headers") or {}
        self.message: str = error.get("message", "")
        self.requests = requests
        super().__init__(f"{self.type} {self.status}: {self.message}" + (f"\n{error['traceback']}"
                                                                          if error.get("traceback") else ""))

    @property
    def detail(self) -> Any:
        assert isinstance(self.body, dict) and "detail" in self.body, f"no JSON detail: {self.body!r}"
        return self.body["detail"]


class Obj(dict[str, Any]):
    """A JSON object read like the SDK's models: `msg.is_user` as well as `msg["is_user"]`."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass
class Answer:
    result: Any
    result_type: str
    created_at_types: list[str]
    requests: list[list[str]]


class DriverProcess:
    """One `driver.py` under one SDK's venv; `ask(command)` sends a command and returns its answer."""

    def __init__(self, python: Path, version: str, base_url: str, api_key: str | None, log_dir: Path) -> None:
        self.version = version
        self.python = python
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HONCHO_", "PYTHON", "VIRTUAL_ENV"))}
        cmd = [str(python), "-I", str(DRIVER), "--base-url", base_url]  # -I: nothing of this checkout on sys.path
        if api_key is not None:
            cmd += ["--api-key", api_key]
        self.stderr_path = log_dir / f"driver-{version}-{os.getpid()}-{id(self)}.log"
        self._stderr = open(self.stderr_path, "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                     text=True, bufsize=1, env=env)
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True, name=f"v1-driver-{version}").start()
        ready = self._next(READY_TIMEOUT)
        if not ready.get("ready") or ready.get("version") != version:
            self.close()
            pytest.fail(f"the v1 driver for {version} did not start: {ready}\n{self._stderr_tail()}", pytrace=False)
        self.info = ready

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _stderr_tail(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def _next(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the v1 driver ({self.version}) gave no answer in {timeout:.0f}s\n"
                                 f"{self._stderr_tail()}") from None
        if line is None:
            raise AssertionError(f"the v1 driver ({self.version}) exited ({self.proc.poll()})\n{self._stderr_tail()}")
        return json.loads(line, object_hook=Obj)

    def ask(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return self._next(ANSWER_TIMEOUT)

    def close(self) -> None:
        if self.proc.poll() is None:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._stderr.close()


def unique(prefix: str) -> str:
    """A fresh id that is also a valid v3 name (`^[a-zA-Z0-9_-]+$`)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


V3_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")


def dt(value: str) -> dict[str, str]:
    """A `datetime` argument for the driver (JSON has none)."""
    return {"$datetime": value}


@dataclass
class V1:
    """The proxy: `v1.call("apps.create", name="x")` is `client.apps.create(name="x")` in the SDK of `v1.version`.

    Results are JSON (objects readable as attributes); an SDK exception is raised here as `V1Error`. Every result's
    `created_at`s must have parsed to `datetime`. `v1.last` is the last call's full answer (the requests it sent...).
    `with_options(api_key=..., lenient=True, async_=True, max_retries=2, base_url=...)` is the same driver with
    another client."""

    driver: DriverProcess
    options: dict[str, Any] = field(default_factory=dict)
    last: Answer | None = None

    @property
    def version(self) -> str:
        return self.driver.version

    @property
    def v019(self) -> bool:
        return self.version == "0.0.19"

    @property
    def v020(self) -> bool:
        return self.version == "0.2.0"

    def with_options(self, *, api_key: Any = ..., lenient: bool | None = None, async_: bool | None = None,
                     max_retries: int | None = None, base_url: str | None = None) -> V1:
        options = dict(self.options)
        if api_key is not ...:
            options["api_key"] = api_key
        for key, value in (("lenient", lenient), ("async", async_), ("max_retries", max_retries),
                           ("base_url", base_url)):
            if value is not None:
                options[key] = value
        return V1(self.driver, options)

    def _run(self, op: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        answer = self.driver.ask({"op": op, "method": method, "args": list(args), "kwargs": kwargs,
                                  "options": self.options})
        if not answer["ok"]:
            self.last = Answer(None, "error", [], answer.get("requests") or [])
            raise V1Error(answer["error"], answer.get("requests") or [])
        self.last = Answer(answer["result"], answer["result_type"], answer["created_at_types"], answer["requests"])
        unparsed = [t for t in answer["created_at_types"] if t != "datetime"]
        assert not unparsed, f"{method}: created_at did not parse to datetime: {unparsed}"
        return answer["result"]

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._run("call", method, args, kwargs)

    def fails(self, method: str, *args: Any, **kwargs: Any) -> V1Error:
        """The call must raise; returns what it raised."""
        try:
            result = self._run("call", method, args, kwargs)
        except V1Error as e:
            return e
        raise AssertionError(f"{method}{args}{kwargs} should have failed, returned {result!r}")

    def iterate(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """The SDK's own auto-pagination: {items, pages (the `page` of each page fetched)}."""
        return self._run("iterate", method, args, kwargs)

    def stream_text(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """`with_streaming_response.<method>` + `iter_text()`: {status, content_type, chunks}."""
        return self._run("stream_text", method, args, kwargs)

    def raw(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """`with_raw_response.<method>`: {status, headers, body}."""
        return self._run("raw", method, args, kwargs)

    # -- the calls whose form differs between the versions (docs/v1-api.md §1.10) --------------------------------
    def get_app(self, app_id: str | None = None) -> Any:
        if self.v019:
            return self.call("apps.get", app_id)
        return self.call("apps.get") if app_id is None else self.call("apps.get", app_id=app_id)

    def get_user(self, app_id: str, user_id: str | None = None) -> Any:
        if self.v019:
            return self.call("apps.users.get", user_id, app_id=app_id)
        return self.call("apps.users.get", app_id) if user_id is None else self.call("apps.users.get", app_id,
                                                                                     user_id=user_id)

    def get_session(self, app_id: str, user_id: str, session_id: str | None = None) -> Any:
        if self.v019:
            return self.call("apps.users.sessions.get", session_id, app_id=app_id, user_id=user_id)
        extra = {} if session_id is None else {"session_id": session_id}
        return self.call("apps.users.sessions.get", user_id, app_id=app_id, **extra)

    def get_collection(self, app_id: str, user_id: str, collection_id: str) -> Any:
        if self.v019:
            return self.call("apps.users.collections.get", collection_id, app_id=app_id, user_id=user_id)
        return self.call("apps.users.collections.get", user_id, app_id=app_id, collection_id=collection_id)

    def chat_stream(self, app_id: str, user_id: str, session_id: str, queries: Any, *, text: bool = True) -> Any:
        """The streamed chat of this version (0.0.19 `sessions.stream`, 0.2.0 `sessions.chat(stream=True)`), through
        `with_streaming_response` + `iter_text()` (`text`) or the plain call on a lenient client."""
        method = "apps.users.sessions.stream" if self.v019 else "apps.users.sessions.chat"
        extra = {} if self.v019 else {"stream": True}
        lenient = self.with_options(lenient=True)
        run = lenient.stream_text if text else lenient.call
        result = run(method, session_id, app_id=app_id, user_id=user_id, queries=queries, **extra)
        self.last = lenient.last
        return result

    # -- a fresh app, user and session --------------------------------------------------------------------------
    def new_app(self, **kwargs: Any) -> Any:
        return self.call("apps.create", name=unique("app"), **kwargs)

    def new_user(self, app_id: str, **kwargs: Any) -> Any:
        return self.call("apps.users.create", app_id, name=unique("user"), **kwargs)

    def new_session(self, app_id: str, user_id: str, **kwargs: Any) -> Any:
        return self.call("apps.users.sessions.create", user_id, app_id=app_id, **kwargs)

    def world(self) -> tuple[Any, Any, Any]:
        """A new app, a user in it, and a session of that user."""
        app = self.new_app()
        user = self.new_user(app.id)
        return app, user, self.new_session(app.id, user.id)

    def say(self, app_id: str, user_id: str, session_id: str, content: str, *, is_user: bool = True,
            **kwargs: Any) -> Any:
        return self.call("apps.users.sessions.messages.create", session_id, app_id=app_id, user_id=user_id,
                         content=content, is_user=is_user, **kwargs)


def eventually(check: Callable[[], Any], *, timeout: float = 60.0, interval: float = 0.1,
               what: str = "condition") -> Any:
    """support.eventually with the longer wait a live server's worker may need here."""
    return support.eventually(check, timeout=timeout, interval=interval, what=what)
