"""Plain records that cross layer boundaries (rows in, API objects out)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(slots=True)
class Workspace:
    pk: int
    uid: str
    name: str
    metadata: dict[str, Any]
    configuration: dict[str, Any]
    created_at: datetime
    # The generation of derived memory this workspace's reads serve: its active one, or the one a request named.
    generation_pk: int


@dataclass(slots=True)
class Peer:
    pk: int
    uid: str
    workspace_name: str
    name: str
    metadata: dict[str, Any]
    configuration: dict[str, Any]
    created_at: datetime


@dataclass(slots=True)
class Session:
    pk: int
    uid: str
    workspace_pk: int
    workspace_name: str
    name: str
    is_active: bool
    metadata: dict[str, Any]
    configuration: dict[str, Any]
    created_at: datetime
    message_count: int = 0


@dataclass(slots=True)
class Message:
    pk: int
    uid: str
    workspace_name: str
    session_name: str
    peer_name: str
    seq: int
    content: str
    metadata: dict[str, Any]
    token_count: int
    created_at: datetime
    session_pk: int | None = None  # set where a caller needs to find the message's neighbours


@dataclass(slots=True)
class Membership:
    """A peer's membership in a session, with its per-session observation flags."""

    peer_pk: int
    peer_name: str
    peer_configuration: dict[str, Any]
    observe_me: bool | None
    observe_others: bool | None
    active: bool

    def observed(self) -> bool:
        """Whether this peer's messages are reasoned about (session override, else peer flag, else yes)."""
        if self.observe_me is not None:
            return self.observe_me
        flag = self.peer_configuration.get("observe_me")
        return True if flag is None else bool(flag)


@dataclass(slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    size: int

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.size) if self.total else 0


@dataclass(slots=True)
class QueueCounts:
    completed: int = 0
    in_progress: int = 0
    pending: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.completed + self.in_progress + self.pending + self.failed


@dataclass(slots=True)
class QueueStatus:
    totals: QueueCounts
    sessions: dict[str, QueueCounts] | None = field(default=None)


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """A rolling summary of a session from its first message up to `last_seq`."""

    kind: str  # short | long
    content: str
    last_seq: int
    message_uid: str
    token_count: int
    created_at: datetime
