"""`honcho-server llm check`: probe every LLM endpoint the reasoning tasks use and say, per task, whether it can
work, what the endpoint supports and which output mode the task will use; what to fix when it cannot.

The probe results are stored in the database (`llm_capabilities`), where every server and worker process reads
them instead of probing again. A database that cannot be opened does not stop the check: it runs without storing.
Exit status 0 when every task checked can work (prompted JSON without tools counts as working), 1 otherwise."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any

import typer

from honcho_server.config import LLM_TASKS, PROVIDER_KEY_ENV, Settings
from honcho_server.domain.llm import YES

llm_app = typer.Typer(help="The LLM endpoints reasoning uses.", no_args_is_help=True, add_completion=False)

STRUCTURED = ("deriver", "dream")  # tasks that ask for a structured (JSON) answer
SAMPLE_CHARS = 40
DB_TIMEOUT = 10.0  # seconds to open the database and read its schema revision


@dataclass(slots=True)
class TaskCheck:
    """One task's row: its endpoint and what the probe of that endpoint showed."""

    task: str
    provider: str | None = None
    model: str | None = None
    base_url: str | None = None
    ok: bool = False  # the task can work
    problem: str | None = None  # what keeps it from working (configuration, or what the probe met)
    fix: str | None = None  # the line saying what to change
    warning: str | None = None  # works, but something is worth knowing
    reachable: bool | None = None
    auth_ok: bool | None = None
    capabilities: dict[str, Any] | None = None
    latency_ms: float | None = None
    mode: str | None = None
    sample: str = ""


@dataclass(slots=True)
class Outcome:
    tasks: list[TaskCheck]
    saved: bool
    saved_detail: str  # where the results went, or why they were not saved
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tasks)


@llm_app.callback()
def llm() -> None:
    """The LLM endpoints reasoning uses."""


@llm_app.command("check")
def check(
    db: Annotated[str | None, typer.Option("--db", help="Database URL (sqlite:///... or postgresql://...)")] = None,
    task: Annotated[list[str] | None, typer.Option("--task", help="Only this task (repeatable); default: every "
                                                   f"task ({', '.join(LLM_TASKS)})")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Probe each LLM endpoint once: reachable, key accepted, tools, forced tool choice, JSON schema, streaming;
    per task, the output mode it will use. Results are stored for every server process. Exit 1 when a task cannot
    work."""
    from honcho_server.cli.options import command_settings

    tasks = list(dict.fromkeys(task or LLM_TASKS))
    unknown = [t for t in tasks if t not in LLM_TASKS]
    if unknown:
        typer.echo(f"Unknown task {', '.join(unknown)}; the tasks are {', '.join(LLM_TASKS)}.", err=True)
        raise typer.Exit(2)
    settings = command_settings(db)
    outcome = asyncio.run(run_check(settings, tasks))
    if as_json:
        typer.echo(json.dumps({"ok": outcome.ok, "saved": outcome.saved, "saved_detail": outcome.saved_detail,
                               "tasks": [asdict(t) for t in outcome.tasks], "problems": outcome.problems,
                               "warnings": outcome.warnings}, indent=2))
    else:
        _print(outcome)
    if not outcome.ok:
        raise typer.Exit(1)


# ---------------------------------------------------------------------------------------------------- the check

async def run_check(settings: Settings, tasks: list[str]) -> Outcome:
    from honcho_server.llm.client import LLMClient
    from honcho_server.services import llm_status

    deps, why_not = await _open(settings)
    client = deps.llm if deps is not None else LLMClient(settings.llm)
    try:
        checks = {t: TaskCheck(t) for t in tasks}
        off = settings.llm.problem  # some task's problem turns reasoning off for every task
        shared = None  # the problem of the tasks without settings of their own: said once for them all
        for name, row in checks.items():
            if (problem := settings.llm.task_problem(name)) is not None:
                row.problem = row.fix = problem
                if not getattr(settings.llm, name).model_fields_set:
                    row.fix = shared = shared or problem
        endpoints = llm_status.endpoints(settings.llm, [t for t in tasks if checks[t].problem is None])
        reports = await asyncio.gather(*(_probe(client, e.tasks[0]) for e in endpoints))
        for endpoint, report in zip(endpoints, reports, strict=True):
            for name in endpoint.tasks:
                _fill(checks[name], settings, endpoint, report)
        if off is not None:  # e.g. one task lacks its model: nothing runs until it is fixed
            for row in checks.values():
                if row.problem is None:
                    row.ok, row.problem = False, f"reasoning is off: {off}"
                    row.fix = f"reasoning stays off until this is fixed: {off}"
        saved, detail = (False, why_not) if deps is None else await _stored(deps, endpoints, reports)
    finally:
        await client.aclose()  # also when it is the deps' own client: closing twice is harmless
        if deps is not None:
            await deps.aclose()
    return Outcome(list(checks.values()), saved, detail, problems=_lines(checks.values(), "fix"),
                   warnings=_lines(checks.values(), "warning"))


async def _open(settings: Settings) -> tuple[Any, str]:
    """Deps on the database when it can be used (embedded SQLite migrated first), else None and why not."""
    from honcho_server.services.deps import Deps
    from honcho_server.store.engine import Database, is_embedded
    from honcho_server.store.migrate import current_and_head, upgrade

    deps = None
    try:
        if is_embedded(settings.db.url):
            await asyncio.to_thread(upgrade, settings.db.url)
        deps = Deps(db=Database(settings.db.url, settings.db), settings=settings)
        current, head = await asyncio.wait_for(current_and_head(deps.db.engine), DB_TIMEOUT)
    except Exception as exc:  # unreachable server, bad credentials, unwritable file...
        if deps is not None:
            await deps.aclose()
        return None, f"the database could not be opened ({_one_line(exc)})"
    if current != head:
        await deps.aclose()
        state = "has no schema yet" if current is None else f"is at schema revision {current}, not {head}"
        return None, f"the database {state} (run `honcho-server migrate`)"
    return deps, ""


async def _probe(client: Any, task: str) -> Any:
    from honcho_server.llm.probe import ProbeReport

    try:
        return await client.probe(task)
    except Exception as exc:  # the probe catches what endpoints do; this is anything else
        return ProbeReport(error=f"the check itself failed: {_one_line(exc)}")


async def _stored(deps: Any, endpoints: list[Any], reports: list[Any]) -> tuple[bool, str]:
    """Whether what every complete probe learned is in the database now (read back as /health reads it)."""
    from honcho_server.services import llm_status

    learned = {e.key: r.capabilities for e, r in zip(endpoints, reports, strict=True) if r.complete}
    if not learned:
        return False, "no probe completed"
    try:
        found = {s.endpoint.key: s.capabilities for s in await llm_status.stored(deps)}
    except Exception as exc:
        return False, f"the database could not be read back ({_one_line(exc)})"
    if any(found.get(key) != caps for key, caps in learned.items()):
        return False, "the database did not take them (see the log above)"
    return True, "stored in the database: every server and worker process uses them"


def _fill(row: TaskCheck, settings: Settings, endpoint: Any, report: Any) -> None:
    """The task's row from its endpoint's probe: can it work, and if not, what to change."""
    from honcho_server.llm import capabilities, models

    row.provider, row.model, row.base_url = endpoint.provider, endpoint.model, endpoint.base_url
    row.reachable, row.auth_ok, row.sample = report.reachable, report.auth_ok, report.sample
    row.latency_ms = round(report.latency_ms, 1) if report.latency_ms is not None else None
    caps = report.capabilities
    row.capabilities = {k: v for k, v in caps.as_dict().items() if k not in ("source", "checked_at")}
    name = f"{endpoint.provider}/{endpoint.model}"
    where = endpoint.base_url or "the provider's default URL"
    error = report.error or ""
    if not report.reachable:
        row.problem = error or "unreachable"
        why = error.removeprefix("unreachable: ")
        row.fix = (f"{name} is unreachable at {where} ({why}): check {_env(settings, row.task, 'base_url')} and "
                   "that the server is running")
        return
    if report.auth_ok is False:
        row.problem = error
        row.fix = f"{name}: {error}: set {_key_env(settings, row.task)} to a key this endpoint accepts"
        return
    if report.latency_ms is None:  # the plain request failed: the task cannot run
        row.problem = error
        if "HTTP 404" in error:
            row.fix = (f"{name}: {error}: check {_env(settings, row.task, 'model')} (a model this endpoint serves) "
                       f"and {_env(settings, row.task, 'base_url')}")
        else:
            row.fix = f"{name}: {error}: check the endpoint ({where}) and its logs"
        return
    row.ok = True
    if not report.complete:
        row.warning = (f"{name}: the probe stopped early ({error}); features not checked are shown unknown and "
                       "nothing was stored: run the check again")
    spec = models.resolve(settings.llm, row.task)
    if row.task.startswith("dialectic_"):
        rounds = settings.dialectic.level(row.task.removeprefix("dialectic_")).tool_rounds
        row.mode = "tools" if caps.usable("tools") and rounds > 0 else "one call, no tools"
    elif row.task in STRUCTURED:
        native = models.native_possible(models.build(spec, caps))
        row.mode = capabilities.structured_modes(caps, spec.output_mode, native)[0]
    else:
        row.mode = "text"


def _env(settings: Settings, task: str, name: str) -> str:
    """The setting that holds `name` for `task`: its own override when it has one, else the section's."""
    own = getattr(settings.llm, task)
    if getattr(own, name) is not None:
        return f"HONCHO_LLM__{task.upper()}__{name.upper()}"
    return f"HONCHO_LLM__{name.upper()}"


def _key_env(settings: Settings, task: str) -> str:
    own = getattr(settings.llm, task)
    provider = own.provider or settings.llm.provider
    names = [_env(settings, task, "api_key"), *PROVIDER_KEY_ENV.get(provider, ())]
    return " or ".join(names)


def _lines(rows: Any, what: str) -> list[str]:
    """One line per distinct fix (or warning), after the tasks it concerns."""
    tasks: dict[str, list[str]] = {}
    for row in rows:
        if text := getattr(row, what):
            tasks.setdefault(text, []).append(row.task)
    return [f"{'every task' if set(names) == set(LLM_TASKS) else ', '.join(names)}: {text}"
            for text, names in tasks.items()]


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


# --------------------------------------------------------------------------------------------------- the output

def _print(outcome: Outcome) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    if not console.is_terminal:  # piped or captured: one line per row, however wide
        console = Console(width=240)
    table = Table(title="LLM endpoints, per task")
    for header in ("task", "provider/model", "reachable", "auth ok", "tools", "forced tool choice", "json_schema",
                   "streaming", "latency", "mode", "sample"):
        table.add_column(header, overflow="ellipsis", no_wrap=header == "sample")
    for row in outcome.tasks:
        if row.provider is None:  # a configuration problem: nothing was probed
            table.add_row(row.task, "-", *["-"] * 8, "[red]not configured[/red]")
            continue
        caps = row.capabilities or {}
        streaming = caps.get("streaming", "-")
        if streaming == YES:
            streaming = f"yes (usage {caps.get('stream_usage')})"
        latency = f"{row.latency_ms:.0f} ms" if row.latency_ms is not None else "-"
        sample = row.sample if len(row.sample) <= SAMPLE_CHARS else row.sample[:SAMPLE_CHARS - 1] + "…"
        table.add_row(row.task, f"{row.provider}/{row.model}", _yes_no(row.reachable), _yes_no(row.auth_ok),
                      caps.get("tools", "-"), caps.get("forced_tool_choice", "-"), caps.get("json_schema", "-"),
                      streaming, latency, row.mode or "-", escape(sample))
    console.print(table)
    for line in outcome.problems:
        console.print(f"[red]problem[/red] {escape(line)}")
    for line in outcome.warnings:
        console.print(f"[yellow]warning[/yellow] {escape(line)}")
    console.print(("Results " + outcome.saved_detail) if outcome.saved else
                  f"Results were not saved: {escape(outcome.saved_detail)}.")
    console.print("Every task can work." if outcome.ok else
                  "[red]Some tasks cannot work[/red]: fix the problems above and run the check again.")


def _yes_no(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")
