"""A generation of a workspace's derived memory (docs/generations.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

STATES = ("building", "ready", "active", "retired", "failed")
# States whose generation new messages are derived into: the active one, and those being built or compared.
LIVE_STATES = ("active", "building", "ready")
_PUBLIC = re.compile(r"^g([1-9][0-9]{0,8})$")


@dataclass(frozen=True, slots=True)
class Generation:
    pk: int
    workspace_pk: int
    number: int
    name: str | None
    state: str
    recipe: dict[str, Any]
    fingerprint: str
    scope: dict[str, Any]
    started_by: str
    progress: dict[str, Any]
    estimate: dict[str, Any] | None
    max_cost_usd: float | None
    previous_pk: int | None
    created_at: datetime
    ready_at: datetime | None
    activated_at: datetime | None
    retired_at: datetime | None
    error: str | None

    @property
    def public_id(self) -> str:
        return f"g{self.number}"


def number_of(ref: str) -> int | None:
    """The number a public id (`g2`) names; None when `ref` is not one (then it may be a name)."""
    found = _PUBLIC.match(ref)
    return int(found.group(1)) if found else None
