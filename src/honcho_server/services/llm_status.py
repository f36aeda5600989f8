"""The LLM endpoints the configured tasks use, and what each was seen to support (the `llm_capabilities` table):
said by /health and used by `honcho-server llm check`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from honcho_server.config import LLM_TASKS, LLMSettings
from honcho_server.domain.llm import Capabilities
from honcho_server.llm import capabilities, models
from honcho_server.services.deps import Deps
from honcho_server.store.repos import llm_capabilities as capability_repo


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One provider + base URL + model, and the tasks that use it."""

    key: str  # provider|base_url|model, as the capability store keys it
    provider: str
    model: str
    base_url: str | None
    tasks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EndpointStatus:
    endpoint: Endpoint
    capabilities: Capabilities | None  # None: not checked yet (no probe, no lesson from traffic)


def endpoints(settings: LLMSettings, tasks: Iterable[str] = LLM_TASKS) -> list[Endpoint]:
    """The distinct endpoints of the tasks that can run (those with a configuration problem are left out), in the
    order their first task comes."""
    grouped: dict[str, tuple[models.TaskModel, list[str]]] = {}
    for task in tasks:
        if settings.task_problem(task) is not None:
            continue
        spec = models.resolve(settings, task)
        key = capabilities.endpoint_key(spec.provider, spec.base_url, spec.model)
        grouped.setdefault(key, (spec, []))[1].append(task)
    return [Endpoint(key, spec.provider, spec.model, spec.base_url, tuple(names))
            for key, (spec, names) in grouped.items()]


async def stored(deps: Deps) -> list[EndpointStatus]:
    """Every endpoint the configured tasks use, with what is stored about it (one SELECT)."""
    found = endpoints(deps.settings.llm)
    if not found:
        return []
    async with deps.db.read() as conn:
        rows = await capability_repo.get_many(conn, [e.key for e in found])
    return [EndpointStatus(e, rows.get(e.key)) for e in found]
