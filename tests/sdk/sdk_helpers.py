"""Small helpers shared by the SDK compatibility tests (imported as ``sdk_helpers``)."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import jwt
from honcho.http.exceptions import BadRequestError, UnprocessableEntityError

from support import eventually  # noqa: F401  (tests import it from here)

T = TypeVar("T")

# What the brief accepts for "the request is invalid" (the spec says 422 everywhere these are used).
CLIENT_ERRORS = (UnprocessableEntityError, BadRequestError)


def unique(prefix: str) -> str:
    """A fresh id that matches ``^[a-zA-Z0-9_-]+$``."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"




def ids(items) -> list[str]:
    return [x.id for x in items]


def contents(messages) -> list[str]:
    return [m.content for m in messages]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def assert_utc(dt: datetime) -> None:
    assert dt.tzinfo is not None and dt.utcoffset() == timedelta(0), f"not a UTC datetime: {dt!r}"


def assert_recent(dt: datetime, *, seconds: float = 300) -> None:
    assert_utc(dt)
    assert abs((datetime.now(UTC) - dt).total_seconds()) < seconds, f"{dt} is not 'now'"


# ----------------------------------------------------------------------------------------------
# Tokens
# ----------------------------------------------------------------------------------------------
def mint(secret: str, **claims: Any) -> str:
    """An HS256 API key with Honcho's short claim names (``ad``, ``w``, ``p``, ``s``, ``t``, ``exp``)."""
    body = {"t": ""}
    body.update({k: v for k, v in claims.items() if v is not None})
    return jwt.encode(body, secret, algorithm="HS256")


def admin_key(secret: str) -> str:
    return mint(secret, ad=True)


# ----------------------------------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------------------------------
def make_pdf(pages: list[str]) -> bytes:
    """A tiny text PDF (Helvetica, one line per page) written with pypdf."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    font = writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Font"),
        NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"),
    }))
    for text in pages:
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})})
        stream = DecodedStreamObject()
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream.set_data(f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET".encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def paragraphs_text(count: int, width: int) -> tuple[str, list[str]]:
    """``count`` unique paragraphs of about ``width`` characters, joined by blank lines."""
    paras = []
    for i in range(count):
        head = f"Paragraph {i:03d}."
        filler = " ".join(f"w{i}x{j}" for j in range(width // 6))
        paras.append(f"{head} {filler}"[:width].rstrip())
    return "\n\n".join(paras), paras
