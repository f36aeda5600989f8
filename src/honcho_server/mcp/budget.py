"""Compact, token-budgeted tool results: JSON without padding, long texts clipped, lists paged, and a note saying
how to get what was left out (an agent's context is small; no result may flood it)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from honcho_server.domain import models
from honcho_server.domain.conclusions import Conclusion

MAX_RESULT_CHARS = 16_000  # about 4,000 tokens: the most any one result may take of an agent's context
MESSAGE_CHARS = 1_000  # a message's text in lists; `session_message` returns one message up to MAX_RESULT_CHARS
TEXT_CHARS = 8_000  # a representation, summary or answer
DEFAULT_CONCLUSIONS = 25  # a representation of at most this many conclusions unless asked (HTTP's default: 100)
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 50


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds")


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def clip(text: str, limit: int, more: str) -> str:
    """`text` cut at `limit` characters, saying how many were left out and how to read them."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters; {more}]"


def _meta(value: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": value} if value else {}


def workspace(w: models.Workspace) -> dict[str, Any]:
    return {"id": w.name, **_meta(w.metadata), "configuration": w.configuration or None,
            "created_at": _iso(w.created_at)}


def peer(p: models.Peer) -> dict[str, Any]:
    return {"id": p.name, **_meta(p.metadata), "created_at": _iso(p.created_at)}


def session(s: models.Session) -> dict[str, Any]:
    return {"id": s.name, "active": s.is_active, **_meta(s.metadata), "created_at": _iso(s.created_at)}


def message(m: models.Message, limit: int = MESSAGE_CHARS) -> dict[str, Any]:
    more = f"call session_message with message_id={m.uid}"
    return {"id": m.uid, "peer": m.peer_name, "session": m.session_name, "at": _iso(m.created_at),
            "content": clip(m.content, limit, more), **_meta(m.metadata)}


def conclusion(c: Conclusion) -> dict[str, Any]:
    return {"id": c.uid, "observer": c.observer, "observed": c.observed, "level": c.level,
            "content": clip(c.content, MESSAGE_CHARS, "the conclusion is stored whole"),
            "session": c.session_name, "times_derived": c.times_derived, "sources": c.source_ids or None,
            "created_at": _iso(c.created_at)}


def fit(result: dict[str, Any], items_key: str | None = None) -> str:
    """`result` as compact JSON within MAX_RESULT_CHARS: items dropped from the end of `items_key` first (with a
    note), then the whole text clipped."""
    text = dumps(result)
    items = result.get(items_key) if items_key else None
    if isinstance(items, list):
        dropped = 0
        while len(text) > MAX_RESULT_CHARS and len(items) > 1:
            items.pop()
            dropped += 1
            result["note"] = (f"{dropped} more item(s) left out to keep this result short: ask for a smaller page "
                              "size or the next page")
            text = dumps(result)
    return clip(text, MAX_RESULT_CHARS, "narrow the request")


def page(p: models.Page[Any], items: list[dict[str, Any]], what: str) -> str:
    """A page of results with where to find the rest."""
    result: dict[str, Any] = {what: items, "page": p.page, "pages": p.pages, "total": p.total}
    if p.page < p.pages:
        result["more"] = f"call again with page={p.page + 1}"
    return fit(result, what)


def page_size(size: int) -> int:
    return max(1, min(size, MAX_PAGE_SIZE))
