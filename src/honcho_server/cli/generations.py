"""`honcho-server rederive` and `honcho-server generations ...` (docs/generations.md): re-derive a workspace's
memory into a new generation, with the estimate printed before anything is queued, then follow it; list, show,
compare, activate, roll back, retire and delete generations, as the HTTP routes do.

The commands open the database as every local command does (`main._with_deps`, handed in by `register`: this
module cannot import main, which imports it). They act as the operator: no key is needed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from honcho_server.domain.generations import PromptOverhead
    from honcho_server.services.deps import Deps
    from honcho_server.services.generations import GenerationInfo, StartRequest

# main._with_deps: opens the database named by --db (schema checked), runs the coroutine, closes it; an unknown
# workspace exits with status 2.
Runner = Callable[[str | None, Callable[["Deps"], Awaitable[Any]]], Any]
REFUSED = 1  # a refusal the operator can act on (state, cap, input); 2 is for command-line and database failures
POLL_SECONDS = 2.0

DbOption = Annotated[str | None, typer.Option("--db", help="Database URL (sqlite:///... or postgresql://...)")]
Workspace = Annotated[str, typer.Option("--workspace", help="The workspace (its name)")]
Ref = Annotated[str, typer.Argument(help="A generation: its id (g2) or its name")]


def register(app: typer.Typer, run: Runner) -> None:
    """Add `rederive` and the `generations` group to the command line."""
    commands = _Commands(run)
    app.command("rederive")(commands.rederive)
    group = typer.Typer(help="Generations of a workspace's derived memory: list, show, compare, activate, "
                        "rollback, retire, delete.", no_args_is_help=True, add_completion=False)
    for name in ("list", "show", "compare", "activate", "rollback", "retire", "delete"):
        group.command(name)(getattr(commands, name if name != "list" else "list_"))
    app.add_typer(group, name="generations")


def _refuse(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(REFUSED)


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO date or time (e.g. 2026-01-31 or 2026-01-31T12:00Z)",
                                 param_hint="--since") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _models(model: str | None, task_models: list[str]) -> dict[str, dict[str, Any]]:
    """`--model M` for every deriving task, then `--task-model task=M` per task."""
    found: dict[str, dict[str, Any]] = {"*": {"model": model}} if model else {}
    for item in task_models:
        task, sep, name = item.partition("=")
        if not (sep and task.strip() and name.strip()):
            raise typer.BadParameter(f"{item!r}: write task=model, e.g. deriver=gpt-4o-mini",
                                     param_hint="--task-model")
        found.setdefault(task.strip(), {})["model"] = name.strip()
    return found


def _prompts() -> tuple[str, PromptOverhead]:
    from honcho_server.reasoning import prompts

    overhead: PromptOverhead = prompts.overhead()
    return prompts.digest(), overhead


class _Commands:
    """The commands, sharing the way the database is opened."""

    def __init__(self, run: Runner) -> None:
        self._run = run

    def _call(self, db: str | None, use: Callable[[Deps], Awaitable[Any]]) -> Any:
        """Run `use`; a refusal of the service (conflict, bad input, reasoning off) is said in one line."""
        from honcho_server.errors import HonchoError, NotFound

        try:
            return self._run(db, use)
        except NotFound:
            raise
        except HonchoError as exc:
            raise _refuse(exc.message) from None

    def rederive(
        self, workspace: Workspace, db: DbOption = None,
        peer: Annotated[str | None, typer.Option(help="Only what concerns this peer")] = None,
        since: Annotated[str | None, typer.Option(help="Only messages from this time on (ISO 8601)")] = None,
        session: Annotated[list[str] | None, typer.Option("--session", help="Only this session (repeatable)")] = None,
        name: Annotated[str | None, typer.Option(help="A name for the new generation")] = None,
        max_cost: Annotated[float | None, typer.Option("--max-cost", min=0, help="Refuse above this cost (USD)")]
        = None,
        model: Annotated[str | None, typer.Option(help="The model of every deriving task")] = None,
        task_model: Annotated[list[str] | None, typer.Option(
            "--task-model", help="task=model for one task: deriver, summary or dream (repeatable)")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the estimate and stop")] = False,
        yes: Annotated[bool, typer.Option("--yes", "-y", help="Start without asking")] = False,
        no_wait: Annotated[bool, typer.Option("--no-wait", help="Return once the jobs are queued")] = False,
    ) -> None:
        """Re-derive a workspace's memory into a new generation, with other models.

        Only the part --peer, --since, --session name when given (the rest is copied from the active generation).
        The estimate comes first, then (asked unless --yes) the jobs are queued, then a progress bar follows them
        until the generation is ready. Ctrl-C stops watching; the generation keeps building in the worker."""
        from honcho_server.cli import generation_views as views
        from honcho_server.services import generations
        from honcho_server.services.generations import CostCapRefused, StartRequest

        request = StartRequest(name=name, models=_models(model, task_model or []), peer=peer, since=_since(since),
                               sessions=session or None, max_cost_usd=max_cost)
        digest, overhead = _prompts()
        planned = self._call(db, lambda deps: generations.plan(deps, workspace, request, digest, overhead))
        out = views.console()
        views.estimate(out, planned.estimate, max_cost)  # before anything is queued
        try:
            generations.check_cap(planned.estimate, max_cost)
        except CostCapRefused as exc:
            raise _refuse(exc.message) from None
        if dry_run:
            typer.echo("Dry run: nothing was started.")
            return
        if not yes and not typer.confirm(f"Start re-deriving workspace {workspace}?", default=False):
            raise _refuse("Nothing was started.")
        started = self._call(db, lambda deps: self._start(deps, workspace, request, digest, overhead, no_wait))
        if started is not None and started.generation.state == "failed":
            raise _refuse(f"{started.generation.public_id} failed: {started.generation.error or 'no reason given'}")

    async def _start(self, deps: Deps, workspace: str, request: StartRequest, digest: str, overhead: PromptOverhead,
                     no_wait: bool) -> GenerationInfo | None:
        from honcho_server.services import generations

        made, _ = await generations.start(deps, workspace, request, digest, overhead, started_by="cli")
        assert made is not None  # not a dry run
        jobs = made.progress.get("total", 0)
        typer.echo(f"{made.public_id} is building: {jobs} jobs queued (a worker runs them: `honcho-server serve` or "
                   "`honcho-server worker`).")
        if no_wait:
            typer.echo(f"Follow it with `honcho-server generations show --workspace {workspace} {made.public_id}`.")
            return None
        return await _follow(deps, workspace, made.public_id)

    def list_(self, workspace: Workspace, db: DbOption = None) -> None:
        """The workspace's generations with their state, progress, models, usage and cost."""
        from honcho_server.cli import generation_views as views
        from honcho_server.services import generations

        views.generations(views.console(), self._call(db, lambda deps: generations.list_(deps, workspace)))

    def show(self, ref: Ref, workspace: Workspace, db: DbOption = None) -> None:
        """One generation: state, progress, scope, recipe, estimate, usage."""
        from honcho_server.cli import generation_views as views
        from honcho_server.services import generations

        views.generation(views.console(), self._call(db, lambda deps: generations.get(deps, workspace, ref)))

    def compare(self, a: Annotated[str, typer.Argument(help="The baseline generation")],
                b: Annotated[str, typer.Argument(help="The generation compared with it")], workspace: Workspace,
                db: DbOption = None,
                peer: Annotated[str | None, typer.Option(help="Only the memory about this peer")] = None) -> None:
        """Conclusions per pair (only in one, near duplicates), card changes, summaries, usage of each."""
        from honcho_server.cli import generation_views as views
        from honcho_server.services import generation_compare

        found = self._call(db, lambda deps: generation_compare.compare(deps, workspace, a, b, peer))
        views.comparison(views.console(), found)

    def activate(self, ref: Ref, workspace: Workspace, db: DbOption = None) -> None:
        """Serve this generation from now on (it must be ready or retired)."""
        from honcho_server.services import generations

        info = self._call(db, lambda deps: generations.activate(deps, workspace, ref))
        typer.echo(f"{info.generation.public_id} is active in workspace {workspace}"
                   + (f" (rollback returns to {info.previous})" if info.previous else ""))

    def rollback(self, workspace: Workspace, db: DbOption = None) -> None:
        """Activate again the generation that was active before the active one."""
        from honcho_server.services import generations

        info = self._call(db, lambda deps: generations.rollback(deps, workspace))
        typer.echo(f"{info.generation.public_id} is active again in workspace {workspace}")

    def retire(self, ref: Ref, workspace: Workspace, db: DbOption = None) -> None:
        """Stop deriving into a ready generation; it is kept and can be activated again."""
        from honcho_server.services import generations

        info = self._call(db, lambda deps: generations.retire(deps, workspace, ref))
        typer.echo(f"{info.generation.public_id} is retired")

    def delete(self, ref: Ref, workspace: Workspace, db: DbOption = None,
               yes: Annotated[bool, typer.Option("--yes", "-y", help="Delete without asking")] = False) -> None:
        """Delete a generation (not the active one) with its conclusions, summaries and peer cards."""
        from honcho_server.services import generations

        if not yes and not typer.confirm(f"Delete generation {ref} of workspace {workspace} and everything "
                                         "derived into it?", default=False):
            raise _refuse("Nothing was deleted.")
        receipt = self._call(db, lambda deps: generations.delete(deps, workspace, ref))
        counts = receipt["counts"]
        typer.echo(f"deleted {receipt['deleted']['id']}: {counts['conclusions_removed']} conclusions, "
                   f"{counts['summaries_removed']} summaries, {counts['cards_removed']} peer cards, "
                   f"{counts['jobs_cancelled']} pending jobs")


async def _follow(deps: Deps, workspace: str, ref: str) -> GenerationInfo:
    """A progress bar of the generation's jobs until it is ready or failed (Ctrl-C stops watching only)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from honcho_server.services import generations

    try:
        with Progress(TextColumn(f"building {ref}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as bar:
            task = bar.add_task(ref, total=None)
            while True:
                info = await generations.get(deps, workspace, ref)
                progress = info.generation.progress
                bar.update(task, completed=progress.get("done", 0), total=progress.get("total"))
                if info.generation.state != "building":
                    break
                await asyncio.sleep(POLL_SECONDS)
    except (KeyboardInterrupt, asyncio.CancelledError):
        typer.echo(f"Stopped watching: {ref} keeps building in the background "
                   f"(`honcho-server generations show --workspace {workspace} {ref}`).")
        raise typer.Exit(130) from None
    if info.generation.state == "ready":
        active = next((i.generation.public_id for i in await generations.list_(deps, workspace)
                       if i.generation.state == "active"), "g1")
        typer.echo(f"{ref} is ready. Compare it: `honcho-server generations compare --workspace {workspace} "
                   f"{active} {ref}`; switch to it: `honcho-server generations activate --workspace {workspace} "
                   f"{ref}`.")
    return info
