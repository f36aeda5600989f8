"""Identifiers: client-chosen names and server-generated 21-character nanoids."""

import base64
import os
import re

NAME_PATTERN = r"^[a-zA-Z0-9_-]+$"
NAME_RE = re.compile(NAME_PATTERN)
NAME_MAX = 512
SCOPE_PREFIX = "scope."


def new_id() -> str:
    """A 21-character URL-safe random id (126 random bits), the nanoid format the API uses."""
    # base64url of 16 random bytes is 22 symbols from the same 64-letter alphabet; 21 of them carry 126 bits.
    return base64.urlsafe_b64encode(os.urandom(16))[:21].decode()


def is_valid_name(name: str) -> bool:
    return 0 < len(name) <= NAME_MAX and NAME_RE.match(name) is not None


def peer_name_problem(name: str) -> str | None:
    """Why `name` cannot become a new peer, or None when it can."""
    if "\x00" in name:
        return f"Peer name {name!r} contains a NUL character"
    if name.startswith(SCOPE_PREFIX):
        return f"Peer name '{name}' uses the reserved prefix '{SCOPE_PREFIX}'"
    if not is_valid_name(name):
        return (f"Invalid peer name '{name[:100]}': use 1-{NAME_MAX} letters, digits, '_' or '-'")
    return None
