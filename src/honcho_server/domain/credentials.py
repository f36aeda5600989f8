"""Stateless HS256 JWT API keys using the reference Honcho server's short claim names."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt

ALGORITHM = "HS256"

NO_TOKEN = "No access token provided"
INVALID = "Invalid JWT"
EXPIRED = "JWT expired"
MISSING_WORKSPACE = "Invalid JWT scope: peer/session token missing workspace"

# Time-based checks are ours (we take `now` explicitly and accept ISO-string `exp`).
_DECODE_OPTIONS: Any = {"verify_exp": False, "verify_nbf": False, "verify_iat": False}


class CredentialError(Exception):
    """A bearer token was missing or rejected; `message` is safe to show the client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Principal:
    admin: bool
    workspace: str | None
    peer: str | None
    session: str | None

    def __post_init__(self) -> None:
        if (self.peer or self.session) and not self.workspace:
            raise ValueError("a peer or session principal requires a workspace")
        if not (self.admin or self.workspace):
            raise ValueError("a principal must be admin or scoped to a workspace")

    @property
    def kind(self) -> str:
        if self.admin:
            return "admin"
        if self.session:
            return "session"
        if self.peer:
            return "peer"
        return "workspace"

    @classmethod
    def anonymous_admin(cls) -> Principal:
        return cls(admin=True, workspace=None, peer=None, session=None)


def _utc(moment: datetime) -> datetime:
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00-14:00 has no UTC equivalent
        raise ValueError(f"{moment.isoformat()} is out of range in UTC") from None


def mint_key(
    secret: str,
    *,
    admin: bool = False,
    workspace: str | None = None,
    peer: str | None = None,
    session: str | None = None,
    expires_at: datetime | None = None,
    now: datetime,
) -> str:
    workspace, peer, session = workspace or None, peer or None, session or None
    if not (admin or workspace or peer or session):
        raise ValueError("At least one of workspace_id, peer_id, or session_id must be provided")
    if (peer or session) and not workspace:
        raise ValueError("workspace_id is required when scoping a key to a peer or session")
    if expires_at is not None and _utc(expires_at) <= _utc(now):
        raise ValueError("expires_at must be in the future")
    claims = {
        "t": _utc(now).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "exp": None if expires_at is None else math.floor(_utc(expires_at).timestamp()),
        "ad": True if admin else None,
        "w": workspace,
        "p": peer,
        "s": session,
    }
    payload = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(payload, secret.encode("utf-8"), algorithm=ALGORITHM)


def _is_expired(value: Any, now: datetime) -> bool:
    """Whether `exp` (a NumericDate or an ISO-8601 string, naive = UTC) is at or before `now`."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):  # NaN, or Infinity: no NumericDate
            raise CredentialError(INVALID)
        return value <= _utc(now).timestamp()
    if not isinstance(value, str):
        raise CredentialError(INVALID)
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return _utc(datetime.fromisoformat(text)) <= _utc(now)
    except ValueError:
        raise CredentialError(INVALID) from None


def _optional_str(payload: dict[str, Any], name: str) -> str | None:
    value = payload.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise CredentialError(INVALID)
    return value


def verify_key(secret: str, token: str, *, now: datetime) -> Principal:
    try:
        if jwt.get_unverified_header(token).get("alg") != ALGORITHM:
            raise CredentialError(INVALID)
        payload = jwt.decode(token, secret.encode("utf-8"), algorithms=[ALGORITHM], options=_DECODE_OPTIONS)
    except jwt.PyJWTError:
        raise CredentialError(INVALID) from None
    admin = payload.get("ad")
    if admin is not None and not isinstance(admin, bool):
        raise CredentialError(INVALID)
    workspace, peer, session = (_optional_str(payload, name) for name in ("w", "p", "s"))
    if (peer or session) and not workspace:
        raise CredentialError(MISSING_WORKSPACE)
    if not (admin or workspace):
        raise CredentialError(INVALID)
    if payload.get("exp") is not None and _is_expired(payload["exp"], now):
        raise CredentialError(EXPIRED)
    return Principal(admin=bool(admin), workspace=workspace, peer=peer, session=session)


def parse_authorization_header(value: str | None) -> str:
    scheme, _, token = (value or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise CredentialError(NO_TOKEN)
    return token
