"""Loaders for the two retrieval benchmarks, normalised to conversations of messages plus labelled questions.

Retrieved unit: one stored message (one LoCoMo dialog turn, one BEAM chat message), exactly what the server
stores and searches. Each conversation is its own search scope (one workspace/session on the server).

LoCoMo (`locomo10.json`, 10 conversations, 5,882 turns)
  * message id = normalised dia_id "D<session>:<turn>"; speaker = the turn's speaker name.
  * text = the turn text; a turn that shares an image also carries its BLIP caption, appended as
    " [image: <caption>]" (how LoCoMo is normally ingested into memory systems; `captions=False` drops it).
  * evidence: every "D<s>:<t>" found in the question's `evidence` strings (a few are malformed, e.g.
    "D8:6; D9:17", "D:11:26", "D30:05" — all parsed); ids that do not exist in the conversation are dropped
    (2 of 2,815). Questions left with no evidence are skipped.
  * category 5 (adversarial: the asked fact belongs to the other speaker or was never said) is excluded from
    the primary question set; `locomo_categories` can include it.

BEAM 100K bucket ("BEAM-128K", 20 chats, 5,732 messages)
  * message id = the chat's integer `id` (as a string); speaker = role ("user"/"assistant"); session = batch.
  * text = `content` with BEAM's generation marker " ->-> <batch>,<turn>" removed (an artefact of how the
    dataset was generated, not something a user writes).
  * evidence = every id in `source_chat_ids` (a list, or a dict of lists such as original_info/updated_info,
    flattened). Abstention questions have none and are skipped, as are 5 others with an empty list: 355 remain.
  * category = the probing-question type (information_extraction, knowledge_update, ...).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

DATA = Path("/work/shared/data")


@dataclass
class Message:
    id: str
    speaker: str
    text: str
    session: int


@dataclass
class Question:
    text: str
    evidence: list[str]
    category: str


@dataclass
class Conversation:
    id: str
    messages: list[Message]
    questions: list[Question] = field(default_factory=list)


_DIA = re.compile(r"D:?(\d+):0*(\d+)")


def load_locomo(
    path: Path = DATA / "locomo/locomo10.json", captions: bool = True, categories: tuple[int, ...] = (1, 2, 3, 4)
) -> list[Conversation]:
    convs = []
    for sample in json.loads(path.read_text()):
        conv = sample["conversation"]
        sessions = sorted(int(k.split("_")[1]) for k in conv if re.fullmatch(r"session_\d+", k))
        messages = []
        for s in sessions:
            for turn in conv[f"session_{s}"]:
                m = _DIA.fullmatch(turn["dia_id"])
                text = turn["text"]
                if captions and turn.get("blip_caption"):
                    text += f" [image: {turn['blip_caption']}]"
                messages.append(Message(f"D{m[1]}:{m[2]}", turn["speaker"], text, s))
        known = {m.id for m in messages}
        questions = []
        for qa in sample["qa"]:
            if qa["category"] not in categories:
                continue
            ev = []
            for e in qa["evidence"]:
                for s, t in _DIA.findall(e):
                    i = f"D{s}:{int(t)}"
                    if i in known and i not in ev:
                        ev.append(i)
            if ev:
                questions.append(Question(qa["question"], ev, str(qa["category"])))
        convs.append(Conversation(sample["sample_id"], messages, questions))
    return convs


_MARKER = re.compile(r"\s*->->[\s\d,N/A)]*$")


def _flatten(x):
    if isinstance(x, dict):
        x = list(x.values())
    if isinstance(x, list):
        for y in x:
            yield from _flatten(y)
    elif x is not None:
        yield x


def load_beam(root: Path = DATA / "beam/100K") -> list[Conversation]:
    convs = []
    for d in sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: int(p.name)):
        chat = json.loads((d / "chat.json").read_text())
        messages = [
            Message(str(m["id"]), m["role"], _MARKER.sub("", m["content"]), batch["batch_number"])
            for batch in chat
            for turn in batch["turns"]
            for m in turn
        ]
        known = {m.id for m in messages}
        probing = json.loads((d / "probing_questions/probing_questions.json").read_text())
        questions = []
        for qtype, items in probing.items():
            for q in items:
                ev = list(dict.fromkeys(str(i) for i in _flatten(q.get("source_chat_ids")) if str(i) in known))
                if ev:
                    questions.append(Question(q["question"], ev, qtype))
        convs.append(Conversation(f"beam{d.name}", messages, questions))
    return convs


def load(name: str) -> list[Conversation]:
    if name == "locomo":
        return load_locomo()
    if name == "locomo_all":  # including adversarial category 5
        return load_locomo(categories=(1, 2, 3, 4, 5))
    if name == "beam":
        return load_beam()
    raise ValueError(name)


if __name__ == "__main__":
    for name in ("locomo", "locomo_all", "beam"):
        cs = load(name)
        print(
            f"{name}: {len(cs)} conversations, {sum(len(c.messages) for c in cs)} messages, "
            f"{sum(len(c.questions) for c in cs)} questions, "
            f"{sum(len(q.evidence) for c in cs for q in c.questions)} evidence ids"
        )
