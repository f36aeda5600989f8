"""Webhook events: their envelope, and signatures after the Standard Webhooks convention
(https://www.standardwebhooks.com): each delivery carries `webhook-id`, `webhook-timestamp` (Unix seconds) and
`webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed by the endpoint's own secret
(`whsec_<base64>`). A receiver recomputes it over the raw body and refuses timestamps outside its replay window.

The body is the reference's envelope, `{"type", "data", "timestamp"}`, compact with sorted keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime
from typing import Any

SECRET_PREFIX = "whsec_"
REPLAY_WINDOW_SECONDS = 300  # what receivers should accept (the verification snippet in the README uses it)

# Event types (data keys in the README): the reference's two, then what an app needs to react to memory.
TEST = "test.event"
QUEUE_EMPTY = "queue.empty"
SUMMARY_CREATED = "summary.created"
CONCLUSIONS_DERIVED = "conclusions.derived"
JOB_FAILED = "job.failed"
DELETION_FINISHED = "deletion.finished"
EVENT_TYPES = (TEST, QUEUE_EMPTY, SUMMARY_CREATED, CONCLUSIONS_DERIVED, JOB_FAILED, DELETION_FINISHED)


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def envelope(event_type: str, data: dict[str, Any], at: datetime) -> str:
    """The body as sent: compact JSON with sorted keys (spec 14.2)."""
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps({"type": event_type, "data": data, "timestamp": stamp}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False)


def signature(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """The `webhook-signature` header value."""
    signed = f"{message_id}.{timestamp}.{body}".encode()
    return "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()


def legacy_signature(secret: str, body: str) -> str:
    """The reference's `X-Honcho-Signature`: hex HMAC-SHA256 of the body with one server-wide secret."""
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def verify(secret: str, headers: dict[str, str], body: str, now: int,
           window: int = REPLAY_WINDOW_SECONDS) -> bool:
    """What a receiver does (also the README's snippet): the timestamp within the window, one signature matching."""
    try:
        timestamp = int(headers["webhook-timestamp"])
        message_id = headers["webhook-id"]
        given = headers["webhook-signature"].split()
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > window:
        return False
    expected = signature(secret, message_id, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in given)
