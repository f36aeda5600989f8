"""v1 metamessages (docs/v1-api.md §3.5): a user's notes, optionally tied to one of its sessions and a message.

0.0.19 reaches them through a session (a message is required there); 0.2.0 through the user, with the session
and the message optional. A message given without a session puts the metamessage in the message's session; the
user must be a member of any session named or implied (404 otherwise)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.models import Page
from honcho_server.errors import NotFound, ValidationError
from honcho_server.services.deps import Deps
from honcho_server.services.v1.filters import metadata_filter
from honcho_server.services.v1_data import paths
from honcho_server.services.v1_data.paths import Owner
from honcho_server.store.repos import v1_metamessages as repo
from honcho_server.store.repos.v1_metamessages import MessageRef, Metamessage, Selection

UNSET: Any = object()  # a field absent from an update body (null means something else there)


@dataclass(frozen=True, slots=True)
class Found:
    """A metamessage with the app and user it belongs to (what a response shows)."""

    owner: Owner
    item: Metamessage


def _other_session(message_id: str, session_id: str) -> ValidationError:
    return ValidationError(f"Message {message_id} is not in session {session_id}")


async def _message(conn: AsyncConnection, owner: Owner, message_id: str) -> MessageRef:
    found = await repo.find_message(conn, owner.workspace.pk, message_id)
    if found is None:
        raise NotFound(f"Message {message_id} not found in app {owner.app_id}")
    return found


async def _links(conn: AsyncConnection, owner: Owner, session_id: str | None, message_id: str | None
                 ) -> tuple[int | None, int | None]:
    """The (session, message) keys the ids name, checked: both must be the user's, and agree."""
    message = await _message(conn, owner, message_id) if message_id is not None else None
    session = await paths.member_session(conn, owner, session_id) if session_id is not None else None
    if message is not None:
        if session is not None and message.session_pk != session.pk:
            raise _other_session(message.uid, session.name)
        session = session or await paths.member_session_by_pk(conn, owner, message.session_pk)
    return (session.pk if session else None), (message.pk if message else None)


async def _read(conn: AsyncConnection, owner: Owner, uid: str) -> Found:
    found = await repo.get(conn, owner.peer.pk, uid)
    if found is None:
        raise NotFound(f"Metamessage {uid} not found for user {owner.user_id}")
    return Found(owner, found)


async def create(deps: Deps, app_id: str, user_id: str, metamessage_type: str, content: str,
                 metadata: dict[str, Any] | None, session_id: str | None, message_id: str | None) -> Found:
    async with deps.db.write() as conn:
        owner = await paths.user(conn, app_id, user_id)
        session_pk, message_pk = await _links(conn, owner, session_id, message_id)
        uid = await repo.insert(conn, owner.workspace.pk, owner.peer.pk, session_pk, message_pk, metamessage_type,
                                content, metadata or {}, deps.now())
        return await _read(conn, owner, uid)


async def get(deps: Deps, app_id: str, user_id: str, uid: str, *, session_id: str | None = None,
              message_id: str | None = None) -> Found:
    """One of the user's metamessages; with a session (0.0.19), only one of that session tied to `message_id`."""
    async with deps.db.read() as conn:
        owner = await paths.user(conn, app_id, user_id)
        session = await paths.member_session(conn, owner, session_id) if session_id is not None else None
        found = await _read(conn, owner, uid)
    if session is not None and (found.item.session_pk != session.pk or found.item.message_uid != message_id):
        raise NotFound(f"Metamessage {uid} not found in session {session_id} for message {message_id}")
    return found


async def update(deps: Deps, app_id: str, user_id: str, uid: str, *, metamessage_type: str | None = None,
                 metadata: dict[str, Any] | None = None, session_id: Any = UNSET, message_id: Any = UNSET,
                 in_session: str | None = None) -> Found:
    """Change what is given: `metamessage_type` and `metadata` when not null, `session_id` / `message_id` when
    present (null unlinks). `in_session` (0.0.19) confines the metamessage, and its new message, to that session."""
    async with deps.db.write() as conn:
        owner = await paths.user(conn, app_id, user_id)
        fixed = await paths.member_session(conn, owner, in_session) if in_session is not None else None
        current = (await _read(conn, owner, uid)).item
        if fixed is not None:
            if current.session_pk != fixed.pk:
                raise NotFound(f"Metamessage {uid} not found in session {in_session}")
            session_id = in_session
        values = await _relink(conn, owner, current, session_id, message_id)
        if metamessage_type is not None:
            values["metamessage_type"] = metamessage_type
        if metadata is not None:
            values["metadata"] = metadata
        await repo.update_fields(conn, current.pk, **values)
        return await _read(conn, owner, uid)


async def _relink(conn: AsyncConnection, owner: Owner, current: Metamessage, session_id: Any, message_id: Any
                  ) -> dict[str, Any]:
    """The new (session, message) columns of an update: a message keeps the metamessage in its session."""
    if session_id is UNSET and message_id is UNSET:
        return {}
    if message_id is UNSET:
        if current.message_pk is None or session_id is None:
            if current.message_pk is not None:
                raise ValidationError("A metamessage tied to a message stays in the message's session: "
                                      "unlink the message too (message_id: null)")
            session_pk = (await paths.member_session(conn, owner, session_id)).pk if session_id else None
            return {"session_id": session_pk}
        if current.session_name != session_id:
            raise _other_session(current.message_uid or "", session_id)
        return {}
    if message_id is None:
        if session_id is UNSET:
            return {"message_id": None}
        session_pk = (await paths.member_session(conn, owner, session_id)).pk if session_id else None
        return {"message_id": None, "session_id": session_pk}
    if session_id is None:
        raise ValidationError("A metamessage tied to a message is in the message's session: session_id cannot be "
                              "null with a message_id")
    session_pk, message_pk = await _links(conn, owner, None if session_id is UNSET else session_id, message_id)
    return {"session_id": session_pk, "message_id": message_pk}


async def list_page(deps: Deps, app_id: str, user_id: str, chosen: Selection, filters: dict[str, Any] | None,
                    page: int, size: int, reverse: bool, *, in_session: str | None = None) -> tuple[Owner,
                                                                                                     Page[Metamessage]]:
    """The user's metamessages, oldest first; `in_session` (0.0.19) lists that session's linked ones."""
    v3_filter = metadata_filter(filters)
    async with deps.db.read() as conn:
        owner = await paths.user(conn, app_id, user_id)
        if in_session is not None:
            session = await paths.member_session(conn, owner, in_session)
            chosen = Selection(session_pk=session.pk, message_uid=chosen.message_uid,
                               metamessage_type=chosen.metamessage_type, linked_only=True)
        found = await repo.list_page(conn, deps.db.dialect, owner.workspace.pk, owner.peer.pk, chosen, v3_filter,
                                     page, size, reverse)
    return owner, found
