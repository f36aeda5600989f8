"""Receipts of cascading deletions: what a deletion removed, changed, restored and queued."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

LISTS = ("conclusions_removed", "conclusions_updated", "conclusions_restored", "messages_removed",
         "summaries_removed", "cards_affected", "jobs_enqueued")


@dataclass(slots=True)
class Receipt:
    """What one deletion did, by public id.

    * `deleted`: what was asked for, `{"type": "conclusion" | "message" | "session", "id": ...}`.
    * `conclusions_removed`: the deleted conclusion itself (first) and every conclusion that rested only on removed
      things.
    * `conclusions_updated`: surviving conclusions whose `message_ids` / `source_ids` lost removed ids, whose
      `superseded_by` moved on to the removed one's successor, or (session purge) whose session stamp was cleared.
    * `conclusions_restored`: conclusions a removed one had superseded, current again.
    * `messages_removed`: message ids (a session purge lists none: `counts.messages_removed` says how many).
    * `summaries_removed`: `{"session_id", "summary_type", "message_id"}` of each summary that covered a removed
      message (`message_id` is the last message it covered).
    * `cards_affected`: `{"observer_id", "observed_id"}` of each non-empty peer card of a collection that lost a
      conclusion (card entries cannot be traced to sources line by line).
    * `jobs_enqueued`: background work queued to re-derive (`{"kind": "summary", ...}`, `{"kind": "dream",
      "dream_type": "card_refresh", ...}`).
    """

    deleted: dict[str, str] | None = None
    conclusions_removed: list[str] = field(default_factory=list)
    conclusions_updated: list[str] = field(default_factory=list)
    conclusions_restored: list[str] = field(default_factory=list)
    messages_removed: list[str] = field(default_factory=list)
    summaries_removed: list[dict[str, Any]] = field(default_factory=list)
    cards_affected: list[dict[str, Any]] = field(default_factory=list)
    jobs_enqueued: list[dict[str, Any]] = field(default_factory=list)
    messages_purged: int = 0  # messages deleted without being listed (a session purge)

    def merge(self, other: Receipt) -> None:
        """Add another step's receipt (the same ids twice are listed once)."""
        self.deleted = self.deleted or other.deleted
        for name in LISTS:
            mine: list[Any] = getattr(self, name)
            seen = {_key(v) for v in mine}
            mine.extend(v for v in getattr(other, name) if _key(v) not in seen)
        # An id both updated and later removed is reported as removed only.
        gone = set(self.conclusions_removed)
        self.conclusions_updated = [u for u in self.conclusions_updated if u not in gone]
        self.conclusions_restored = [u for u in self.conclusions_restored if u not in gone]
        self.messages_purged += other.messages_purged

    def counts(self) -> dict[str, int]:
        found = {name: len(getattr(self, name)) for name in LISTS}
        found["messages_removed"] += self.messages_purged
        return found

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"deleted": self.deleted}
        out.update({name: list(getattr(self, name)) for name in LISTS})
        out["counts"] = self.counts()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Receipt:
        lists: dict[str, Any] = {name: list(data.get(name) or []) for name in LISTS}
        receipt = cls(deleted=data.get("deleted"), **lists)
        receipt.messages_purged = int((data.get("counts") or {}).get("messages_removed", 0)) - len(
            receipt.messages_removed)
        return receipt

    def header(self) -> str:
        """The counts as compact JSON (for the `X-Honcho-Receipt` header: bounded whatever the cascade's size)."""
        return json.dumps(self.counts(), separators=(",", ":"))


def _key(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
