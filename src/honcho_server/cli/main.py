"""`honcho-server` command line: the composition root for processes."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import TYPE_CHECKING, Annotated, Any

import typer

from honcho_server import __version__, logs
from honcho_server.cli import banner, generations
from honcho_server.cli.failures import OneLineFailures, shown_database
from honcho_server.cli.llm_check import llm_app
from honcho_server.cli.options import command_settings as _settings
from honcho_server.config import Settings
from honcho_server.hosts import is_loopback
from honcho_server.store.engine import is_embedded

if TYPE_CHECKING:
    from honcho_server.domain.credentials import Principal

app = typer.Typer(help="honcho-server: a memory server for LLM applications (Honcho v3 API).",
                  no_args_is_help=True, add_completion=False, cls=OneLineFailures)

app.add_typer(llm_app, name="llm", help="The LLM endpoints reasoning uses: `llm check` probes them.")

# Seconds a `serve --processes` process may take to answer uvicorn's health ping before it is killed (see serve).
PROCESS_HEALTHCHECK_SECONDS = 60

DbOption = Annotated[str | None, typer.Option("--db", help="Database URL (sqlite:///... or postgresql://...)")]


def _show_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_show_version,
                                          help="Print the version and exit")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of a failure")] = False,
) -> None:
    """honcho-server: a memory server for LLM applications (Honcho v3 API)."""


def _migrate(settings: Settings) -> str:
    """Upgrade the schema; says what was done."""
    from honcho_server.store.migrate import upgrade_reporting

    done = upgrade_reporting(settings.db.url)
    if done.steps == 0:
        return f"already at {done.after} (the newest schema), nothing to do"
    return (f"migrated from {'no schema' if done.before is None else done.before} to {done.after} "
            f"({done.steps} revision{'s' if done.steps != 1 else ''} applied)")


def _require_current_schema(settings: Settings) -> banner.Embedder | None:
    """Refuse to start on a database whose schema is missing or older than this code, or whose stored
    vectors come from another embedder than the configured one; returns the embedder met (None: no vectors)."""
    from honcho_server.errors import EmbeddingSpaceMismatch
    from honcho_server.services.deps import Deps
    from honcho_server.services.embedding import prepare_vectors
    from honcho_server.store.engine import Database
    from honcho_server.store.migrate import current_and_head

    async def check() -> tuple[str | None, str, banner.Embedder | None]:
        deps = Deps(db=Database(settings.db.url, settings.db), settings=settings)
        try:
            current, head = await current_and_head(deps.db.engine)
            if current == head and await prepare_vectors(deps):
                return current, head, banner.Embedder(deps.embedder.model_id, deps.embedder.dimensions)
            return current, head, None
        finally:
            await deps.aclose()

    try:
        current, head, embedder = asyncio.run(check())
    except EmbeddingSpaceMismatch as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=2) from exc
    except ValueError as exc:  # an unusable embedder configuration
        typer.echo(f"Embedding settings: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    # An unreachable server, bad credentials...: said in one line, password masked (cli/failures.py).
    if current != head:
        state = "has no schema yet" if current is None else f"is at schema revision {current}, not {head}"
        typer.echo(f"The database {shown_database(settings.db.url)} {state}. Run `honcho-server migrate --db ...` "
                   "(or `serve --migrate`).", err=True)
        raise typer.Exit(code=2)
    return embedder


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
    db: DbOption = None,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Do not run background jobs here")] = False,
    migrate: Annotated[bool, typer.Option("--migrate", help="Migrate the database first (PostgreSQL)")] = False,
    insecure: Annotated[bool, typer.Option("--insecure", help="Allow auth off on a non-loopback address; on a "
                                           "loopback one, a JWT secret under 32 bytes")] = False,
    processes: Annotated[int, typer.Option("--processes", min=1, help="API processes sharing the port")] = 1,
) -> None:
    """Run the HTTP API (and, unless --no-worker, the background worker in the same process)."""
    import uvicorn

    from honcho_server.api.app import RUN_WORKER_ENV, WEAK_SECRET_ENV, create_app
    from honcho_server.api.deadlines import HTTP_PROTOCOL
    from honcho_server.api.multiprocess_metrics import shared_counters

    settings = _settings(db, host=host, port=port)
    if not settings.auth.enabled and not is_loopback(settings.server.host) and not insecure:
        typer.echo(f"Refusing to listen on {settings.server.host} with authentication off. Enable auth "
                   "(HONCHO_AUTH__ENABLED=true and HONCHO_AUTH__JWT_SECRET=...) or pass --insecure.", err=True)
        raise typer.Exit(code=2)
    weak_secret_allowed = insecure and is_loopback(settings.server.host)
    _refuse_weak_secret(settings, allowed=weak_secret_allowed)
    migrated = _migrate(settings) if migrate or is_embedded(settings.db.url) else None
    embedder = _require_current_schema(settings)
    where = ("off (--no-worker): run `honcho-server worker` beside it" if no_worker
             else "on, in each API process" if processes > 1 else "on, in this process")
    banner.show(settings, banner.lines(settings, embedder, api=True, worker=where, processes=processes,
                                       migrated=migrated))
    options: dict[str, Any] = dict(
        host=settings.server.host, port=settings.server.port, log_level=settings.server.log_level,
        access_log=False, loop="auto", http=HTTP_PROTOCOL,  # uvicorn's, with a header deadline
        log_config=logs.config(settings.server),  # text or JSON; access log: server.access_log
        timeout_keep_alive=settings.server.keep_alive_seconds,
        limit_concurrency=settings.server.max_connections)
    if processes == 1:
        uvicorn.run(create_app(settings, run_worker=not no_worker, allow_weak_secret=weak_secret_allowed), **options)
        return
    # Each process builds its own app from the environment: pass the command-line choices down that way.
    if db:
        os.environ["HONCHO_DB__URL"] = db
    os.environ["HONCHO_SERVER__HOST"] = settings.server.host  # what /docs' default access depends on
    os.environ[RUN_WORKER_ENV] = "0" if no_worker else "1"
    os.environ[WEAK_SECRET_ENV] = "1" if weak_secret_allowed else "0"
    # uvicorn's supervisor kills a process that does not answer its ping within timeout_worker_healthcheck (5 s by
    # default). A new process answers only once it has re-imported this command line (spawn), and a busy one only
    # when its ping thread gets the interpreter: both can take longer than 5 s on a loaded machine, and the kill
    # loses the requests in flight. A process that exits is still replaced at once; only a hung one waits longer.
    with shared_counters():  # /metrics adds up every process's counters, whichever process answers the scrape
        uvicorn.run("honcho_server.api.app:app_from_environment", factory=True, workers=processes,
                    timeout_worker_healthcheck=PROCESS_HEALTHCHECK_SECONDS, **options)


@app.command()
def worker(
    db: DbOption = None,
    once: Annotated[bool, typer.Option("--once", help="Run until the queue is drained, then exit")] = False,
) -> None:
    """Run the background worker alone (scaled deployments)."""
    settings = _settings(db)
    logs.setup(settings.server)
    _refuse_weak_secret(settings, allowed=False)
    embedder = _require_current_schema(settings)
    banner.show(settings, banner.lines(settings, embedder, api=False,
                                       worker="drains the queue, then exits" if once else "on"))
    asyncio.run(_run_worker(settings, once))


def _refuse_weak_secret(settings: Settings, *, allowed: bool) -> None:
    """One line and exit 2 when the JWT secret is too short; `allowed` (serve --insecure on loopback) warns."""
    if (weak := settings.auth.weak_secret()) is None:
        return
    if allowed:
        typer.echo(f"Warning: {weak} (allowed by --insecure on a loopback address).", err=True)
        return
    typer.echo(f"Refusing to start: {weak}.", err=True)
    raise typer.Exit(code=2)


async def _run_worker(settings: Settings, once: bool) -> None:
    from honcho_server.services.deps import Deps
    from honcho_server.store.engine import Database
    from honcho_server.worker.runtime import Worker

    deps = Deps(db=Database(settings.db.url, settings.db), settings=settings)
    runner = Worker(deps)
    try:
        if once:
            await runner.drain()
            await runner.pruner.run()  # the loop prunes between rounds; a one-off run prunes at its end
            return
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):  # finish the jobs in hand, then exit
            loop.add_signal_handler(sig, runner.request_stop)
        await runner.run()
    finally:
        await deps.aclose()


@app.command()
def reembed(db: DbOption = None) -> None:
    """Re-embed every message with the configured embedder (after changing model or dimension).

    Run it with the server stopped; it rebuilds the vector table at the new size."""
    settings = _settings(db)
    if is_embedded(settings.db.url):
        _migrate(settings)
    asyncio.run(_reembed(settings))


async def _reembed(settings: Settings) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from honcho_server.services.deps import Deps
    from honcho_server.services.embedding import reembed_all
    from honcho_server.store.engine import Database

    deps = Deps(db=Database(settings.db.url, settings.db), settings=settings)
    columns = (TextColumn(f"embedding with {deps.embedder.model_id}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    try:
        with Progress(*columns) as bar:
            task = bar.add_task("reembed", total=None)
            done = await reembed_all(deps, lambda n, total: bar.update(task, completed=n, total=total))
    finally:
        await deps.aclose()
    typer.echo(f"re-embedded {done} messages with {deps.embedder.model_id} ({deps.embedder.dimensions} dimensions)")


KeyOption = Annotated[str | None, typer.Option(
    "--key", envvar="HONCHO_API_KEY", show_envvar=True,
    help="Act with this API key (a JWT, checked against auth.jwt_secret) and reach only what it may; default: "
    "admin, as the other local commands. The variable keeps the key out of process listings")]


@app.command("mcp")
def mcp_command(db: DbOption = None, key: KeyOption = None) -> None:
    """Serve MCP over stdio for desktop agents (Claude Desktop, Claude Code, Cursor), on the database opened here.

    Background reasoning does not run here: it runs in `serve` (or `worker`) on the same database."""
    from honcho_server import mcp as mcp_package

    if not mcp_package.sdk_available():
        typer.echo(f"honcho-server mcp: {mcp_package.INSTALL_HINT}", err=True)
        raise typer.Exit(code=2)
    from honcho_server.mcp import stdio
    from honcho_server.services.deps import Deps
    from honcho_server.store.engine import Database

    settings = _settings(db)
    logs.setup(settings.server)  # stderr only: stdout carries the protocol
    principal = _principal_of(settings, key)
    if is_embedded(settings.db.url):
        _migrate(settings)
    _require_current_schema(settings)
    asyncio.run(stdio.serve(Deps(db=Database(settings.db.url, settings.db), settings=settings), principal))


def _principal_of(settings: Settings, key: str | None) -> Principal:
    """Whom `mcp` acts as: the key's principal, or admin without one (one line and exit 2 for a bad key)."""
    from honcho_server import clock
    from honcho_server.domain.credentials import CredentialError, Principal, verify_key

    if key is None:
        return Principal.anonymous_admin()
    secret = settings.auth.jwt_secret
    if secret is None:
        typer.echo("--key needs the secret that signed it: set HONCHO_AUTH__JWT_SECRET (auth.jwt_secret).", err=True)
        raise typer.Exit(code=2)
    try:
        return verify_key(secret.get_secret_value(), key, now=clock.now())
    except CredentialError as exc:
        typer.echo(f"--key: {exc.message}", err=True)
        raise typer.Exit(code=2) from exc


WorkspaceOption = Annotated[str | None, typer.Option("--workspace", help="Only this workspace's jobs (its name)")]


@app.command()
def failed(db: DbOption = None, workspace: WorkspaceOption = None,
           limit: Annotated[int, typer.Option("--limit", min=1, help="Most jobs to list")] = 50) -> None:
    """List background jobs parked as failed after their last attempt, with their errors."""
    from honcho_server.services import queue_status

    parked = _with_deps(db, lambda deps: queue_status.failed_jobs(deps, workspace, limit))
    if not parked:
        typer.echo("no failed jobs")
        return
    for job in parked:  # plain lines: errors are long, and scripts read this too
        typer.echo(f"job {job.id}  {job.kind}  workspace {job.workspace or '-'}  attempts {job.attempts}  "
                   f"failed {job.updated_at.isoformat(timespec='seconds')}")
        typer.echo(f"    {(job.last_error or '').strip()[:2000]}")


@app.command()
def redrive(db: DbOption = None, workspace: WorkspaceOption = None) -> None:
    """Send the failed jobs (of one workspace, or all) back to the queue with a fresh attempt budget."""
    from honcho_server.services import queue_status

    count = _with_deps(db, lambda deps: queue_status.redrive(deps, workspace))
    of = f" of workspace {workspace}" if workspace else ""
    typer.echo(f"requeued {count} failed job{'s' if count != 1 else ''}{of}")


def _with_deps(db: str | None, use: Any) -> Any:
    """Run `use(deps)` against the database (its schema and embedder checked first, as for `worker`), then close
    it; an unknown workspace exits with status 2."""
    from honcho_server.errors import NotFound
    from honcho_server.services.deps import Deps
    from honcho_server.store.engine import Database

    settings = _settings(db)
    _require_current_schema(settings)

    async def run() -> Any:
        deps = Deps(db=Database(settings.db.url, settings.db), settings=settings)
        try:
            return await use(deps)
        finally:
            await deps.aclose()

    try:
        return asyncio.run(run())
    except NotFound as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc


generations.register(app, _with_deps)  # `rederive` and `generations ...`, opening the database as above


@app.command("migrate")
def migrate_command(db: DbOption = None) -> None:
    """Upgrade the database schema to the newest version."""
    settings = _settings(db)
    typer.echo(f"{shown_database(settings.db.url)}: {_migrate(settings)}")


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


if __name__ == "__main__":
    app()
