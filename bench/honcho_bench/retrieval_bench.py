"""Retrieval benchmark: load LoCoMo or BEAM, ingest it through the services, ask every question through the
search the API's search routes use, and measure recall of the evidence.

Retrieved unit: one stored message (a LoCoMo dialog turn, a BEAM chat message). Each conversation is its own
workspace, so every question searches only its own conversation. Loading decisions (from the
retrieval lab's loader, now in the git history):

LoCoMo (`locomo10.json`)
  * message id = the normalised dia_id "D<session>:<turn>"; peer = the turn's speaker; session = LoCoMo session.
  * text = the turn text; a turn that shares an image also carries its BLIP caption, appended as
    " [image: <caption>]" (how LoCoMo is normally ingested into memory systems).
  * created_at = the session's date ("1:56 pm on 8 May, 2023") plus 30 s per turn; synthetic when unparseable.
  * evidence: every "D<s>:<t>" in the question's `evidence` strings (malformed ones such as "D8:6; D9:17",
    "D:11:26", "D30:05" are parsed); ids absent from the conversation are dropped, and questions left without
    evidence are skipped. Categories 1-4 by default; 5 (adversarial) is excluded.

BEAM (a bucket folder such as `100K/`, one numbered folder per chat)
  * message id = the chat's integer `id`; peer = role ("user"/"assistant"); session = batch.
  * text = `content` without BEAM's generation marker " ->-> <batch>,<turn>".
  * created_at = synthetic, one minute apart in chat order.
  * evidence = every id in `source_chat_ids` (a list, or a dict of lists such as original_info/updated_info,
    flattened). Questions without evidence (abstention, and a few empty lists) are skipped.
  * category = the probing-question type (information_extraction, knowledge_update, ...).
"""

from __future__ import annotations

import itertools
import json
import math
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from honcho_server.config import Settings
from honcho_server.domain.documents import DEFAULT_MAX_CHARS, split_into_chunks
from honcho_server.domain.ids import new_id
from honcho_server.embeddings.factory import build_embedder
from honcho_server.services import messages, search
from honcho_server.services.deps import Deps
from honcho_server.services.embedding import prepare_vectors
from honcho_server.store.engine import Database
from honcho_server.store.migrate import upgrade
from honcho_server.store.tables import jobs as jobs_table
from honcho_server.store.tables import workspaces as workspaces_table
from honcho_server.worker.runtime import Worker

DATA = Path("/work/shared/data")
DEFAULT_PATHS = {"locomo": DATA / "locomo", "beam": DATA / "beam" / "100K"}
LOCOMO_CATEGORY_NAMES = {"1": "multi-hop", "2": "temporal", "3": "open-domain", "4": "single-hop",
                         "5": "adversarial"}
SYNTHETIC_START = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class Turn:
    id: str
    speaker: str
    text: str
    session: str
    created_at: datetime


@dataclass(slots=True)
class Question:
    text: str
    evidence: list[str]
    category: str


@dataclass(slots=True)
class Conversation:
    id: str
    turns: list[Turn]
    questions: list[Question] = field(default_factory=list)


def load_dataset(name: str, path: Path | None = None) -> list[Conversation]:
    """`name` is locomo or beam; `path` its folder or file (default: the shared data folder)."""
    if name not in DEFAULT_PATHS:
        raise ValueError(f"unknown dataset {name!r}; choose {' or '.join(DEFAULT_PATHS)}")
    path = path or DEFAULT_PATHS[name]
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    return load_locomo(path) if name == "locomo" else load_beam(path)


# ---- LoCoMo ----------------------------------------------------------------------------------------------

_DIA = re.compile(r"D:?(\d+):0*(\d+)")
_SESSION_KEY = re.compile(r"session_(\d+)")


def locomo_file(path: Path) -> Path:
    """The JSON file itself, or the one JSON file of a folder (locomo10.json preferred)."""
    if path.is_file():
        return path
    if (path / "locomo10.json").is_file():
        return path / "locomo10.json"
    found = sorted(path.glob("*.json"))
    if len(found) != 1:
        raise FileNotFoundError(f"expected locomo10.json (or a single .json file) in {path}")
    return found[0]


def parse_locomo_date(text: str | None) -> datetime | None:
    """'1:56 pm on 8 May, 2023' as a UTC datetime; None when absent or unreadable."""
    try:
        return datetime.strptime((text or "").strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)
    except ValueError:
        return None


def load_locomo(path: Path, captions: bool = True, categories: tuple[int, ...] = (1, 2, 3, 4)) -> list[Conversation]:
    conversations = []
    for sample in json.loads(locomo_file(path).read_text()):
        turns = _locomo_turns(sample["conversation"], captions)
        known = {t.id for t in turns}
        questions = []
        for qa in sample.get("qa", []):
            if qa.get("category") not in categories:
                continue
            evidence = list(dict.fromkeys(i for e in qa.get("evidence", []) for i in locomo_ids(e) if i in known))
            if evidence:
                questions.append(Question(qa["question"], evidence, str(qa["category"])))
        conversations.append(Conversation(str(sample["sample_id"]), turns, questions))
    return conversations


def locomo_ids(evidence: str) -> list[str]:
    """Every dialog id in one evidence string, normalised: 'D8:6; D9:17' -> D8:6, D9:17; 'D:11:26' -> D11:26."""
    return [f"D{s}:{int(t)}" for s, t in _DIA.findall(evidence)]


def _locomo_turns(conv: dict[str, Any], captions: bool) -> list[Turn]:
    numbers = sorted(int(m[1]) for k in conv if (m := _SESSION_KEY.fullmatch(k)))
    turns: list[Turn] = []
    for number in numbers:
        start = parse_locomo_date(conv.get(f"session_{number}_date_time"))
        for i, turn in enumerate(conv[f"session_{number}"]):
            ids = locomo_ids(turn["dia_id"])
            text = turn["text"]
            if captions and turn.get("blip_caption"):
                text += f" [image: {turn['blip_caption']}]"
            at = start + timedelta(seconds=30 * i) if start else SYNTHETIC_START + timedelta(minutes=len(turns))
            turns.append(Turn(ids[0] if ids else turn["dia_id"], turn["speaker"], text, f"session_{number}", at))
    return turns


# ---- BEAM ------------------------------------------------------------------------------------------------

_MARKER = re.compile(r"\s*->->[\s\d,N/A)]*$")


def strip_marker(text: str) -> str:
    """BEAM content without its trailing generation marker ' ->-> 1,1'."""
    return _MARKER.sub("", text)


def flatten_ids(value: Any) -> Iterator[str]:
    """source_chat_ids as strings: a list, a dict of lists, nested lists; None entries ignored."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            yield from flatten_ids(item)
    elif value is not None:
        yield str(value)


def beam_chat_folders(path: Path) -> list[Path]:
    """The chat folders under a bucket folder, in numeric order; a chat folder (or its chat.json) alone."""
    if path.is_file():
        path = path.parent
    if (path / "chat.json").is_file():
        return [path]
    folders = [p for p in path.iterdir() if p.is_dir() and (p / "chat.json").is_file()]
    if not folders:
        raise FileNotFoundError(f"no BEAM chat folders (with chat.json) in {path}")
    return sorted(folders, key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name))


def load_beam(path: Path) -> list[Conversation]:
    return [_beam_conversation(folder) for folder in beam_chat_folders(path)]


def _beam_conversation(folder: Path) -> Conversation:
    chat = json.loads((folder / "chat.json").read_text())
    turns = [
        Turn(str(m["id"]), m["role"], strip_marker(m["content"]), f"batch_{batch['batch_number']}",
             SYNTHETIC_START)
        for batch in chat
        for group in batch["turns"]
        for m in group
    ]
    for index, turn in enumerate(turns):
        turn.created_at = SYNTHETIC_START + timedelta(minutes=index)
    known = {t.id for t in turns}
    questions = []
    probing_file = folder / "probing_questions" / "probing_questions.json"
    probing = json.loads(probing_file.read_text()) if probing_file.is_file() else {}
    for kind, items in probing.items():
        for q in items:
            evidence = list(dict.fromkeys(i for i in flatten_ids(q.get("source_chat_ids")) if i in known))
            if evidence:
                questions.append(Question(q["question"], evidence, kind))
    return Conversation(f"beam-{folder.name}", turns, questions)


# ---- the run ---------------------------------------------------------------------------------------------

KS = (5, 10, 20)
SEARCH_LIMIT = 20
BATCH = 100  # most messages per create call, as the API allows
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(slots=True)
class Outcome:
    """One question's result."""

    category: str
    recall: dict[int, float]
    seconds: float


@dataclass(slots=True)
class Report:
    dataset: str
    embedder: str
    database: str
    conversations: int
    messages: int
    questions: int
    recall: dict[str, float]
    by_category: dict[str, dict[str, Any]]
    ingest_seconds: float
    messages_per_second: float
    stored_messages: int
    drain_seconds: float
    jobs_run: int
    jobs: dict[str, dict[str, int]]
    latency_p50_ms: float
    latency_p95_ms: float
    total_seconds: float = 0.0


def recall_at(evidence: list[str], ranked: list[str | None], k: int) -> float:
    """Share of the evidence ids among the first k results."""
    wanted = set(evidence)
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0


def mean_recall(outcomes: list[Outcome]) -> dict[str, float]:
    """Micro average over questions, keyed 'recall@k'."""
    return {f"recall@{k}": sum(o.recall[k] for o in outcomes) / len(outcomes) if outcomes else 0.0 for k in KS}


def by_category(outcomes: list[Outcome]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault(o.category, []).append(o)
    return {c: {"questions": len(g), **mean_recall(g)} for c, g in sorted(groups.items())}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def safe_name(text: str) -> str:
    """A workspace/session/peer name the API accepts."""
    return _UNSAFE_NAME.sub("-", text).strip("-") or "x"


Progress = Callable[[str], None]


async def run(
    settings: Settings, dataset: str, conversations: list[Conversation], *, progress: Progress | None = None,
) -> Report:
    """Migrate the database, ingest, drain the worker, ask every question; the database is left as it is."""
    say = progress or (lambda _: None)
    started = time.perf_counter()
    upgrade(settings.db.url)
    deps = Deps(db=Database(settings.db.url, settings.db), settings=settings)
    embedder = deps.embedder.model_id
    run_prefix = f"bench-{dataset}-{safe_name(new_id()[:8])}-"  # unique: a --db database may hold other runs
    names = [run_prefix + safe_name(c.id) for c in conversations]
    try:
        await prepare_vectors(deps)  # as a server start does: another model's vectors stop the run here
        say(f"ingesting {len(conversations)} conversations")
        t0 = time.perf_counter()
        stored = 0
        for name, conv in zip(names, conversations, strict=True):
            stored += await ingest(deps, name, conv)
        ingest_seconds = time.perf_counter() - t0
        say("running the worker until the queue is drained")
        t0 = time.perf_counter()
        jobs_run = await drain(deps)
        drain_seconds = time.perf_counter() - t0
        # What autovacuum does soon after a load in a running server: PostgreSQL's full-text scoring reads its
        # word statistics (store/dialect/pg_text.py), which a freshly loaded table does not have yet.
        async with deps.db.write() as conn:
            await conn.execute(text("ANALYZE messages"))
        job_counts = await count_jobs(deps, names)
        say(f"asking {sum(len(c.questions) for c in conversations)} questions")
        outcomes = [await ask(deps, name, q) for name, c in zip(names, conversations, strict=True)
                    for q in c.questions]
    finally:
        await deps.aclose()
    messages = sum(len(c.turns) for c in conversations)
    latencies = [o.seconds * 1000 for o in outcomes]
    return Report(
        dataset=dataset, embedder=embedder, database=describe_url(settings.db.url),
        conversations=len(conversations), messages=messages, questions=len(outcomes),
        recall=mean_recall(outcomes), by_category=by_category(outcomes), ingest_seconds=ingest_seconds,
        messages_per_second=messages / ingest_seconds if ingest_seconds else 0.0, stored_messages=stored,
        drain_seconds=drain_seconds, jobs_run=jobs_run, jobs=job_counts,
        latency_p50_ms=percentile(latencies, 0.5), latency_p95_ms=percentile(latencies, 0.95),
        total_seconds=time.perf_counter() - started)


def new_messages(turns: list[Turn]) -> list[messages.NewMessage]:
    """One message per turn, as a client would send it; a turn longer than the API accepts is split into
    consecutive messages that all carry its id."""
    return [
        messages.NewMessage(content=piece, peer_name=safe_name(t.speaker), metadata={"bench_id": t.id},
                            created_at=t.created_at)
        for t in turns
        for piece in split_into_chunks(t.text, DEFAULT_MAX_CHARS)
    ]


async def ingest(deps: Deps, workspace: str, conv: Conversation) -> int:
    """Create the conversation's messages session by session, in order, in batches of at most BATCH."""
    stored = 0
    for session, group in itertools.groupby(conv.turns, key=lambda t: t.session):
        batch = new_messages(list(group))
        for start in range(0, len(batch), BATCH):
            created = await messages.create(deps, workspace, safe_name(session), batch[start : start + BATCH])
            stored += len(created)
    return stored


async def drain(deps: Deps) -> int:
    """Run the background worker until no job it can run is left; returns how many jobs ran."""
    worker, total = Worker(deps), 0
    while done := await worker.drain():
        total += done
    return total


async def count_jobs(deps: Deps, workspace_names: list[str]) -> dict[str, dict[str, int]]:
    """This run's jobs by kind and state after the drain (kinds no handler exists for yet stay pending)."""
    ours = select(workspaces_table.c.id).where(workspaces_table.c.name.in_(workspace_names))
    query = (select(jobs_table.c.kind, jobs_table.c.status, func.count())
             .where(jobs_table.c.workspace_id.in_(ours)).group_by(jobs_table.c.kind, jobs_table.c.status))
    async with deps.db.read() as conn:
        rows = (await conn.execute(query)).all()
    counts: dict[str, dict[str, int]] = {}
    for kind, status, count in rows:
        counts.setdefault(kind, {})[status] = count
    return counts


async def ask(deps: Deps, workspace: str, question: Question) -> Outcome:
    """The workspace search the API's `POST /v3/workspaces/{w}/search` runs, scored against the evidence."""
    t0 = time.perf_counter()
    hits = await search.search(deps, workspace, question.text, None, SEARCH_LIMIT)
    seconds = time.perf_counter() - t0
    ranked = [hit.metadata.get("bench_id") for hit in hits]
    return Outcome(question.category, {k: recall_at(question.evidence, ranked, k) for k in KS}, seconds)


async def embedder_id(settings: Settings) -> str:
    """The configured embedder's model id (models load lazily, so this is cheap)."""
    embedder = build_embedder(settings.embedding)
    try:
        return embedder.model_id
    finally:
        await embedder.aclose()


def describe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
