"""A conclusion's provenance for the memory explorer: the messages it was read from, its premises, what it
replaced or was replaced by, and the conclusions resting on it (deductions, patterns, contradictions)."""

from __future__ import annotations

from dataclasses import dataclass, field

from honcho_server.domain.conclusions import Conclusion
from honcho_server.domain.models import Message
from honcho_server.errors import NotFound
from honcho_server.services import workspaces
from honcho_server.services.deps import Deps
from honcho_server.store.repos import conclusions as repo
from honcho_server.store.repos import provenance
from honcho_server.store.repos.provenance import Supersession


@dataclass(frozen=True, slots=True)
class Provenance:
    conclusion: Conclusion
    sources: list[Message]  # the source messages still stored, in conversation order
    premises: list[Conclusion]  # its source_ids that still exist, in the order it names them
    supersedes: list[Conclusion]  # history: what consolidation folded into it
    replaced_by: Conclusion | None  # when it is history itself
    cited_by: list[Conclusion]  # conclusions naming it among their premises
    supersession: dict[str, Supersession] = field(default_factory=dict)  # of every conclusion above, by id


async def of(deps: Deps, workspace_name: str, uid: str, generation: str | None = None) -> Provenance:
    """NotFound for an unknown workspace or conclusion (in the active generation, or the one named)."""
    async with deps.db.read() as conn:
        ws = await workspaces.serving(conn, workspace_name, generation)
        found = await repo.get(conn, ws, uid) if ws else None
        if ws is None or found is None:
            raise NotFound(f"Conclusion {uid} not found in workspace {workspace_name}")
        sources = await provenance.messages(conn, ws.pk, ws.name, await provenance.message_ids(conn, ws.pk, uid))
        marks = await provenance.supersession(conn, ws.pk, [uid])
        replaced_uid = marks[uid].superseded_by if uid in marks else None
        older = await provenance.superseded_by(conn, ws.pk, uid)
        citing = await provenance.citing(conn, deps.db.dialect, ws.pk, uid)
        named = [*(found.source_ids or []), *older, *citing, *([replaced_uid] if replaced_uid else [])]
        related = {c.uid: c for c in await repo.by_uids(conn, ws.pk, ws.name, ws.generation_pk, named)}
        marks |= await provenance.supersession(conn, ws.pk, list(related))

    def pick(uids: list[str]) -> list[Conclusion]:
        return [related[u] for u in uids if u in related]

    return Provenance(conclusion=found, sources=sources, premises=pick(found.source_ids or []),
                      supersedes=pick(older), replaced_by=related.get(replaced_uid) if replaced_uid else None,
                      cited_by=pick(citing), supersession=marks)
