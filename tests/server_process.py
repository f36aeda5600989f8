"""One `honcho-server serve` subprocess on a free port, as a client meets it: started through the real command
line with a clean environment, ready once /health answers, stopped with its whole process group (SDK suites,
fault tests, slow-client tests)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

# How long a server may take to answer /health. Starting imports a lot: 17 s measured on 2 cores at load 10 (a few
# seconds idle). `serve --processes N` then starts N processes that import it all again (43 s measured at load 10):
# such a server gets twice as long.
READY_TIMEOUT = 60.0


# Settings of the reference server that our server also reads; never inherit them.
_LEGACY_ENV = ("DB_CONNECTION_URI", "AUTH_USE_AUTH", "AUTH_JWT_SECRET")


def server_command() -> list[str]:
    script = Path(sys.executable).with_name("honcho-server")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "honcho_server.cli.main"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """One ``honcho-server serve`` subprocess."""

    def __init__(self, *, name: str, db_url: str, workdir: Path, migrate: bool,
                 extra_env: dict[str, str] | None = None, secret: str | None = None,
                 extra_args: list[str] | None = None) -> None:
        self.name = name
        self.extra_args = extra_args or []
        self.db_url = db_url
        self.workdir = workdir
        self.migrate = migrate
        self.secret = secret
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "server.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("HONCHO_") and k not in _LEGACY_ENV}
        env.update({
            "PYTHONUNBUFFERED": "1",
            # Points at a file that does not exist: no config.toml is ever read.
            "HONCHO_CONFIG_FILE": str(workdir / "no-config.toml"),
            # Deletions are purged by the in-process worker; keep the suite snappy.
            "HONCHO_WORKER__POLL_INTERVAL_SECONDS": "0.2",
        })
        env.update(extra_env or {})
        self.env = env
        self.proc: subprocess.Popen | None = None
        self._log_file = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> ServerProcess:
        cmd = [*server_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port),
               "--db", self.db_url]
        if self.migrate:
            cmd.append("--migrate")
        cmd += self.extra_args
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, cwd=self.workdir, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=self._log_file, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        wait = READY_TIMEOUT * (2 if "--processes" in self.extra_args else 1)
        deadline = time.monotonic() + wait
        last_error = "no response"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._fail_start(f"server exited with code {self.proc.returncode}")
            try:
                r = httpx.get(f"{self.base_url}/health", timeout=2.0)
                if r.status_code == 200 and r.json().get("status") == "ok":
                    return self
                last_error = f"GET /health -> {r.status_code} {r.text[:200]!r}"
                if 400 <= r.status_code < 500:  # a definitive answer: waiting will not change it
                    self.stop()
                    self._fail_start(f"not ready: {last_error} (spec 10.D: 200 {{'status': 'ok'}}, no auth)")
            except httpx.HTTPError as e:
                last_error = f"{type(e).__name__}: {e}"
            time.sleep(0.1)
        self.stop()
        self._fail_start(f"not ready after {wait:.0f}s ({last_error})")
        raise AssertionError("unreachable")

    def _fail_start(self, why: str) -> None:
        log = self.read_log()
        print(f"\n===== {self.name} server log ({self.log_path}) =====\n{log}\n===== end =====", file=sys.stderr)
        pytest.fail(f"{self.name}: {why}; command {server_command()} serve ... --db {self.db_url}\n"
                    f"--- server output (tail) ---\n{log[-6000:]}", pytrace=False)

    def stop(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    # -- helpers ---------------------------------------------------------------------------------
    def read_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None
