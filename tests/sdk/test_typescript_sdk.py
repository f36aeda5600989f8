"""The official TypeScript SDK (`@honcho-ai/sdk`, pinned in tests/ts/package.json and package-lock.json) drives live
servers on both databases, through Node's built-in test runner.

* Node.js and npm are part of the machine (Debian's packages: Node 20 here; the suite needs 18+). If either is missing
  and this runs as root with apt-get, they are installed like any other non-Python piece the suite needs; otherwise
  the test fails saying what to install. It never skips.
* `npm ci` fills tests/ts/node_modules once, from the committed lock file; a stamp (the hash of package.json and the
  lock file) makes later sessions skip it until either changes. A file lock keeps two pytest runs from racing.
* Three node runs per backend, each a pytest test: tests/ts/*.test.mjs against `server` (no LLM),
  local_model.test.mjs against `local_model_server` (the bench's OpenAI-compatible fake: chats answer "OK"),
  auth.test.mjs against `auth_server` (JWT auth on). The servers' addresses reach node in HONCHO_TS_* variables; the
  SDK's own HONCHO_URL / HONCHO_API_KEY / HONCHO_WORKSPACE_ID are scrubbed. Any failing node test fails the pytest
  test with node's report (and, through conftest, the server log).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from file_lock import file_lock
from provider_fakes import BENCH_FAKE_OPENAI

pytestmark = pytest.mark.sdk

TS_DIR = Path(__file__).resolve().parents[1] / "ts"
NODE_MODULES = TS_DIR / "node_modules"
STAMP = NODE_MODULES / ".honcho-server-installed"
SDK_MANIFEST = NODE_MODULES / "@honcho-ai" / "sdk" / "package.json"
NODE_MIN_MAJOR = 18  # global fetch, FormData and Blob, `node --test` with the spec reporter (run here on 20)
LOCAL_MODEL_FILES = ("local_model.test.mjs",)
AUTH_FILES = ("auth.test.mjs",)
NODE_TIMEOUT = 300.0
INSTALL_TIMEOUT = 600.0
# Variables of the SDK (it falls back to them) and of node that would change what runs.
_SCRUB = ("HONCHO_", "NODE_OPTIONS", "NODE_TEST_CONTEXT", "NODE_PATH")


def _run(cmd: list[str], *, timeout: float, env: dict[str, str] | None = None,
         cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout, check=False)


def _apt_install(packages: list[str]) -> str:
    """Install Debian packages as root; returns a note of what happened (for the failure message).

    Test workers (pytest-xdist) may want packages at the same moment, and apt-get refuses to run twice at once: they
    take turns, and a package another worker installed meanwhile is only confirmed."""
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        return "cannot install them here (needs root and apt-get)"
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    with file_lock("apt", per_checkout=False):  # apt-get is one per machine
        update = _run(["apt-get", "update", "-q"], timeout=INSTALL_TIMEOUT, env=env)
        install = _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
                       timeout=INSTALL_TIMEOUT, env=env)
    if install.returncode != 0:
        return (f"apt-get install {' '.join(packages)} failed ({install.returncode}):\n"
                f"{update.stdout[-2000:]}{update.stderr[-2000:]}{install.stdout[-3000:]}{install.stderr[-3000:]}")
    return f"installed {' '.join(packages)} with apt-get"


def _node_tools() -> tuple[str, str, int]:
    node, npm = shutil.which("node"), shutil.which("npm")
    note = ""
    if node is None or npm is None:
        missing = [pkg for pkg, found in (("nodejs", node), ("npm", npm)) if found is None]
        note = _apt_install(missing)
        node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail(f"Node.js {NODE_MIN_MAJOR}+ and npm are needed to run the TypeScript SDK suite (tests/ts) and "
                    f"were not found on PATH; {note}. Install them (Debian: apt-get install nodejs npm) and re-run.",
                    pytrace=False)
    version = _run([node, "--version"], timeout=30).stdout.strip()
    match = re.match(r"v(\d+)\.", version)
    if not match or int(match.group(1)) < NODE_MIN_MAJOR:
        pytest.fail(f"{node} is Node.js {version or '(unknown)'}; the TypeScript SDK suite needs {NODE_MIN_MAJOR}+",
                    pytrace=False)
    return node, npm, int(match.group(1))


def _lock_digest() -> str:
    h = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        h.update(name.encode() + b"\0" + (TS_DIR / name).read_bytes() + b"\0")
    return h.hexdigest()


@pytest.fixture(scope="session")
def node() -> tuple[str, int]:
    """The node executable and its major version, once tests/ts/node_modules holds exactly what the lock file says."""
    node, npm, major = _node_tools()
    digest = _lock_digest()
    with file_lock("ts"):  # held while node_modules is checked or installed
        installed = STAMP.is_file() and STAMP.read_text().strip() == digest and SDK_MANIFEST.is_file()
        if not installed:
            env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)}
            env |= {"npm_config_audit": "false", "npm_config_fund": "false", "npm_config_update_notifier": "false"}
            done = _run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=TS_DIR, env=env,
                        timeout=INSTALL_TIMEOUT)
            if done.returncode != 0:
                pytest.fail(f"npm ci in {TS_DIR} failed ({done.returncode}):\n{done.stdout[-4000:]}\n"
                            f"{done.stderr[-4000:]}", pytrace=False)
            STAMP.write_text(digest + "\n")
    return node, major


_SUMMARY = re.compile("^\u2139 (tests|pass|fail|cancelled|skipped|todo) (\\d+)$", re.MULTILINE)


def run_node_tests(node: tuple[str, int], files: list[str], variables: dict[str, str]) -> dict[str, int]:
    """`node --test` on `files` (relative to tests/ts); fails the pytest test with node's report on any failure."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)} | variables
    executable, major = node
    # The files run in parallel processes (node's default is one fewer than the cores: 1 on a 2-core machine).
    concurrency = ["--test-concurrency=4"] if major >= 20 else []
    cmd = [executable, "--test", "--test-reporter=spec", *concurrency, *files]
    try:
        done = _run(cmd, cwd=TS_DIR, env=env, timeout=NODE_TIMEOUT + 30)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        pytest.fail(f"node --test {' '.join(files)} did not finish within {NODE_TIMEOUT + 30:.0f}s:\n{out[-12000:]}",
                    pytrace=False)
    report = done.stdout + done.stderr
    counts = {k: int(v) for k, v in _SUMMARY.findall(report)}
    if done.returncode != 0 or counts.get("fail", 1) or counts.get("cancelled", 0):
        pytest.fail(f"the TypeScript SDK suite failed (node exit {done.returncode}; {counts}):\n"
                    f"$ cd tests/ts && node --test {' '.join(files)}\n{report[-15000:]}", pytrace=False)
    assert counts.get("pass", 0) > 0, f"node ran no test:\n{report[-4000:]}"
    return counts


def _files(*, exclude: tuple[str, ...] = (), only: tuple[str, ...] = ()) -> list[str]:
    names = sorted(p.name for p in TS_DIR.glob("*.test.mjs"))
    chosen = [n for n in names if (n in only if only else n not in exclude)]
    assert chosen, f"no *.test.mjs files in {TS_DIR} (of {names})"
    return chosen


def test_typescript_sdk_against_a_live_server(node: tuple[str, int], server: Any) -> None:
    run_node_tests(node, _files(exclude=LOCAL_MODEL_FILES + AUTH_FILES), {"HONCHO_TS_URL": server.base_url})


def test_typescript_sdk_with_a_local_model(node: tuple[str, int], local_model_server: Any) -> None:
    if not BENCH_FAKE_OPENAI.is_file():
        pytest.skip(f"the bench's OpenAI-compatible fake is missing: {BENCH_FAKE_OPENAI}")
    run_node_tests(node, _files(only=LOCAL_MODEL_FILES), {"HONCHO_TS_LLM_URL": local_model_server.base_url})


def test_typescript_sdk_with_auth(node: tuple[str, int], auth_server: Any) -> None:
    run_node_tests(node, _files(only=AUTH_FILES),
                   {"HONCHO_TS_AUTH_URL": auth_server.base_url, "HONCHO_TS_AUTH_SECRET": auth_server.secret})
