"""Rolling session summaries.

A summary job names the message whose seq hit a cadence (every `messages_per_short_summary` /
`messages_per_long_summary` messages). The new summary covers everything since the previous summary of its kind
(not just the last N messages), folding that previous summary in: a failed or skipped summary leaves no gap, the
next one covers its messages too. Windows too big for one call are folded in chunks, oldest first. Idempotent:
a kind already summarised up to the job's message is skipped, and the insert ignores a twin.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from honcho_server.domain import webhooks as events
from honcho_server.domain.models import SessionSummary
from honcho_server.domain.tokens import count_tokens
from honcho_server.services import webhooks
from honcho_server.store.engine import Database
from honcho_server.store.repos import generations as generation_repo
from honcho_server.store.repos import messages
from honcho_server.store.repos import summaries as repo
from honcho_server.store.repos.messages import Turn

if TYPE_CHECKING:
    from honcho_server.llm.client import LLMClient

CHUNK_TOKENS = 12_000  # conversation tokens per summarising call
WORDS = {"short": 250, "long": 800}  # the length asked for
MAX_OUTPUT_TOKENS = {"short": 600, "long": 1800}
MAX_ATTEMPTS = 3  # summarising again after messages were deleted meanwhile, before the job fails (and is retried)

INSTRUCTIONS = {
    "short": (
        "You keep a running summary of a conversation for an assistant that will read it instead of the full "
        "history. Write a concise, fact-dense narrative in chronological order: who said what, decisions, "
        "plans, dates, names, numbers and open questions. Refer to participants by their names exactly as "
        "given. Fold the previous summary (if any) into the new one so it covers the whole conversation so far. "
        "Do not invent anything. Plain prose, no headings. At most {words} words."),
    "long": (
        "You keep a thorough running summary of a conversation for an assistant that will read it instead of "
        "the full history. Cover, in chronological order, the facts, events, decisions, plans, dates, names and "
        "numbers, and also each participant's concerns, feelings, preferences and recurring themes. Refer to "
        "participants by their names exactly as given. Fold the previous summary (if any) into the new one so "
        "it covers the whole conversation so far. Do not invent anything. Plain prose. At most {words} words."),
}


def render_prompt(previous: str | None, turns: list[Turn]) -> str:
    lines = [f"[{t.created_at:%Y-%m-%d %H:%M}] {t.peer_name}: {t.content}" for t in turns]
    head = f"Previous summary:\n{previous}\n\n" if previous else "There is no previous summary.\n\n"
    return head + "New messages:\n" + "\n".join(lines)


def chunks(turns: list[Turn], limit: int = CHUNK_TOKENS) -> list[list[Turn]]:
    """Consecutive groups of at most `limit` tokens (a longer message is a group of its own)."""
    out: list[list[Turn]] = []
    size = 0
    for turn in turns:
        if not out or size + turn.token_count > limit:
            out.append([])
            size = 0
        out[-1].append(turn)
        size += turn.token_count
    return out


async def summarize(db: Database, llm: LLMClient, workspace_pk: int, session_pk: int, seq: int, kinds: list[str],
                    now: Callable[[], datetime], *, generation_pk: int | None = None, announce: bool = True) -> None:
    """Write the `kinds` summaries of the session up to message `seq` in a generation (the workspace's active one
    when None), and tell webhooks when `announce` (see the module docstring).

    A message deleted while the model worked (services/cascade.py) must not live on in the summary: the write
    checks that every message summarised is still there, and summarises again without it otherwise."""
    if generation_pk is None:
        async with db.read() as conn:
            active = await generation_repo.active_of(conn, workspace_pk)
        if active is None:
            return  # the workspace is gone
        generation_pk = active.pk
    for kind in kinds:
        for _ in range(MAX_ATTEMPTS):
            if await _summarize_kind(db, llm, workspace_pk, generation_pk, session_pk, seq, kind, now, announce):
                break
        else:
            raise RuntimeError(f"the session's messages kept changing while its {kind} summary was written")


async def _summarize_kind(db: Database, llm: LLMClient, workspace_pk: int, generation_pk: int, session_pk: int,
                          seq: int, kind: str, now: Callable[[], datetime], announce: bool) -> bool:
    """One attempt; False when a summarised message was deleted meanwhile (nothing written)."""
    async with db.read() as conn:
        previous = await repo.latest(conn, generation_pk, session_pk, kind)
        if previous is not None and previous.last_seq >= seq:
            return True  # already summarised this far
        after = previous.last_seq if previous else 0
        turns = await messages.turns(conn, session_pk, after, seq)
    if not turns:
        return True  # the messages are gone (session purged meanwhile)
    text = previous.content if previous else None
    for group in chunks(turns):  # no transaction is open while the model works
        text = (await llm.run("summary", instructions=INSTRUCTIONS[kind].format(words=WORDS[kind]),
                              prompt=render_prompt(text, group), workspace_pk=workspace_pk,
                              max_output_tokens=MAX_OUTPUT_TOKENS[kind])).strip()
    if not text:
        raise ValueError(f"the model returned an empty {kind} summary")  # retried, then parked: never saved
    last = turns[-1]
    summary = SessionSummary(kind=kind, content=text, last_seq=last.seq, message_uid=last.uid,
                             token_count=count_tokens(text), created_at=now())
    async with db.write() as conn:
        if await messages.count_between(conn, session_pk, after, last.seq) != len(turns):
            return False
        current = await repo.latest(conn, generation_pk, session_pk, kind)
        if (current.last_seq if current else 0) != after:
            return False  # the summary folded in was deleted meanwhile (it covered a deleted message)
        await repo.add(conn, db.dialect, workspace_pk, generation_pk, session_pk, summary)
        if announce:
            await webhooks.emit_about(conn, db.dialect, now(), workspace_pk, session_pk, events.SUMMARY_CREATED, {
                "summary_type": kind, "message_id": last.uid, "token_count": summary.token_count})
    return True
