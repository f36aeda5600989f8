"""The parameter types tools share, with descriptions written for the model choosing the arguments."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from honcho_server.domain.documents import DEFAULT_MAX_CHARS
from honcho_server.domain.metadata import check_metadata, check_size, strip_nul
from honcho_server.mcp.budget import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

Workspace = Annotated[str, Field(min_length=1, description="The workspace id (a memory space: one app or tenant).")]
Peer = Annotated[str, Field(min_length=1, description="A peer id: a participant (a user, an agent, a character).")]
Session = Annotated[str, Field(min_length=1, description="A session id: one conversation between peers.")]
Target = Annotated[str | None, Field(description="The peer the question is about; default: the peer itself.")]
PageNumber = Annotated[int, Field(ge=1, description="Page to return, from 1.")]
PageSize = Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE, description=f"Items per page (at most {MAX_PAGE_SIZE}).")]
Metadata = Annotated[dict[str, Any], BeforeValidator(check_size), AfterValidator(check_metadata),
                     Field(description="A JSON object of metadata; it replaces the stored one.")]
Text = Annotated[str, StringConstraints(max_length=DEFAULT_MAX_CHARS), AfterValidator(strip_nul)]
SearchQuery = Annotated[str | None, Field(description="Optional: rank what is recalled by closeness to this text.")]
MaxConclusions = Annotated[int | None, Field(ge=1, le=100, description="Most conclusions to include (default 25).")]
FIRST_PAGE = 1
PAGE_SIZE = DEFAULT_PAGE_SIZE
