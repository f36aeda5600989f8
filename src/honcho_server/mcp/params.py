"""The parameter types tools share, with descriptions written for the model choosing the arguments. Strings are
screened as the HTTP layer screens requests (api/deps.py): no NUL in an id, no unpaired surrogate anywhere, no
nesting deeper than any payload needs; a refusal is a "bad input" tool error."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from honcho_server.domain import jsontext
from honcho_server.domain.documents import DEFAULT_MAX_CHARS
from honcho_server.domain.metadata import check_metadata, check_size, strip_nul
from honcho_server.mcp.budget import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

NOT_UNICODE = "contains an unpaired UTF-16 surrogate (such as \\ud800); strings must be valid Unicode"


def unicode_text(value: Any) -> Any:
    if jsontext.has_lone_surrogate(value):
        raise ValueError(NOT_UNICODE)
    return value


def _id(value: str) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    return unicode_text(value)


def _json(value: Any) -> Any:
    if jsontext.too_deep(value):
        raise ValueError(f"is nested more than {jsontext.MAX_NESTING} levels deep")
    return unicode_text(value)


Id = Annotated[str, StringConstraints(min_length=1), AfterValidator(_id)]
Text = Annotated[str, StringConstraints(max_length=DEFAULT_MAX_CHARS), AfterValidator(strip_nul),
                 AfterValidator(unicode_text)]
Query = Annotated[str, StringConstraints(min_length=1, max_length=10_000), AfterValidator(strip_nul),
                  AfterValidator(unicode_text)]
Workspace = Annotated[Id, Field(description="The workspace id (a memory space: one app or tenant).")]
Peer = Annotated[Id, Field(description="A peer id: a participant (a user, an agent, a character).")]
Session = Annotated[Id, Field(description="A session id: one conversation between peers.")]
Target = Annotated[Id | None, Field(description="The peer the question is about; default: the peer itself.")]
Generation = Annotated[str | None, Field(
    min_length=1, max_length=512,
    description="The generation of derived memory to read ('g2', or its name), to compare one with another; "
    "default: the workspace's active one.")]
PageNumber = Annotated[int, Field(ge=1, description="Page to return, from 1.")]
PageSize = Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE, description=f"Items per page (at most {MAX_PAGE_SIZE}).")]
Metadata = Annotated[dict[str, Any], BeforeValidator(_json), BeforeValidator(check_size),
                     AfterValidator(check_metadata),
                     Field(description="A JSON object of metadata; it replaces the stored one.")]
SearchQuery = Annotated[Query | None, Field(description="Optional: rank what is recalled by closeness to this text.")]
MaxConclusions = Annotated[int | None, Field(ge=1, le=100, description="Most conclusions to include (default 25).")]
FIRST_PAGE = 1
PAGE_SIZE = DEFAULT_PAGE_SIZE
