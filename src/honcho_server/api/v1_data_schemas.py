"""Wire models of the v1 metamessage, collection and document routes (docs/v1-api.md §1.4-1.5).

Responses are the union of the two v1 SDKs' fields, `metadata` always an object. Bodies ignore unknown keys;
update bodies tell an absent field from a null one (`model_fields_set`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from honcho_server.api.schemas import Metadata
from honcho_server.domain.ids import NAME_MAX
from honcho_server.domain.metadata import strip_nul

MetamessageType = Annotated[str, StringConstraints(min_length=1, max_length=50), AfterValidator(strip_nul)]
MetamessageContent = Annotated[str, StringConstraints(max_length=50_000), AfterValidator(strip_nul)]
CollectionName = Annotated[str, StringConstraints(min_length=1, max_length=NAME_MAX), AfterValidator(strip_nul)]
DocumentContent = Annotated[str, StringConstraints(min_length=1, max_length=100_000), AfterValidator(strip_nul)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=NAME_MAX)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class FilterBody(_Body):
    """The body of a v1 list: `{"filter": {...}}` (metadata, docs/v1-api.md §3.10)."""

    filter: dict[str, Any] | None = None


class SessionMetamessageCreate(_Body):
    """0.0.19: under a session, a message required."""

    content: MetamessageContent
    message_id: Id
    metamessage_type: MetamessageType
    metadata: Metadata | None = None


class MetamessageCreate(_Body):
    """0.2.0: under the user, session and message optional."""

    content: MetamessageContent
    metamessage_type: MetamessageType
    message_id: Id | None = None
    session_id: Id | None = None
    metadata: Metadata | None = None


class SessionMetamessageUpdate(_Body):
    message_id: Id
    metadata: Metadata | None = None
    metamessage_type: MetamessageType | None = None


class MetamessageUpdate(_Body):
    """Absent: unchanged. Null `session_id` / `message_id`: unlinked; null `metadata` / `metamessage_type`:
    unchanged."""

    message_id: Id | None = None
    session_id: Id | None = None
    metadata: Metadata | None = None
    metamessage_type: MetamessageType | None = None


class SessionMetamessageList(FilterBody):
    message_id: str | None = None
    metamessage_type: str | None = None


class MetamessageList(SessionMetamessageList):
    session_id: str | None = None


class CollectionCreate(_Body):
    name: CollectionName
    metadata: Metadata | None = None


class CollectionUpdate(_Body):
    name: CollectionName | None = None
    metadata: Metadata | None = None


class DocumentCreate(_Body):
    content: DocumentContent
    metadata: Metadata | None = None


class DocumentUpdate(_Body):
    content: DocumentContent | None = None
    metadata: Metadata | None = None


class DocumentQuery(_Body):
    query: Annotated[str, StringConstraints(min_length=1, max_length=1000), AfterValidator(strip_nul)]
    filter: dict[str, Any] | None = None
    top_k: int = Field(default=5, ge=1, le=50)


class MetamessageOut(BaseModel):
    id: str
    app_id: str
    user_id: str
    session_id: str | None
    message_id: str | None
    label: str
    metamessage_type: str
    content: str
    metadata: dict[str, Any]
    created_at: datetime


class CollectionOut(BaseModel):
    id: str
    app_id: str
    user_id: str
    name: str
    metadata: dict[str, Any]
    created_at: datetime


class DocumentOut(BaseModel):
    id: str
    app_id: str
    user_id: str
    collection_id: str
    content: str
    metadata: dict[str, Any]
    created_at: datetime


class DeletedOut(BaseModel):
    message: str
