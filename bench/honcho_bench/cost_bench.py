"""Cost benchmark: LLM tokens per 100 ingested messages (deriver + summaries) on one LoCoMo conversation, for our
batching and for the reference server's, measured in the same run against a recording fake model.

The conversation is replayed as a live chat: one create call per message, in order, through the message service
(LoCoMo sessions -> sessions, speakers -> peers, each message at its dataset time), and after each call the
worker runs until nothing is due, with the services' clock at that message's time, so the quiet-period and age
flushes (`deriver.quiet_seconds`, `deriver.flush_seconds`) behave as they would in real time. At the end the
clock moves past the flush delay and the worker drains once more, so every message is derived. Each
configuration gets a fresh SQLite database and the same prompts; only the batching settings differ. Tokens are
read back from the `llm_calls` accounting the server keeps for every LLM call (services/llm_usage.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from honcho_bench import retrieval_bench as rb
from honcho_bench.fake_llm import FACT_MAX_TOKENS, FACT_MIN_WORDS, SUMMARY_WORDS, FakeLLM
from honcho_server import clock as wall_clock
from honcho_server.config import DeriverSettings, EmbeddingSettings, LLMSettings, ReasoningDefaults, Settings
from honcho_server.services import llm_usage, messages
from honcho_server.services.deps import Deps
from honcho_server.services.embedding import prepare_vectors
from honcho_server.store.engine import Database
from honcho_server.store.migrate import upgrade
from honcho_server.store.tables import conclusions as conclusions_table
from honcho_server.worker.runtime import Worker

WORKSPACE = "cost-bench"
TASKS = ("deriver", "summary")
# The reference server's batching (Honcho 3.0.12): a sender's queued messages are derived once they reach 512
# tokens (REPRESENTATION_BATCH_WORK_UNIT_TARGET_TOKENS) or the oldest waited 1,800 s
# (REPRESENTATION_BATCH_MAX_AGE_SECONDS), in windows of at most 1,024 conversation tokens
# (REPRESENTATION_BATCH_TARGET_INPUT_TOKENS); summaries every 20 / 60 messages, as ours. It has no quiet-period
# flush: its only timer is the age flush (quiet_seconds = flush_seconds says so here).
REFERENCE = DeriverSettings(batch_tokens=512, max_input_tokens=1024, quiet_seconds=1800, flush_seconds=1800)

NOTES = (
    "Input tokens are measured: the o200k_base count of everything the server sends (every message of the "
    "request, plus tool or schema JSON).",
    f"Output tokens depend on the fake model: the deriver answers one conclusion of at most {FACT_MAX_TOKENS} "
    f"tokens per message of the target peer with {FACT_MIN_WORDS}+ words; a summary uses {SUMMARY_WORDS:.0%} of "
    "the word limit it is given, capped by the material it summarises.",
    "Both columns use our prompts, so their ratio isolates batching. The reference's own deriver prompt is longer "
    "(three worked examples), so its column is a lower bound of what the reference really spends.",
    "Live chat replay: one create call per message at its LoCoMo time (sessions' dates, 30 s between turns), the "
    "worker drained after each call on a clock that follows those times.",
)


@dataclass(slots=True)
class Configuration:
    name: str
    label: str
    deriver: DeriverSettings


@dataclass(slots=True)
class TaskCost:
    calls: int = 0
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    failed: int = 0


@dataclass(slots=True)
class Result:
    name: str
    label: str
    batch_tokens: int
    max_input_tokens: int
    quiet_seconds: float
    flush_seconds: float
    messages: int
    conversation_tokens: int
    tasks: dict[str, TaskCost]
    per_100_messages: dict[str, float]
    conclusions: int
    jobs: dict[str, dict[str, int]]
    seconds: float


@dataclass(slots=True)
class Report:
    dataset: str
    conversation: int
    conversation_id: str
    messages: int
    sessions: int
    conversation_tokens: int
    output_mode: str
    embedder: str
    configurations: list[Result]
    ratio: dict[str, float | None] = field(default_factory=dict)  # ours / reference
    notes: list[str] = field(default_factory=lambda: list(NOTES))
    total_seconds: float = 0.0


def configurations(ours: DeriverSettings | None = None, reference: DeriverSettings | None = None
                   ) -> list[Configuration]:
    """Ours (the default deriver settings unless given) and the reference's batching (REFERENCE unless given)."""
    return [Configuration("ours", "ours", ours or DeriverSettings()),
            Configuration("reference", "reference batching", reference or REFERENCE)]


class Clock:
    """The services' clock, moved by the replay."""

    def __init__(self, start: datetime) -> None:
        self.at = start

    def __call__(self) -> datetime:
        return self.at


def run_settings(url: str, deriver: DeriverSettings, base_url: str, output_mode: str) -> Settings:
    """Settings as loaded (defaults unless the environment says otherwise) with the run's database, an offline
    embedder, the fake model, the batching under test and the reasoning defaults (dreams off: not measured)."""
    settings = Settings()
    settings.db.url = url
    settings.embedding = EmbeddingSettings(provider="hash")
    settings.llm = LLMSettings.model_validate(dict(provider="openai-compatible", model="bench-fake",
                                                   base_url=base_url, output_mode=output_mode))
    settings.deriver = deriver.model_copy()
    settings.defaults = ReasoningDefaults(dream_enabled=False)
    return settings


Progress = Callable[[str], None]


async def run(conversation: rb.Conversation, index: int, *, limit: int | None, scratch: Path,
              output_mode: str = "tool", ours: DeriverSettings | None = None,
              reference: DeriverSettings | None = None, progress: Progress | None = None) -> Report:
    say = progress or (lambda _: None)
    started = time.perf_counter()
    turns = conversation.turns[:limit] if limit else conversation.turns
    results = []
    with FakeLLM() as fake:
        for config in configurations(ours, reference):
            say(f"{config.label}: replaying {len(turns)} messages")
            fake.reset()
            settings = run_settings(f"sqlite:///{scratch / f'{config.name}.db'}", config.deriver, fake.base_url,
                                    output_mode)
            results.append(await replay(settings, config, turns))
    ours_total, reference_total = (_totals(r) for r in results)
    report = Report(
        dataset="locomo", conversation=index, conversation_id=conversation.id, messages=results[0].messages,
        sessions=len({t.session for t in turns}), conversation_tokens=results[0].conversation_tokens,
        output_mode=output_mode, embedder="hash (offline)", configurations=results,
        ratio={key: _ratio(ours_total[key], reference_total[key]) for key in ours_total})
    report.total_seconds = time.perf_counter() - started
    return report


async def replay(settings: Settings, config: Configuration, turns: list[rb.Turn]) -> Result:
    """One configuration on a fresh database: the live chat, then the final flush; the costs read back."""
    started = time.perf_counter()
    upgrade(settings.db.url)
    clock = Clock(turns[0].created_at if turns else wall_clock.now())
    deps = Deps(db=Database(settings.db.url, settings.db), settings=settings, now=clock)
    try:
        await prepare_vectors(deps)
        worker = Worker(deps)
        created = 0
        tokens = 0
        for turn in turns:
            for new in rb.new_messages([turn]):  # a turn longer than the API accepts is several messages
                clock.at = max(clock.at, new.created_at or clock.at)
                stored = await messages.create(deps, WORKSPACE, rb.safe_name(turn.session), [new])
                created += len(stored)
                tokens += sum(m.token_count for m in stored)
                await worker.drain()
        clock.at += timedelta(seconds=settings.deriver.flush_seconds + 1)
        while await worker.drain():
            pass
        usage = await llm_usage.get(deps, WORKSPACE, None, None) if created else None
        jobs = await rb.count_jobs(deps, [WORKSPACE])
        async with deps.db.read() as conn:
            stored_conclusions = (await conn.execute(select(func.count()).select_from(conclusions_table))).scalar_one()
    finally:
        await deps.aclose()
    tasks = {task: TaskCost() for task in TASKS}
    for row in usage.rows if usage else []:
        cost = tasks.setdefault(row.task, TaskCost())
        cost.calls += row.calls
        cost.requests += row.requests
        cost.input_tokens += row.input_tokens
        cost.output_tokens += row.output_tokens
        cost.failed += row.failed
    result = Result(name=config.name, label=config.label, batch_tokens=config.deriver.batch_tokens,
                    max_input_tokens=config.deriver.max_input_tokens, quiet_seconds=config.deriver.quiet_seconds,
                    flush_seconds=config.deriver.flush_seconds,
                    messages=created, conversation_tokens=tokens, tasks=tasks, per_100_messages={},
                    conclusions=int(stored_conclusions), jobs=jobs, seconds=time.perf_counter() - started)
    totals = _totals(result)
    result.per_100_messages = {key: round(100 * value / created, 1) if created else 0.0
                               for key, value in totals.items()}
    return result


def _totals(result: Result) -> dict[str, int]:
    return {"input_tokens": sum(t.input_tokens for t in result.tasks.values()),
            "output_tokens": sum(t.output_tokens for t in result.tasks.values()),
            "calls": sum(t.calls for t in result.tasks.values())}


def _ratio(ours: float, reference: float) -> float | None:
    return round(ours / reference, 3) if reference else None


def as_dict(report: Report) -> dict[str, Any]:
    return asdict(report)
