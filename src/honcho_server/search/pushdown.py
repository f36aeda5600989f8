"""Which of a search's filters the vector index can apply inside its scan.

Session, peer and time constraints go into the KNN query itself, so a narrow filter never empties the
nearest-neighbour list. Everything else (metadata, OR, NOT) is checked afterwards on the candidates; the
full filter is always applied to every result either way."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.store.dialect import VectorScope
from honcho_server.store.filters.operands import parse_datetime
from honcho_server.store.repos import search as repo

_TICK = timedelta(microseconds=1)


@dataclass
class _Pushed:
    sessions: set[str] | None = None
    peers: set[str] | None = None
    starts: list[datetime] = field(default_factory=list)  # inclusive lower bounds
    ends: list[datetime] = field(default_factory=list)  # exclusive upper bounds


def _names(value: Any) -> set[str] | None:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict) and set(value) == {"in"} and isinstance(value["in"], list) \
            and all(isinstance(v, str) for v in value["in"]):
        return set(value["in"])
    return None


def _narrow(current: set[str] | None, names: set[str] | None) -> set[str] | None:
    if names is None:
        return current
    return names if current is None else current & names


def _time_bounds(value: Any, pushed: _Pushed) -> None:
    if not isinstance(value, dict):
        return
    for op, operand in value.items():
        when = parse_datetime(operand) if isinstance(operand, str) else None
        if when is None:
            continue
        if op == "gte":
            pushed.starts.append(when)
        elif op == "gt":
            pushed.starts.append(when + _TICK)
        elif op == "lt":
            pushed.ends.append(when)
        elif op == "lte":
            pushed.ends.append(when + _TICK)


def _collect(filters: dict[str, Any], pushed: _Pushed) -> None:
    for key, value in filters.items():
        if key == "AND" and isinstance(value, list):
            for part in value:
                if isinstance(part, dict):
                    _collect(part, pushed)
        elif key == "session_id":
            pushed.sessions = _narrow(pushed.sessions, _names(value))
        elif key == "peer_id":
            pushed.peers = _narrow(pushed.peers, _names(value))
        elif key == "created_at":
            _time_bounds(value, pushed)


async def vector_scope(conn: AsyncConnection, workspace_pk: int, filters: dict[str, Any] | None) -> VectorScope | None:
    """The KNN scope for these filters; None when they match nothing (e.g. an unknown session)."""
    pushed = _Pushed()
    _collect(filters or {}, pushed)
    session_pks = peer_pks = max_rows = None
    if pushed.sessions is not None:
        sizes = await repo.session_sizes(conn, workspace_pk, pushed.sessions)
        if not sizes:
            return None
        session_pks, max_rows = tuple(sizes), sum(sizes.values())
    if pushed.peers is not None:
        peer_pks = tuple(await repo.peer_pks(conn, workspace_pk, pushed.peers))
        if not peer_pks:
            return None
    return VectorScope(workspace_id=workspace_pk, session_ids=session_pks, peer_ids=peer_pks,
                       created_from=max(pushed.starts, default=None), created_before=min(pushed.ends, default=None),
                       max_rows=max_rows)
