"""Text extraction from uploaded files (PDF, text/*, JSON) and splitting into message-sized chunks."""

import io
import json

from honcho_server.errors import UnsupportedFileType, ValidationError

DEFAULT_MAX_CHARS = 25000
SUPPORTED_TYPES = ("application/pdf", "application/json", "text/*")
_BREAKS = ("\n\n", "\n", ". ", " ")


def media_type(content_type: str | None) -> str:
    """`content_type` without parameters, lower-cased: 'Text/Plain; charset=utf-8' -> 'text/plain'."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def extract_text(data: bytes, content_type: str) -> str:
    """The text of an uploaded file; UnsupportedFileType or ValidationError if it cannot be read."""
    kind = media_type(content_type)
    if kind == "application/pdf":
        return _pdf_text(data)
    if kind == "application/json":
        return _json_text(data)
    if kind.startswith("text/"):
        return _decode_text(data)
    raise UnsupportedFileType(
        f"Unsupported file type: {content_type or 'none'}. Supported types: {', '.join(SUPPORTED_TYPES)}"
    )


def _decode_text(data: bytes) -> str:
    for encoding in ("utf-8", "utf-16"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")  # every byte string is valid Latin-1


def _json_text(data: bytes) -> str:
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError("JSON uploads must be UTF-8 encoded") from exc
    if not decoded.strip():
        return ""  # an empty JSON upload yields one empty message, as in the reference
    try:
        return json.dumps(json.loads(decoded), ensure_ascii=False)
    except (ValueError, RecursionError) as exc:
        raise ValidationError(f"Uploaded JSON is invalid: {exc}") from exc


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader  # imported lazily: only PDF uploads need it

    pages: list[str] = []
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ValidationError("Uploaded PDF is password-protected")
        for number, page in enumerate(reader.pages, start=1):
            text = page.extract_text()
            if text and text.strip():
                pages.append(f"[Page {number}]\n{text}")
    except ValidationError:
        raise
    except Exception as exc:  # pypdf raises many exception types on corrupt input
        raise ValidationError(f"Uploaded PDF could not be read: {exc}") from exc
    return "\n\n".join(pages)


def split_into_chunks(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> list[str]:
    """Split `text` into pieces of at most `max_chars` characters that concatenate back to `text`.

    Each cut goes right after the last paragraph break inside the window, else the last newline, else
    the last ". ", else the last space, else at exactly `max_chars`. As in the reference, a separator
    that starts the window itself is not used. Empty text gives `[""]`.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    chunks: list[str] = []
    start = 0
    while len(text) - start > max_chars:
        end = start + max_chars
        cut = end
        for sep in _BREAKS:
            found = text.rfind(sep, start, end)
            if found > start:
                cut = found + len(sep)
                break
        chunks.append(text[start:cut])
        start = cut
    chunks.append(text[start:])
    return chunks
