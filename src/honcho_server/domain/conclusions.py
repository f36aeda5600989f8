"""Conclusions: what one peer holds about another, and how a working representation is composed and rendered."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

LEVELS = ("explicit", "deductive", "inductive", "contradiction")
MAX_CONCLUSIONS = 100  # the most a representation may hold (spec 6.6 / 15.2)
_SPACE = re.compile(r"\s+")


def normalize(content: str) -> str:
    """The form exact dedup compares: case-folded, whitespace collapsed, trailing full stop dropped."""
    return _SPACE.sub(" ", content).strip().rstrip(".").strip().casefold()


def fingerprint(content: str) -> str:
    return hashlib.sha256(normalize(content).encode()).hexdigest()


@dataclass(slots=True)
class Conclusion:
    pk: int
    uid: str
    workspace_name: str
    observer: str
    observed: str
    session_name: str | None
    level: str
    content: str
    times_derived: int
    message_ids: list[str] | None
    source_ids: list[str] | None
    observed_at: datetime
    about_at: datetime | None
    created_at: datetime
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NewConclusion:
    """A conclusion to store (ids are peer and session primary keys)."""

    observer_pk: int
    observed_pk: int
    session_pk: int | None
    content: str
    observed_at: datetime
    level: str = "explicit"
    message_ids: tuple[str, ...] | None = None
    source_ids: tuple[str, ...] | None = None
    about_at: datetime | None = None
    embedding: bytes | None = None
    times_derived: int = 1
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Shares:
    """How many conclusions of each kind a working representation takes (spec 15.2)."""

    semantic: int
    most_derived: int
    recent: int


def shares(total: int, *, semantic: bool, top_k: int | None, most_derived: bool) -> Shares:
    """Split `total` between semantic matches, the most reinforced and the most recent conclusions."""
    s = min(max(1, top_k if top_k is not None else total // 3), total) if semantic else 0
    m = (total // 3 if semantic else total // 2) if most_derived else 0
    m = min(m, total - s)
    return Shares(semantic=s, most_derived=m, recent=total - s - m)


def _stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def render_markdown(conclusions: list[Conclusion], premises: dict[str, str] | None = None) -> str:
    """The representation as markdown (spec 15.3): one section per level, oldest first; each explicit line cites
    its source messages so a reader can go back to them. `premises`: content by conclusion id."""
    premises = premises or {}
    by_level: dict[str, list[Conclusion]] = {level: [] for level in LEVELS}
    for c in sorted(conclusions, key=lambda c: (c.observed_at, c.pk)):
        by_level.setdefault(c.level, []).append(c)

    def premise_list(c: Conclusion, heading: str, cap: int | None = None) -> str:
        found = [premises[s] for s in c.source_ids or [] if s in premises]
        if not found:
            return ""
        shown = [f"   - {p}" for p in found[:cap]]
        if cap is not None and len(found) > cap:
            shown.append(f"   - ... and {len(found) - cap} more")
        return f"\n   {heading}:\n" + "\n".join(shown)

    def inductive(c: Conclusion) -> str:
        meta = c.metadata or {}
        kind = f"\n   **Type**: {meta['pattern_type']}" if meta.get("pattern_type") else ""
        return (f" **Pattern** [{meta.get('confidence', 'medium')}]: {c.content}{kind}"
                + premise_list(c, "**Sources**", 5))

    render: dict[str, Callable[[Conclusion], str]] = {
        "explicit": lambda c: f"[{_stamp(c.observed_at)}] {c.content}{_cite(c)}",
        "deductive": lambda c: f"[{_stamp(c.observed_at)}] {c.content}" + premise_list(c, "Premises"),
        "inductive": inductive,
        "contradiction": lambda c: f" **CONTRADICTION**: {c.content}" + premise_list(c, "**Conflicting statements**"),
    }
    titles = {"explicit": "Explicit Observations", "deductive": "Deductive Observations",
              "inductive": "Inductive Observations", "contradiction": "Contradictions"}
    return "\n\n".join(f"## {titles[level]}\n\n" + "\n".join(render[level](c) for c in by_level[level])
                       for level in LEVELS if by_level[level])


def _cite(c: Conclusion) -> str:
    return f" (messages: {', '.join(c.message_ids)})" if c.message_ids else ""
