"""What the fault tests share: a real `honcho-server serve` in a subprocess, a PostgreSQL of their own (pgserver's
binaries, never the suite's shared server) they may stop and start, and keep-alive clients that record every
answer under load."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

import pg_support
from server_process import ServerProcess

BOUND = 30.0  # the longest any single wait below may take (a failure, not a slow pass, when exceeded)


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = BOUND, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(every)


# ---- the server --------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def serve(db_url: str, workdir: Path, **env_extra: str) -> Iterator[str]:
    """`honcho-server serve` (API and worker) on a migrated database, on a free port; yields its base URL once
    /health answers."""
    srv = ServerProcess(name="faults", db_url=db_url, workdir=workdir, migrate=False,
                        extra_env={"HONCHO_EMBEDDING__PROVIDER": "hash", **env_extra}).start()
    try:
        yield srv.base_url
        assert srv.alive(), "the server died: " + srv.read_log()[-3000:]
    finally:
        srv.stop()


# ---- a PostgreSQL of the test's own --------------------------------------------------------------------------------


class PgInstance:
    """A throw-away PostgreSQL 16 (pgserver's binaries, pgvector included) listening on a unix socket in its data
    directory, which the test stops and starts at will. `data_parent`: where the data directory goes (a small
    filesystem, say); a temporary directory otherwise. As root it runs as the `pgserver` user, like pgserver."""

    def __init__(self, data_parent: Path | None = None) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pgserver._commands import POSTGRES_BIN_PATH
            from pgserver.utils import ensure_user_exists
        self.bin = POSTGRES_BIN_PATH
        self.user = None
        if os.geteuid() == 0:
            self.user = "pgserver"
            ensure_user_exists(self.user)
        self.base = Path(tempfile.mkdtemp(prefix="honcho-pgf-", dir=data_parent or pg_support._pick_base_dir()))
        os.chmod(self.base, 0o755)
        self.pgdata = self.base / "data"
        self.pgdata.mkdir(mode=0o700)
        if self.user:
            shutil.chown(self.pgdata, self.user, self.user)
        self.log = self.base / "postgres.log"
        self.log.touch()
        if self.user:
            shutil.chown(self.log, self.user, self.user)
        # Stops the server and removes the directory if this process dies before `close` (pg_support's watchdog).
        self._watchdog = pg_support._spawn_watchdog(self.bin / "pg_ctl", self.pgdata, self.base, self.user)
        self._run("initdb", "-D", str(self.pgdata), "--auth=trust", "--auth-local=trust", "--encoding=utf8",
                  "-U", "postgres", "--no-sync")
        self.start()
        self.url = pg_support.create_database(f"postgresql://postgres@/postgres?host={self.pgdata}", "honcho")

    def _run(self, program: str, *args: str, timeout: float = BOUND) -> None:
        subprocess.run([str(self.bin / program), *args], user=self.user, check=True, timeout=timeout,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.pgdata), "-l", str(self.log), "-w", "-t", "20",
                  "-o", f'-h "" -k {self.pgdata}', "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.pgdata), "-m", mode, "-w", "-t", "20", "stop")

    def running(self) -> bool:
        status = subprocess.run([str(self.bin / "pg_ctl"), "-D", str(self.pgdata), "status"], user=self.user,
                                capture_output=True, timeout=BOUND)
        return status.returncode == 0

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if (self.pgdata / "postmaster.pid").exists():
                self.stop("immediate")
        with contextlib.suppress(Exception):
            assert self._watchdog.stdin is not None
            self._watchdog.stdin.close()  # the watchdog removes the directory
            self._watchdog.wait(timeout=BOUND)


# ---- a small filesystem to fill --------------------------------------------------------------------------------


@contextlib.contextmanager
def small_filesystem(size: str) -> Iterator[Path]:
    """A tmpfs of `size` (e.g. "6m"), world-traversable (PostgreSQL runs as another user under root), unmounted
    afterwards. Needs root: skipped otherwise, saying why."""
    import pytest

    if os.geteuid() != 0:
        pytest.skip("filling a filesystem needs a small one of our own, and `mount -t tmpfs` needs root")
    where = Path(tempfile.mkdtemp(prefix="honcho-disk-", dir=pg_support._pick_base_dir()))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)],
                             capture_output=True, text=True, timeout=BOUND)
    if mounted.returncode != 0:
        where.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=BOUND)
        with contextlib.suppress(OSError):
            where.rmdir()


def fill(filler: Path) -> None:
    """Take every free byte of the filesystem `filler` is on (ENOSPC ends it)."""
    with open(filler, "wb", buffering=0) as f:
        for chunk in (b"\0" * 65536, b"\0" * 512):
            with contextlib.suppress(OSError):
                while True:
                    f.write(chunk)


# ---- load with keep-alive clients --------------------------------------------------------------------------------


@dataclass(slots=True)
class Answer:
    """One request as a client saw it: when it was sent and answered (monotonic), and what came back."""

    what: str
    sent: float
    done: float
    status: int | None  # None: no HTTP answer at all (the error says what happened)
    retry_after: str | None = None
    detail: str = ""
    error: str | None = None


@dataclass
class Load:
    """Clients, each on ONE kept-alive connection, writing one message per request to their own session and
    reading it back in turns, plus /health and /ready, until stopped. Everything acknowledged is kept."""

    base: str
    workspace: str
    clients: int = 3
    content_bytes: int = 200
    answers: list[Answer] = field(default_factory=list)
    acknowledged: dict[str, list[str]] = field(default_factory=dict)  # session -> contents, in order
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Load:
        with httpx.Client(base_url=self.base, timeout=BOUND) as http:
            expect_ok(http.post("/v3/workspaces", json={"id": self.workspace}))
            expect_ok(http.post(f"/v3/workspaces/{self.workspace}/peers", json={"id": "alice"}))
            for i in range(self.clients):
                session = f"s{i}"
                expect_ok(http.post(f"/v3/workspaces/{self.workspace}/sessions", json={"id": session}))
                self.acknowledged[session] = []
        for i in range(self.clients):
            thread = threading.Thread(target=self._client, args=(f"s{i}",), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=BOUND)
            assert not thread.is_alive(), "a load client did not stop"

    def since(self, start: float, end: float | None = None) -> list[Answer]:
        """Answers to requests sent at or after `start` (and answered before `end`)."""
        with self._lock:
            return [a for a in self.answers if a.sent >= start and (end is None or a.done <= end)]

    def wait_for_writes_after(self, moment: float) -> float:
        """Until a write made after `moment` is stored (201), then ten more writes have been answered; returns
        when that first stored write was sent."""

        def written_again() -> bool:
            return any(a.what == "write" and a.status == 201 for a in self.since(moment))

        wait_until(written_again, "a write after space was freed")
        back = min(a.sent for a in self.since(moment) if a.what == "write" and a.status == 201)
        wait_until(lambda: len([a for a in self.since(back) if a.what == "write"]) >= 10, "writes after it")
        return back

    def _client(self, session: str) -> None:
        url = f"/v3/workspaces/{self.workspace}/sessions/{session}/messages"
        # One connection per client (max_connections=1): a reset shows up as an error, never as a silent redial.
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        with httpx.Client(base_url=self.base, timeout=BOUND, limits=limits) as http:
            n = 0
            while not self._stop.is_set():
                n += 1
                content = f"{session}-{n}-{uuid.uuid4().hex} " + "x" * self.content_bytes
                self._call(http, "write", "POST", url, json={"messages": [{"peer_id": "alice", "content": content}]},
                           on_ok=lambda _r, c=content: self.acknowledged[session].append(c))
                self._call(http, "read", "POST", f"{url}/list", json={}, params={"size": 5, "reverse": True})
                if n % 5 == 0:
                    self._call(http, "health", "GET", "/health")
                    self._call(http, "ready", "GET", "/ready")
                time.sleep(0.01)

    def _call(self, http: httpx.Client, what: str, method: str, url: str,
              on_ok: Callable[[httpx.Response], Any] | None = None, **kwargs: Any) -> None:
        sent = time.monotonic()
        try:
            response = http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            answer = Answer(what, sent, time.monotonic(), None, error=f"{type(exc).__name__}: {exc}")
        else:
            if 200 <= response.status_code < 300 and on_ok is not None:
                on_ok(response)
            detail = ""
            with contextlib.suppress(ValueError):
                body = response.json()
                detail = str(body.get("detail", "")) if isinstance(body, dict) else ""
            answer = Answer(what, sent, time.monotonic(), response.status_code,
                            response.headers.get("retry-after"), detail)
        with self._lock:
            self.answers.append(answer)


def expect_ok(response: httpx.Response) -> Any:
    assert 200 <= response.status_code < 300, (response.status_code, response.text[:500])
    return response.json()


def stored_contents(base: str, workspace: str, session: str) -> list[str]:
    """Every message of a session, oldest first, read page by page."""
    contents: list[str] = []
    with httpx.Client(base_url=base, timeout=BOUND) as http:
        page = 1
        while True:
            body = expect_ok(http.post(f"/v3/workspaces/{workspace}/sessions/{session}/messages/list", json={},
                                       params={"page": page, "size": 100}))
            contents += [m["content"] for m in body["items"]]
            if page >= body["pages"]:
                return contents
            page += 1


def summary(answers: list[Answer]) -> dict[tuple[str, int | None], int]:
    """How many answers of each (kind, status): what a failed assertion prints."""
    counts: dict[tuple[str, int | None], int] = {}
    for a in answers:
        counts[(a.what, a.status)] = counts.get((a.what, a.status), 0) + 1
    return counts
