"""`honcho-server bench ...`: measure the server on public benchmarks through its own service layer."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from honcho_server.cli import retrieval_bench as rb
from honcho_server.config import EmbeddingSettings, Settings, load_settings
from honcho_server.errors import EmbeddingSpaceMismatch

bench_app = typer.Typer(help="Benchmarks run through the server's own services.", no_args_is_help=True,
                        add_completion=False)


@bench_app.callback()
def bench() -> None:
    """Benchmarks run through the server's own services (no HTTP in the measured path)."""


class DatasetName(enum.StrEnum):
    locomo = "locomo"
    beam = "beam"


@bench_app.command("retrieval")
def retrieval(
    dataset: Annotated[DatasetName, typer.Option("--dataset", help="locomo or beam")],
    path: Annotated[Path | None, typer.Argument(help="Dataset folder or file (default: the shared copy)")] = None,
    db: Annotated[str | None, typer.Option("--db", help="Database URL (default: a temporary SQLite file)")] = None,
    limit_conversations: Annotated[int | None, typer.Option("--limit-conversations", min=1,
                                                            help="Only the first N conversations")] = None,
    provider: Annotated[str | None, typer.Option(help="Embedding provider (local, openai, gemini, hash)")] = None,
    model: Annotated[str | None, typer.Option(help="Embedding model")] = None,
    dimensions: Annotated[int | None, typer.Option(min=1, help="Embedding dimensions")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """Ingest a retrieval benchmark, ask every question through workspace message search, report recall@5/10/20
    of the evidence messages and timings. Reasoning, summaries, peer cards and dreams are off for the run."""
    err = Console(stderr=True)
    try:
        conversations = rb.load_dataset(dataset.value, path)
    except (OSError, ValueError, KeyError) as exc:
        typer.echo(f"Cannot load {dataset.value} from {path or rb.DEFAULT_PATHS[dataset.value]}: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    conversations = conversations[:limit_conversations] if limit_conversations else conversations
    with tempfile.TemporaryDirectory(prefix="honcho-bench-") as scratch:
        url = db or f"sqlite:///{Path(scratch) / 'bench.db'}"
        try:
            settings = bench_settings(url, provider=provider, model=model, dimensions=dimensions)
            asyncio.run(rb.embedder_id(settings))  # an unusable embedder is refused before any work
        except (ValidationError, ValueError) as exc:
            typer.echo(f"Invalid embedding settings: {exc}", err=True)
            raise typer.Exit(code=2) from exc
        try:
            report = asyncio.run(rb.run(settings, dataset.value, conversations,
                                        progress=lambda line: err.print(f"[dim]{line}")))
        except EmbeddingSpaceMismatch as exc:
            typer.echo(f"{exc} (use another --db, or the database's own embedder)", err=True)
            raise typer.Exit(code=2) from exc
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(report), indent=2))
    else:
        print_report(Console(), report, temporary=db is None)


def bench_settings(url: str, *, provider: str | None = None, model: str | None = None,
                   dimensions: int | None = None) -> Settings:
    """Settings from the environment with the run's database and embedder; background reasoning is switched
    off (a retrieval run must not call an LLM), so messages queue embedding work only."""
    settings = load_settings()
    settings.db.url = url
    current = settings.embedding.model_dump()
    if provider is not None and provider.strip().lower() != settings.embedding.provider:
        current.update(model=None, dimensions=None)  # the environment's model belongs to another provider
    current.update({k: v for k, v in dict(provider=provider, model=model, dimensions=dimensions).items()
                    if v is not None})
    settings.embedding = EmbeddingSettings.model_validate(current)
    settings.defaults = settings.defaults.model_copy(update=dict(
        reasoning_enabled=False, summary_enabled=False, peer_card_enabled=False, dream_enabled=False))
    return settings


def print_report(console: Console, report: rb.Report, *, temporary: bool = False) -> None:
    facts = Table.grid(padding=(0, 2))
    jobs = "; ".join(f"{kind} " + ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
                     for kind, states in sorted(report.jobs.items()))
    for key, value in (
        ("dataset", report.dataset),
        ("embedder", report.embedder),
        ("database", "temporary SQLite file (deleted)" if temporary else report.database),
        ("data", f"{report.conversations} conversations, {report.messages} messages "
                 f"({report.stored_messages} stored), {report.questions} questions"),
        ("ingest", f"{report.ingest_seconds:.2f} s, {report.messages_per_second:.0f} msg/s"),
        ("worker drain", f"{report.drain_seconds:.2f} s, {report.jobs_run} jobs run"),
        ("jobs after", jobs or "none"),
        ("search latency", f"p50 {report.latency_p50_ms:.1f} ms, p95 {report.latency_p95_ms:.1f} ms"),
        ("total", f"{report.total_seconds:.1f} s"),
    ):
        facts.add_row(f"[bold]{key}", value)
    console.print("[bold]Retrieval benchmark[/bold]")
    console.print(facts)
    console.print(recall_table(report))


def recall_table(report: rb.Report) -> Table:
    table = Table(show_edge=False)
    for column in ("category", "questions", *(f"recall@{k}" for k in rb.KS)):
        table.add_column(column, justify="left" if column == "category" else "right")
    table.add_row("all", str(report.questions), *(f"{report.recall[f'recall@{k}']:.3f}" for k in rb.KS),
                  style="bold")
    for category, row in report.by_category.items():
        label = category
        if report.dataset == "locomo" and category in rb.LOCOMO_CATEGORY_NAMES:
            label = f"{category} {rb.LOCOMO_CATEGORY_NAMES[category]}"
        table.add_row(label, str(row["questions"]), *(f"{row[f'recall@{k}']:.3f}" for k in rb.KS))
    return table
