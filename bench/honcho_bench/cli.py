"""`python bench/run.py ...`: measure the server on public benchmarks through its own service layer."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import tempfile
import threading
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from honcho_bench import chat_bench
from honcho_bench import cost_bench as cb
from honcho_bench import retrieval_bench as rb
from honcho_bench.fake_llm import FakeLLM
from honcho_server.config import DeriverSettings, EmbeddingSettings, Settings, load_settings
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


class OutputMode(enum.StrEnum):
    tool = "tool"
    prompted = "prompted"


def _locomo(path: Path | None, conversation: int) -> list[rb.Conversation]:
    """The LoCoMo conversations, with `conversation` known to be one of them (exit 2 otherwise)."""
    try:
        conversations = rb.load_dataset("locomo", path)
    except (OSError, ValueError, KeyError) as exc:
        typer.echo(f"Cannot load locomo from {path or rb.DEFAULT_PATHS['locomo']}: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    if conversation >= len(conversations):
        typer.echo(f"--conversation {conversation}: the dataset has {len(conversations)} (0-"
                   f"{len(conversations) - 1})", err=True)
        raise typer.Exit(code=2)
    return conversations


@bench_app.command("cost")
def cost(
    path: Annotated[Path | None, typer.Argument(help="LoCoMo folder or file (default: the shared copy)")] = None,
    conversation: Annotated[int, typer.Option("--conversation", min=0, help="Which LoCoMo conversation (0-9)")] = 0,
    limit: Annotated[int | None, typer.Option("--messages", min=1, help="Only the first M messages")] = None,
    output_mode: Annotated[OutputMode, typer.Option(
        "--output-mode", help="How structured answers are asked for: tool (function calling, what OpenAI, "
        "Anthropic and Gemini get) or prompted (schema in the prompt, local models)")] = OutputMode.tool,
    batch_tokens: Annotated[int | None, typer.Option(min=0, help="Ours: deriver.batch_tokens (default: ours)")] = None,
    max_input_tokens: Annotated[int | None, typer.Option(
        min=256, help="Ours: deriver.max_input_tokens (default: ours)")] = None,
    quiet_seconds: Annotated[float | None, typer.Option(
        min=0, help="Ours: deriver.quiet_seconds (default: ours)")] = None,
    flush_seconds: Annotated[float | None, typer.Option(
        min=0, help="Ours: deriver.flush_seconds (default: ours)")] = None,
    reference_flush_seconds: Annotated[float, typer.Option(
        min=0, help="The reference's age flush (REPRESENTATION_BATCH_MAX_AGE_SECONDS)")] = cb.REFERENCE.flush_seconds,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """LLM input and output tokens per 100 ingested messages (deriver + summaries) on a LoCoMo conversation,
    for our batching and the reference server's (512-token gate, 1,800 s age flush, windows of at most 1,024
    tokens) side by side, measured in one run against a recording fake model on loopback.

    The conversation is replayed as a live chat (one create call per message at its dataset time, the worker
    drained after each on a clock that follows those times), each configuration on a fresh SQLite database,
    with the same prompts. Input tokens are what the server really sends (o200k_base count of every message,
    tool and schema sent). Output tokens depend on the fake: one conclusion of at most 25 tokens per message of
    the target peer with 5+ words, and summaries of 0.8 x the asked word limit (capped by the material). The
    reference's own deriver prompt is longer (three worked examples), so its column is a lower bound."""
    err = Console(stderr=True)
    conversations = _locomo(path, conversation)
    overrides = dict(batch_tokens=batch_tokens, max_input_tokens=max_input_tokens, quiet_seconds=quiet_seconds,
                     flush_seconds=flush_seconds)
    try:
        ours = DeriverSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        typer.echo(f"Invalid deriver settings: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    reference = cb.REFERENCE.model_copy(update=dict(quiet_seconds=reference_flush_seconds,
                                                    flush_seconds=reference_flush_seconds))
    with tempfile.TemporaryDirectory(prefix="honcho-cost-") as scratch:
        report = asyncio.run(cb.run(conversations[conversation], conversation, limit=limit, scratch=Path(scratch),
                                    output_mode=output_mode.value, ours=ours, reference=reference,
                                    progress=lambda line: err.print(f"[dim]{line}")))
    if as_json:
        typer.echo(json.dumps(cb.as_dict(report), indent=2))
    else:
        print_cost_report(Console(), report)


def print_cost_report(console: Console, report: cb.Report) -> None:
    ours, reference = report.configurations
    console.print(f"[bold]LLM cost of ingestion[/bold]: LoCoMo conversation {report.conversation} "
                  f"({report.conversation_id}), {report.messages} messages in {report.sessions} sessions, "
                  f"{report.conversation_tokens:,} conversation tokens; {report.output_mode} output, fake model; "
                  f"reference = the reference server's batching with our prompts")
    table = Table(show_edge=False)
    table.add_column("", no_wrap=True)
    for column in (ours.label, "reference", "ours/ref"):
        table.add_column(column, justify="right", no_wrap=True)

    def row(label: str, a: float, b: float, *, ratio: bool = True, style: str | None = None) -> None:
        shown = f"{a / b:.2f}" if ratio and b else ""
        table.add_row(label, _number(a), _number(b), shown, style=style)

    table.add_row("batch tokens/window/quiet/flush",
                  *(f"{r.batch_tokens}/{r.max_input_tokens}/{r.quiet_seconds:g}s/{r.flush_seconds:g}s"
                    for r in (ours, reference)), "")
    row("messages", ours.messages, reference.messages, ratio=False)
    row("conversation tokens", ours.conversation_tokens, reference.conversation_tokens, ratio=False)
    for task in cb.TASKS:
        a, b = ours.tasks[task], reference.tasks[task]
        row(f"{task} calls", a.calls, b.calls)
        row(f"{task} input tokens", a.input_tokens, b.input_tokens)
        row(f"{task} output tokens", a.output_tokens, b.output_tokens)
    for key, label in (("calls", "calls"), ("input_tokens", "input tokens"), ("output_tokens", "output tokens")):
        row(f"per 100 messages: {label}", ours.per_100_messages[key], reference.per_100_messages[key],
            style="bold")
    row("conclusions stored", ours.conclusions, reference.conclusions)
    console.print(table)
    failed = {r.label: r.jobs for r in (ours, reference)
              if any(state != "done" for states in r.jobs.values() for state in states)}
    if failed:
        console.print(f"[red]jobs not done after the final drain: {failed}")
    for note in report.notes:
        console.print(f"[dim]- {note}")
    console.print(f"[dim]{report.total_seconds:.1f} s")


def _number(value: float) -> str:
    return f"{value:,.1f}" if isinstance(value, float) and not value.is_integer() else f"{value:,.0f}"


@bench_app.command("chat")
def chat(
    path: Annotated[Path | None, typer.Argument(help="LoCoMo folder or file (default: the shared copy)")] = None,
    conversation: Annotated[int, typer.Option("--conversation", min=0, help="Which LoCoMo conversation (0-9)")] = 0,
    limit: Annotated[int | None, typer.Option("--messages", min=1, help="Only the first M messages")] = None,
    questions: Annotated[int, typer.Option("--questions", min=1, help="Questions asked at each level")] = 10,
    turns: Annotated[int | None, typer.Option(
        "--turns", min=0, help="Tool turns the fake model takes at most (default: all the level allows)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """Dialectic chat at each reasoning level against a recording fake model: input and output tokens, tool turns,
    requests, wall time and time to the first streamed delta per chat, on a memory built from a LoCoMo
    conversation (messages derived into conclusions by the worker with the same fake). The fake uses every tool
    turn a level allows (its worst case); input tokens are measured, output tokens depend on the fake."""
    err = Console(stderr=True)
    conversations = _locomo(path, conversation)
    if not conversations[conversation].questions:
        typer.echo(f"conversation {conversation} has no questions to ask", err=True)
        raise typer.Exit(code=2)
    with tempfile.TemporaryDirectory(prefix="honcho-chat-") as scratch:
        report = asyncio.run(chat_bench.run(conversations[conversation], conversation, limit=limit,
                                            questions=questions, scratch=Path(scratch), turns=turns,
                                            progress=lambda line: err.print(f"[dim]{line}")))
    if as_json:
        typer.echo(json.dumps(chat_bench.as_dict(report), indent=2))
    else:
        print_chat_report(Console(), report)


def print_chat_report(console: Console, report: chat_bench.Report) -> None:
    console.print(f"[bold]Dialectic chat[/bold]: LoCoMo conversation {report.conversation} "
                  f"({report.conversation_id}), memory of {report.messages} messages in {report.sessions} sessions "
                  f"and {report.conclusions} conclusions (built in {report.build_seconds:.1f} s); "
                  f"{len(report.questions)} questions per level, streamed peer chats, fake model")
    table = Table(show_edge=False)
    columns = ("level", "turns\nallowed", "output\ncap", "read-\nahead", "tool\nturns", "requests",
               "input\ntokens", "output\ntokens", "wall ms\np50", "wall ms\np95", "1st delta\nms p50",
               "1st delta\nms p95")
    for column in columns:
        table.add_column(column, justify="left" if column == "level" else "right")
    for row in report.levels:
        table.add_row(row.level, str(row.tool_turns_allowed), _number(row.output_cap), str(row.prefetch),
                      f"{row.tool_rounds:g}", f"{row.requests:g}", _number(row.input_tokens),
                      _number(row.output_tokens), f"{row.wall_ms_p50:.0f}", f"{row.wall_ms_p95:.0f}",
                      f"{row.first_delta_ms_p50:.0f}", f"{row.first_delta_ms_p95:.0f}")
    console.print(table)
    console.print(f"[dim](each level: {report.levels[0].chats if report.levels else 0} chats; tool turns, requests "
                  "and tokens are means per chat)")
    for note in report.notes:
        console.print(f"[dim]- {note}")
    console.print(f"[dim]{report.total_seconds:.1f} s")


@bench_app.command("fake-model")
def fake_model(
    port: Annotated[int, typer.Option(min=0, max=65535, help="Loopback port (0: a free one)")] = 8199,
) -> None:
    """Serve the bench's fake OpenAI-compatible chat model on loopback until Ctrl-C: a stand-in for a real model
    when trying the server's reasoning or examples/ offline (it derives one conclusion per longer message, writes
    summaries from the material, answers anything else with "OK"; no embeddings)."""
    with FakeLLM(port=port) as fake:
        typer.echo(f"fake model on {fake.base_url} (any model name, any key; Ctrl-C to stop)")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            typer.echo("stopped")
