"""Chat benchmark: tokens, tool turns, wall time and time to the first streamed delta of the dialectic chat at each
reasoning level, against the recording fake model (fake_llm.py, fake_dialectic.py).

A memory is built first from one LoCoMo conversation: its messages are created session by session through the
message service on a fresh SQLite database, and the worker derives conclusions with the fake (`deriver.flush_seconds`
0: each create call's batch is derived at once; dreams off). Then the same questions (the conversation's own, in
order) are asked at every level as streamed peer chats, through the same service calls the route makes
(`dialectic.prepare`, then `Chat.stream`), as the speaker the question names (else the first speaker), about
themselves. Wall time runs from the request to the last delta, the first delta from the request; both include the
read-ahead (embedding the question, reading the cards and closest conclusions), every tool and every model request
over loopback HTTP; the fake answers at once, so they are the server's own time. Tokens are what the provider
reports: the fake counts o200k_base tokens of everything sent (input) and of what it writes (output).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from honcho_bench import cost_bench as cb
from honcho_bench import retrieval_bench as rb
from honcho_bench.fake_dialectic import ANSWER_TOKENS
from honcho_bench.fake_llm import FakeLLM
from honcho_server.config import DeriverSettings
from honcho_server.reasoning import dialectic
from honcho_server.reasoning.dialectic import ChatRequest
from honcho_server.services.deps import Deps
from honcho_server.services.embedding import prepare_vectors
from honcho_server.store.engine import Database
from honcho_server.store.migrate import upgrade
from honcho_server.store.tables import conclusions as conclusions_table

WORKSPACE = "chat-bench"
NOTES = (
    "The fake model is diligent: it uses every tool turn the level allows (two tool calls per turn), then answers "
    f"in at most {ANSWER_TOKENS} tokens, so each row is the worst case of that level's budget (--turns N makes it "
    "stop after N turns). Input tokens grow with the turns: every request re-sends the conversation so far.",
    "Input tokens are measured (o200k_base count of everything the server sends); output tokens depend on the fake "
    "(its tool calls and its answer).",
    "Wall time and first delta are the server's own time (the fake answers at once over loopback): read-ahead, "
    "tools, pydantic-ai and the OpenAI client, with the hash embedder, after one unmeasured chat per level (a "
    "level's model client is built on its first use); a real model adds its own latency per request.",
)


@dataclass(slots=True)
class Level:
    level: str
    tool_turns_allowed: int
    output_cap: int
    prefetch: int
    chats: int = 0
    tool_rounds: float = 0.0  # per chat, mean
    requests: float = 0.0
    input_tokens: float = 0.0
    output_tokens: float = 0.0
    wall_ms_p50: float = 0.0
    wall_ms_p95: float = 0.0
    first_delta_ms_p50: float = 0.0
    first_delta_ms_p95: float = 0.0


@dataclass(slots=True)
class Report:
    conversation: int
    conversation_id: str
    messages: int
    sessions: int
    conclusions: int
    questions: list[str]
    build_seconds: float
    levels: list[Level]
    notes: list[str] = field(default_factory=lambda: list(NOTES))
    total_seconds: float = 0.0


@dataclass(slots=True)
class _Measured:
    tool_rounds: int
    requests: int
    input_tokens: int
    output_tokens: int
    wall_ms: float
    first_delta_ms: float


Progress = Callable[[str], None]


def _asker(question: str, speakers: list[str]) -> str:
    """The speaker the question names, else the first one."""
    lowered = question.lower()
    return next((s for s in speakers if s.lower() in lowered), speakers[0])


async def ask(deps: Deps, request: ChatRequest) -> _Measured:
    """One streamed chat, timed from the request to the first and the last delta."""
    started = time.perf_counter()
    chat = await dialectic.prepare(deps, request)
    first = None
    async for _ in chat.stream():
        if first is None:
            first = time.perf_counter()
    ended = time.perf_counter()
    reply = chat.reply
    assert reply is not None
    return _Measured(reply.tool_rounds, reply.requests, reply.input_tokens, reply.output_tokens,
                     (ended - started) * 1000, ((first or ended) - started) * 1000)


def _summarise(level: Level, runs: list[_Measured]) -> Level:
    n = len(runs)
    level.chats = n
    if not n:
        return level
    level.tool_rounds = round(sum(r.tool_rounds for r in runs) / n, 2)
    level.requests = round(sum(r.requests for r in runs) / n, 2)
    level.input_tokens = round(sum(r.input_tokens for r in runs) / n, 1)
    level.output_tokens = round(sum(r.output_tokens for r in runs) / n, 1)
    walls, firsts = [r.wall_ms for r in runs], [r.first_delta_ms for r in runs]
    level.wall_ms_p50, level.wall_ms_p95 = (round(rb.percentile(walls, q), 1) for q in (0.5, 0.95))
    level.first_delta_ms_p50, level.first_delta_ms_p95 = (round(rb.percentile(firsts, q), 1) for q in (0.5, 0.95))
    return level


async def build(deps: Deps, conversation: rb.Conversation) -> int:
    """The memory: the messages created session by session, the worker drained; returns messages stored."""
    stored = await rb.ingest(deps, WORKSPACE, conversation)
    await rb.drain(deps)
    return stored


async def run(conversation: rb.Conversation, index: int, *, limit: int | None, questions: int, scratch: Path,
              turns: int | None = None, levels: tuple[str, ...] = dialectic.LEVELS,
              progress: Progress | None = None) -> Report:
    say = progress or (lambda _: None)
    started = time.perf_counter()
    turns_kept = conversation.turns[:limit] if limit else conversation.turns
    trimmed = rb.Conversation(conversation.id, turns_kept, conversation.questions)
    asked = [q.text for q in conversation.questions[:questions]]
    speakers = list(dict.fromkeys(rb.safe_name(t.speaker) for t in turns_kept))
    with FakeLLM(dialectic_turns=turns) as fake:
        settings = cb.run_settings(f"sqlite:///{scratch / 'chat.db'}", DeriverSettings(flush_seconds=0),
                                   fake.base_url, "tool")
        upgrade(settings.db.url)
        deps = Deps(db=Database(settings.db.url, settings.db), settings=settings)
        try:
            await prepare_vectors(deps)
            say(f"building the memory from {len(turns_kept)} messages")
            t0 = time.perf_counter()
            stored = await build(deps, trimmed)
            build_seconds = time.perf_counter() - t0
            async with deps.db.read() as conn:
                count = (await conn.execute(select(func.count()).select_from(conclusions_table))).scalar_one()
            results = []
            for name in levels:
                say(f"{name}: {len(asked)} chats")
                budget = settings.dialectic.level(name)
                await ask(deps, ChatRequest(WORKSPACE, asked[0], level=name, peer=_asker(asked[0], speakers)))
                runs = [await ask(deps, ChatRequest(WORKSPACE, q, level=name, peer=_asker(q, speakers)))
                        for q in asked]
                results.append(_summarise(Level(name, budget.tool_rounds, budget.max_output_tokens,
                                                budget.prefetch), runs))
        finally:
            await deps.aclose()
    sessions = len({t.session for t in turns_kept})
    report = Report(conversation=index, conversation_id=conversation.id, messages=stored, sessions=sessions,
                    conclusions=int(count), questions=asked, build_seconds=round(build_seconds, 2), levels=results)
    report.total_seconds = round(time.perf_counter() - started, 2)
    return report


def as_dict(report: Report) -> dict[str, Any]:
    return asdict(report)
