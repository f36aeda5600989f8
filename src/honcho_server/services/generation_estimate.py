"""What a rederive will spend, computed from the message log before any model call (docs/generations.md, "The
cost cap"). It walks the messages in scope the way the rederive replays them: the deriver's jobs and windows per
(session, sender), each session's summaries in chunks, one dream per (observer, observed) collection touched.

Tokens are exact where the store knows them (message token counts, the prompts' fixed text) and estimated where
only the model will tell: output (the workspace's observed ratio), how many conclusions a dream reads."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from itertools import groupby
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.configuration import ResolvedConfig, resolve
from honcho_server.domain.generations import Estimate, PromptOverhead, TaskEstimate
from honcho_server.domain.models import Membership, Workspace
from honcho_server.domain.tokens import count_tokens
from honcho_server.llm import recipes
from honcho_server.llm.pricing import estimate_cost
from honcho_server.services.deps import Deps
from honcho_server.services.ingest_jobs import MERGE_LIMIT, observers_of
from honcho_server.store.repos import llm_calls
from honcho_server.store.repos import rederive_scope as scopes
from honcho_server.store.repos.rederive_scope import ScopedMessage

# Mirrors of reasoning/summaries.py (services sit below reasoning and cannot import it; a test holds them equal).
CHUNK_TOKENS = 12_000  # summaries.CHUNK_TOKENS: conversation tokens per summarising call
SUMMARY_MAX_OUTPUT = {"short": 600, "long": 1800}  # summaries.MAX_OUTPUT_TOKENS

DEFAULT_OUTPUT_RATIO = 0.25  # deriver output per input token when the workspace has too few calls to tell
MIN_OBSERVED_CALLS = 5  # deriver calls from which the workspace's own ratio is trusted
DREAM_OUTPUT_RATIO = 0.25
CONCLUSIONS_PER_MESSAGE = 0.5  # expected explicit conclusions per message derived
TOKENS_PER_CONCLUSION = 40  # one numbered conclusion line in a dream's prompt


# The prefix each prompt puts before a message (reasoning/deriver.render_prompt and summaries.render_prompt, with a
# two-digit number and a fixed time standing for every line's): not in the messages' token counts, sent all the same.
@cache
def deriver_line(peer: str) -> int:
    return count_tokens(f"\n[10] 2000-01-01 00:00 {peer}: ")


@cache
def summary_line(peer: str) -> int:
    return count_tokens(f"\n[2000-01-01 00:00] {peer}: ")


@dataclass(slots=True)
class _Tally:
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


async def estimate(conn: AsyncConnection, deps: Deps, ws: Workspace, scope: Mapping[str, Any],
                   recipe: Mapping[str, Any], overhead: PromptOverhead) -> Estimate:
    """The expected calls, tokens and cost per deriving task of rederiving `scope` of `ws` with `recipe`."""
    resolved = await scopes.resolve(conn, ws.pk, scope)
    sessions = await scopes.sessions_in(conn, ws.pk, resolved)
    found = await scopes.messages_in(conn, ws.pk, resolved)
    members = await scopes.members_in(conn, ws.pk, resolved)
    names = await scopes.peer_names(conn, ws.pk)
    ratio = await output_ratio(conn, ws.pk)
    by_session = {pk: list(rows) for pk, rows in groupby(found, key=lambda m: m.session_pk)}
    limit = deps.settings.deriver.max_input_tokens
    derive, summarize = _Tally(), _Tally()
    collections: dict[tuple[str, int], int] = defaultdict(int)  # (observer, observed pk) -> messages derived
    covered = 0
    defaults = deps.defaults_layer()
    for session in sessions:
        rows = by_session.get(session.pk)
        if not rows:
            continue
        covered += 1
        # The session's configuration over the workspace's and the server's; a message's own configuration
        # (reasoning on or off for that message) is not kept with it, so it is not seen here.
        config = resolve(defaults, ws.configuration, session.configuration)
        if config.reasoning_enabled:
            _derive(rows, names, members.get(session.pk, {}), config, recipe, limit, overhead, derive, collections)
        if config.summary_enabled and resolved.peer is None:  # a peer's rederive keeps the summaries
            _summarize(rows, names, overhead, summarize)
    derive.output_tokens = round(derive.input_tokens * ratio)
    dream = _dreams(collections, deps.settings.dream.max_conclusions, overhead)
    tasks = _recipe_tasks(deps, recipe)
    return Estimate(sessions=covered, messages=len(found), output_ratio=ratio, tasks=[
        _priced(deps, "deriver", tasks, derive), _priced(deps, "summary", tasks, summarize),
        _priced(deps, "dream", tasks, dream)])


async def output_ratio(conn: AsyncConnection, workspace_pk: int) -> float:
    """Deriver output per input token in the workspace's successful calls, once there are enough of them."""
    calls, inp, out = await llm_calls.token_totals(conn, workspace_pk, "deriver")
    return out / inp if calls >= MIN_OBSERVED_CALLS and inp > 0 else DEFAULT_OUTPUT_RATIO


def _derive(rows: list[ScopedMessage], names: dict[int, str], members: dict[str, Membership], config: ResolvedConfig,
            recipe: Mapping[str, Any], limit: int, overhead: PromptOverhead, tally: _Tally,
            collections: dict[tuple[str, int], int]) -> None:
    """One session's deriver calls: per sender whose messages someone observes (ingest_jobs.observers_of, with
    today's memberships), jobs of MERGE_LIMIT messages, each sent in windows of `limit` conversation tokens."""
    custom = recipe.get("custom_instructions", config.custom_instructions)
    per_call = overhead.deriver + _custom_tokens(custom)
    for sender_pk, own in groupby(sorted(rows, key=lambda m: (m.sender_pk, m.seq)), key=lambda m: m.sender_pk):
        sent = list(own)
        observers = observers_of(names[sender_pk], members)
        if not observers:
            continue
        windows = deriver_windows(sent, limit, lambda pk: deriver_line(names.get(pk, "")))
        tally.calls += len(windows)
        tally.input_tokens += sum(windows) + per_call * len(windows)
        if config.dream_enabled:
            for observer in observers:
                collections[(observer, sender_pk)] += len(sent)


def deriver_windows(sent: list[ScopedMessage], limit: int, line: Callable[[int], int]) -> list[int]:
    """The prompt tokens (conversation plus line prefixes) of each deriver call for one sender's messages in seq
    order: as reasoning/deriver.split cuts them, within jobs of MERGE_LIMIT messages. A message shows the one before
    it as context when another peer wrote that one, and the context counts toward the window."""
    windows: list[int] = []
    for start in range(0, len(sent), MERGE_LIMIT):
        size = 0  # the current window's conversation tokens, as the deriver measures them
        for i, msg in enumerate(sent[start:start + MERGE_LIMIT]):
            context = msg.before_sender_pk is not None and msg.before_sender_pk != msg.sender_pk
            tokens = msg.tokens + (msg.before_tokens if context else 0)
            prompt = tokens + line(msg.sender_pk) + (line(msg.before_sender_pk or 0) if context else 0)
            if i and size + tokens <= limit:
                size += tokens
                windows[-1] += prompt
            else:  # a job's first message, or the window is full (a larger message stands alone)
                size = tokens
                windows.append(prompt)
    return windows


def _custom_tokens(custom: str | None) -> int:
    """The custom instructions' block in a deriver prompt (reasoning/deriver.render_prompt)."""
    if not custom or not custom.strip():
        return 0
    return count_tokens(f"Additional instructions from the application:\n{custom.strip()}\n\n")


def _summarize(rows: list[ScopedMessage], names: dict[int, str], overhead: PromptOverhead, tally: _Tally) -> None:
    """A session's short and long summaries over its messages in scope, in chunks as reasoning/summaries.chunks cuts
    them. Each call is taken to answer with the kind's maximum, and each call after the first folds that answer in."""
    chunks: list[int] = []  # prompt tokens per chunk
    size = 0
    for msg in rows:
        prompt = msg.tokens + summary_line(names.get(msg.sender_pk, ""))
        if not chunks or size + msg.tokens > CHUNK_TOKENS:
            chunks.append(0)
            size = 0
        chunks[-1] += prompt
        size += msg.tokens
    for most in SUMMARY_MAX_OUTPUT.values():
        tally.calls += len(chunks)
        tally.input_tokens += sum(chunks) + overhead.summary * len(chunks) + most * (len(chunks) - 1)
        tally.output_tokens += most * len(chunks)


def _dreams(collections: Mapping[tuple[str, int], int], max_conclusions: int, overhead: PromptOverhead) -> _Tally:
    """One dream per collection touched, reading the conclusions its messages are expected to yield."""
    tally = _Tally()
    for derived in collections.values():
        listed = min(math.ceil(derived * CONCLUSIONS_PER_MESSAGE), max_conclusions)
        inp = overhead.dream + listed * TOKENS_PER_CONCLUSION
        tally.calls += 1
        tally.input_tokens += inp
        tally.output_tokens += round(inp * DREAM_OUTPUT_RATIO)
    return tally


def _recipe_tasks(deps: Deps, recipe: Mapping[str, Any]) -> dict[str, Any]:
    """The recipe's tasks; one without them (generation 1's inferred recipe) derives with the server's settings."""
    own = dict(recipe.get("tasks") or {})
    described = recipes.describe(deps.settings.llm)["tasks"]
    return {task: own.get(task) or described[task] for task in recipes.DERIVING_TASKS}


def _priced(deps: Deps, task: str, tasks: Mapping[str, Any], tally: _Tally) -> TaskEstimate:
    spec = tasks[task]
    provider, model = str(spec.get("provider") or ""), str(spec.get("model") or "")
    llm = deps.settings.llm
    cost = estimate_cost(provider, model, tally.input_tokens, tally.output_tokens, llm.input_price_per_mtok,
                         llm.output_price_per_mtok)
    return TaskEstimate(task=task, provider=provider, model=model, calls=tally.calls,
                        input_tokens=tally.input_tokens, output_tokens=tally.output_tokens, cost_usd=cost)
