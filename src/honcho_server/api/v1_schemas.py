"""Wire models of the v1 API (docs/v1-api.md §1.4-1.5): bodies as both v1 SDKs send them, and responses carrying
the union of both versions' fields (`metadata` always an object), with the functions that render them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from honcho_server.api.schemas import Metadata
from honcho_server.domain import models
from honcho_server.domain.documents import DEFAULT_MAX_CHARS
from honcho_server.domain.ids import NAME_MAX
from honcho_server.domain.metadata import strip_nul
from honcho_server.services.v1.names import App, User


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


# v1 names are free text (the SDK escapes nothing); those v3 cannot take as ids get derived ids (§3.2).
V1Name = Annotated[str, StringConstraints(min_length=1, max_length=NAME_MAX), AfterValidator(_no_nul)]
Content = Annotated[str, StringConstraints(max_length=DEFAULT_MAX_CHARS), AfterValidator(strip_nul)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AppCreate(_Body):
    name: V1Name
    metadata: Metadata | None = None


class AppUpdate(_Body):
    name: V1Name | None = None
    metadata: Metadata | None = None


class UserCreate(AppCreate):
    pass


class ListBody(_Body):
    filter: dict[str, Any] | None = None


class SessionListBody(ListBody):
    is_active: bool | None = None  # v3 lists active sessions only: true and false answer the same (§3.4)


class SessionCreate(_Body):
    metadata: Metadata | None = None


class MetadataUpdate(_Body):
    metadata: Metadata


class MessageCreate(_Body):
    content: Content
    is_user: bool
    metadata: Metadata | None = None


class MessageBatch(_Body):
    messages: list[MessageCreate] = Field(min_length=1, max_length=100)


class ChatBody(_Body):
    queries: Annotated[str, StringConstraints(min_length=1)] | Annotated[
        list[Annotated[str, StringConstraints(min_length=1)]], Field(min_length=1)]
    stream: bool = False


class AppOut(BaseModel):
    id: str
    name: str
    metadata: dict[str, Any]
    created_at: datetime


class UserOut(BaseModel):
    id: str
    name: str
    app_id: str
    metadata: dict[str, Any]
    created_at: datetime


class SessionOut(BaseModel):
    id: str
    app_id: str
    user_id: str
    is_active: bool
    metadata: dict[str, Any]
    created_at: datetime


class MessageOut(BaseModel):
    id: str
    app_id: str
    user_id: str
    session_id: str
    content: str
    is_user: bool
    peer_id: str  # the author (an extra field both SDKs accept): the user, the app's assistant, or another peer
    metadata: dict[str, Any]
    created_at: datetime


class ChatOut(BaseModel):
    content: str


class DeletedOut(BaseModel):
    message: str


# ---- rendering ---------------------------------------------------------------------------------------------------


def app(a: App) -> dict[str, Any]:
    return {"id": a.ws.name, "name": a.name, "metadata": a.ws.metadata, "created_at": a.ws.created_at}


def user(u: User) -> dict[str, Any]:
    p = u.peer
    return {"id": p.name, "name": u.name, "app_id": p.workspace_name, "metadata": p.metadata,
            "created_at": p.created_at}


def session(s: models.Session, user_id: str) -> dict[str, Any]:
    return {"id": s.name, "app_id": s.workspace_name, "user_id": user_id, "is_active": s.is_active,
            "metadata": s.metadata, "created_at": s.created_at}


def message(m: models.Message, user_id: str) -> dict[str, Any]:
    """`is_user` is relative to the path's user: a message by any other peer reads as the assistant's."""
    return {"id": m.uid, "app_id": m.workspace_name, "user_id": user_id, "session_id": m.session_name,
            "content": m.content, "is_user": m.peer_name == user_id, "peer_id": m.peer_name,
            "metadata": m.metadata, "created_at": m.created_at}

