"""Data files the package ships (a token vocabulary, model weights), read only when they are the exact bytes their
sha256 pins: a damaged or substituted copy is refused rather than silently giving other tokens or vectors."""

from __future__ import annotations

import hashlib
from pathlib import Path


class NotThePinnedFile(RuntimeError):
    """The file's bytes are not the ones its sha256 pins."""


def read_pinned(path: Path, sha256: str, what: str) -> bytes:
    """The file's bytes; NotThePinnedFile (naming `what` it should have been) when their sha256 differs."""
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise NotThePinnedFile(f"{path} is not {what} (sha256 mismatch)")
    return data
