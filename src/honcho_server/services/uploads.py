"""File uploads: extract text, split it into message-sized chunks, store them as messages."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from honcho_server.domain.configuration import MessageConfiguration
from honcho_server.domain.credentials import Principal
from honcho_server.domain.documents import DEFAULT_MAX_CHARS, extract_text, split_into_chunks
from honcho_server.domain.ids import new_id
from honcho_server.domain.models import Message
from honcho_server.services import messages
from honcho_server.services.deps import Deps

_SURROGATE = re.compile(r"[\ud800-\udfff]")


def storable(text: str) -> str:
    """Text as a UTF-8 column keeps it: NUL stripped (as from all content, spec 1.4), and any lone surrogate
    (a PDF's broken glyph map, an escaped one in JSON, a filename's undecodable byte) replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text.replace("\x00", ""))


def file_to_chunks(data: bytes, content_type: str) -> list[str]:
    """Blocking (PDF parsing): call from a worker thread."""
    return split_into_chunks(storable(extract_text(data, content_type)), DEFAULT_MAX_CHARS)


async def store_chunks(
    deps: Deps, workspace_name: str, session_name: str, chunks: list[str], *, peer_id: str,
    filename: str | None, content_type: str, size: int, metadata: dict[str, Any],
    configuration: MessageConfiguration | None, created_at: datetime | None, caller: Principal | None = None,
) -> list[Message]:
    """One message per chunk, with the file's provenance kept internally."""
    file_id = new_id()
    new = [
        messages.NewMessage(
            content=chunk, peer_name=peer_id, metadata=metadata, configuration=configuration,
            created_at=created_at,
            internal_metadata={"file_id": file_id, "filename": filename and storable(filename), "chunk_index": i,
                               "total_chunks": len(chunks), "original_file_size": size,
                               "content_type": storable(content_type)})
        for i, chunk in enumerate(chunks)
    ]
    # One call, one transaction: a file is stored whole or not at all.
    return await messages.create(deps, workspace_name, session_name, new, caller=caller)
