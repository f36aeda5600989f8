"""Peer card entries written by reasoning: a short list of durable identity facts, one line each."""

from __future__ import annotations

PREFIXES = ("IDENTITY:", "ATTRIBUTE:", "RELATIONSHIP:", "INSTRUCTION:")
MAX_ENTRIES = 40
MAX_ENTRY_CHARS = 200


def valid_entry(entry: str) -> str | None:
    """The entry tidied (one line, known prefix upper-cased, within length), or None when it is not one."""
    line = " ".join(entry.split())
    head, sep, rest = line.partition(":")
    prefix = head.strip().upper() + sep
    if prefix not in PREFIXES or not rest.strip():
        return None
    line = f"{prefix} {rest.strip()}"
    return line if len(line) <= MAX_ENTRY_CHARS else None


def merge(existing: list[str] | None, new: list[str]) -> list[str]:
    """Add the valid new entries not already on the card (case-insensitively). Past MAX_ENTRIES the oldest
    entries that are not IDENTITY lines make room: names and kinds outlast details."""
    card = list(existing or [])
    seen = {e.casefold() for e in card}
    for raw in new:
        entry = valid_entry(raw)
        if entry is not None and entry.casefold() not in seen:
            card.append(entry)
            seen.add(entry.casefold())
    while len(card) > MAX_ENTRIES:
        victim = next((i for i, e in enumerate(card) if not e.startswith("IDENTITY:")), 0)
        card.pop(victim)
    return card
