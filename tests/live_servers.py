"""A pytest plugin (loaded by tests/conftest.py): the live `honcho-server serve` subprocesses that client suites drive
from outside, on the current `backend` (each directory's own `backend` fixture), and the v3 SDK client factory.
Shared by the v3 SDK suite (tests/sdk) and the v1 SDKs' suite (tests/v1sdk).

Servers
-------
* ``server`` -- ONE no-auth server per backend for the whole test session.
* ``auth_server`` -- ONE server per backend with JWT auth enabled (its own database).
* ``reasoning_server`` -- reasoning on, its LLM the loopback fake ``chat_model``.
* ``openai_server``, ``local_model_server``, ``multi_process_server`` -- see each fixture.

The server is started with a scrubbed environment (no inherited ``HONCHO_*`` settings) in its own
temporary working directory, so a developer's ``config.toml`` / ``.env`` cannot leak in.  Its stdout and
stderr go to a log file; the tail of that log is attached to the failing tests' reports of the tests that use one.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator

import httpx
import pytest
from honcho import Honcho
from sdk_helpers import unique

from fake_openai import FakeEmbeddings, FakeOpenAI
from provider_fakes import BENCH_FAKE_OPENAI, bench_openai
from server_process import ServerProcess

# The SDK falls back to these when arguments are None; a developer's shell must not change the tests.
for _var in ("HONCHO_API_KEY", "HONCHO_URL", "HONCHO_WORKSPACE_ID", "HONCHO_BASE_URL"):
    os.environ.pop(_var, None)

_RUNNING: list[ServerProcess] = []
# The fixtures above whose servers' logs a failing test's report shows.
SERVER_FIXTURES = frozenset({"server", "multi_process_server", "openai_server", "reasoning_server",
                             "local_model_server", "auth_server"})


# --------------------------------------------------------------------------------------------------
# Databases and servers
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def new_database(backend: str, tmp_path_factory: pytest.TempPathFactory):
    """Factory: a fresh, empty database URL of the current backend."""

    def make(label: str) -> tuple[str, bool]:
        if backend == "sqlite":
            d = tmp_path_factory.mktemp(f"db-{label}")
            return f"sqlite:///{d / 'honcho.db'}", False
        try:
            import pg_support
        except ImportError as e:  # pragma: no cover - environment problem
            pytest.skip(f"PostgreSQL support unavailable: {e}")
        admin = pg_support.start_postgres()
        name = f"sdk_{label}_{uuid.uuid4().hex[:8]}"
        return pg_support.create_database(admin, name), True

    return make


def _start(name: str, new_database, tmp_path_factory, *, auth_secret: str | None = None,
           extra_args: list[str] | None = None, extra_env: dict[str, str] | None = None) -> ServerProcess:
    db_url, migrate = new_database(name)
    extra = dict(extra_env or {})
    if auth_secret is not None:
        extra |= {"HONCHO_AUTH__ENABLED": "true", "HONCHO_AUTH__JWT_SECRET": auth_secret}
    srv = ServerProcess(name=name, db_url=db_url, workdir=tmp_path_factory.mktemp(f"srv-{name}"),
                        migrate=migrate, extra_env=extra, secret=auth_secret, extra_args=extra_args)
    return srv.start()


def _running(srv: ServerProcess) -> Iterator[ServerProcess]:
    """Yield a started server, known to the log-dumping hooks below until it is stopped."""
    _RUNNING.append(srv)
    try:
        yield srv
    finally:
        _RUNNING.remove(srv)
        srv.stop()


@pytest.fixture(scope="session")
def server(backend: str, new_database, tmp_path_factory) -> Iterator[ServerProcess]:
    yield from _running(_start(f"{backend}-noauth", new_database, tmp_path_factory))


@pytest.fixture(scope="session")
def multi_process_server(backend: str, new_database, tmp_path_factory) -> Iterator[ServerProcess]:
    """`serve --processes 2`: two API processes (each with its worker) sharing one port and database."""
    yield from _running(_start(f"{backend}-processes", new_database, tmp_path_factory,
                               extra_args=["--processes", "2"]))


@pytest.fixture(scope="session")
def embedding_endpoint() -> Iterator[FakeEmbeddings]:
    with FakeEmbeddings(dimensions=64) as fake:
        yield fake


@pytest.fixture(scope="session")
def openai_server(backend: str, new_database, tmp_path_factory, embedding_endpoint) -> Iterator[ServerProcess]:
    env = {"HONCHO_EMBEDDING__PROVIDER": "openai", "HONCHO_EMBEDDING__BASE_URL": embedding_endpoint.base_url,
           "HONCHO_EMBEDDING__MODEL": "fake-embed", "HONCHO_EMBEDDING__DIMENSIONS": "64",
           "HONCHO_EMBEDDING__API_KEY": "sk-test"}
    yield from _running(_start(f"{backend}-openai-embed", new_database, tmp_path_factory, extra_env=env))


@pytest.fixture(scope="session")
def chat_model() -> Iterator[FakeOpenAI]:
    """The LLM of `reasoning_server`: scripted answers first, then `chat_model.responder` (set by a test)."""
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture(scope="session")
def reasoning_server(backend: str, new_database, tmp_path_factory, chat_model) -> Iterator[ServerProcess]:
    """A server with reasoning on: its LLM is the loopback fake, batches are not held back."""
    env = {"HONCHO_LLM__PROVIDER": "openai-compatible", "HONCHO_LLM__MODEL": "stand-in",
           "HONCHO_LLM__BASE_URL": chat_model.base_url, "HONCHO_DERIVER__FLUSH_SECONDS": "0",
           "HONCHO_WORKER__POLL_INTERVAL_SECONDS": "0.1"}
    yield from _running(_start(f"{backend}-reasoning", new_database, tmp_path_factory, extra_env=env))


@pytest.fixture(scope="session")
def bench_model() -> Iterator[str]:
    """../shared/bench/fake_openai.py as a subprocess; yields its `/v1` base URL (skips where the bench is not
    next to the repository, as in a clone made elsewhere)."""
    if not BENCH_FAKE_OPENAI.is_file():
        pytest.skip(f"the bench's OpenAI-compatible fake is missing: {BENCH_FAKE_OPENAI}")
    with bench_openai() as url:
        yield url


@pytest.fixture(scope="session")
def local_model_server(backend: str, new_database, tmp_path_factory, bench_model: str) -> Iterator[ServerProcess]:
    """A server whose model (and embedder) is the bench's plain OpenAI-compatible fake: no tools, no script."""
    env = {"HONCHO_LLM__PROVIDER": "openai-compatible", "HONCHO_LLM__MODEL": "fake",
           "HONCHO_LLM__BASE_URL": bench_model, "HONCHO_DERIVER__FLUSH_SECONDS": "0",
           "HONCHO_WORKER__POLL_INTERVAL_SECONDS": "0.1",
           "HONCHO_EMBEDDING__PROVIDER": "openai", "HONCHO_EMBEDDING__BASE_URL": bench_model,
           "HONCHO_EMBEDDING__MODEL": "fake-embed", "HONCHO_EMBEDDING__DIMENSIONS": "64",
           "HONCHO_EMBEDDING__API_KEY": "sk-local"}
    yield from _running(_start(f"{backend}-local-model", new_database, tmp_path_factory, extra_env=env))


@pytest.fixture(scope="session")
def auth_server(backend: str, new_database, tmp_path_factory) -> Iterator[ServerProcess]:
    yield from _running(_start(f"{backend}-auth", new_database, tmp_path_factory,
                               auth_secret=secrets.token_urlsafe(32)))


# --------------------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------------------
@pytest.fixture
def make_client(request: pytest.FixtureRequest):
    """Factory ``make_client(srv, workspace_id=None, api_key=None) -> Honcho``.

    No retries (a 5xx must surface at once, not be re-sent), own httpx client closed at teardown.
    """
    opened: list[httpx.Client] = []

    def make(srv: ServerProcess, workspace_id: str | None = None, api_key: str | None = None) -> Honcho:
        http = httpx.Client(timeout=30.0)
        opened.append(http)
        return Honcho(base_url=srv.base_url, workspace_id=workspace_id or unique("ws"), api_key=api_key,
                      max_retries=0, timeout=30.0, http_client=http)

    yield make
    for c in opened:
        c.close()


# --------------------------------------------------------------------------------------------------
# Attach the server log tail to failing tests
# --------------------------------------------------------------------------------------------------
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    item._sdk_log_marks = {id(s): s.log_size() for s in _RUNNING}  # type: ignore[attr-defined]
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed or not SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
        return
    marks = getattr(item, "_sdk_log_marks", {})
    for srv in _RUNNING:
        start = marks.get(id(srv), 0)
        try:
            with open(srv.log_path, "rb") as f:
                f.seek(start)
                chunk = f.read().decode(errors="replace")
        except OSError:
            continue
        if not srv.alive():
            chunk += f"\n[server process exited with code {srv.proc.returncode if srv.proc else '?'}]"
        if chunk.strip():
            report.sections.append((f"server log: {srv.name} (during this test)", chunk[-8000:]))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:  # safety net
    for srv in list(_RUNNING):
        srv.stop()

