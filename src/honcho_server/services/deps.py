"""What every service needs: the database, the settings and the clock."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from honcho_server import clock
from honcho_server.config import Settings
from honcho_server.domain.generations import Generation
from honcho_server.domain.llm import Capabilities, LLMCall
from honcho_server.embeddings.base import Embedder
from honcho_server.embeddings.factory import build_embedder
from honcho_server.embeddings.query_cache import QueryCache
from honcho_server.llm import recipes
from honcho_server.store.engine import Database
from honcho_server.store.repos import llm_calls
from honcho_server.store.repos import llm_capabilities as capability_repo

if TYPE_CHECKING:  # imported when first used: pydantic-ai and the provider SDKs are most of the start-up time
    from honcho_server.llm.client import LLMClient


@dataclass
class Deps:
    db: Database
    settings: Settings
    now: Callable[[], datetime] = field(default=clock.now)
    # Built from settings on first use when not given (tests and benchmarks pass their own).
    embedder_instance: Embedder | None = None
    # Whether vectors can be stored and searched here; decided once by services.embedding.prepare_vectors.
    vectors_ready: bool | None = None
    # Vectors of recent search queries (services.embedding.query_vector).
    query_vectors: QueryCache = field(default_factory=QueryCache)
    # Built from settings on first use when not given (tests pass one with a fake model).
    llm_instance: LLMClient | None = None
    # Clients of generations whose recipe names other models than the settings, by recipe.
    recipe_clients: dict[str, LLMClient] = field(default_factory=dict)

    @property
    def embedder(self) -> Embedder:
        if self.embedder_instance is None:
            self.embedder_instance = build_embedder(self.settings.embedding)
        return self.embedder_instance

    @property
    def llm(self) -> LLMClient:
        """The LLM client; every run it makes is recorded in `llm_calls` (its own short transaction, after the
        call: no transaction is held while a model thinks)."""
        if self.llm_instance is None:
            from honcho_server.llm.client import LLMClient

            self.llm_instance = LLMClient(self.settings.llm, recorder=self.record_llm_call,
                                          store=CapabilityTable(self))
        return self.llm_instance

    def llm_for(self, generation: Generation) -> LLMClient:
        """The client that derives `generation`: the settings' models overlaid by its recipe (llm/recipes.py),
        every call recorded as made for it."""
        from honcho_server.llm.client import LLMClient

        base = self.llm
        if recipes.same_models(generation.recipe, self.settings.llm):
            return base.for_generation(generation.pk)
        key = json.dumps(generation.recipe.get("tasks"), sort_keys=True)
        if key not in self.recipe_clients:  # the same model-building function: tests' fakes play every model
            self.recipe_clients[key] = LLMClient(recipes.apply(self.settings.llm, generation.recipe),
                                                 recorder=base.recorder, model_for=base.model_for, sleep=base.sleep,
                                                 store=base.store)
        return self.recipe_clients[key].for_generation(generation.pk)

    async def record_llm_call(self, call: LLMCall) -> None:
        async with self.db.write() as conn:
            await llm_calls.add(conn, call, self.now())

    def defaults_layer(self) -> dict[str, Any]:
        """Server-wide defaults as the first layer of the configuration cascade."""
        d = self.settings.defaults
        return {
            "reasoning": {"enabled": d.reasoning_enabled},
            "peer_card": {"use": d.peer_card_enabled, "create": d.peer_card_enabled},
            "summary": {"enabled": d.summary_enabled,
                        "messages_per_short_summary": d.messages_per_short_summary,
                        "messages_per_long_summary": d.messages_per_long_summary},
            "dream": {"enabled": d.dream_enabled},
        }

    async def aclose(self) -> None:
        """Close the embedder and the LLM client's connections (when they were built) and the database engine."""
        if self.embedder_instance is not None:
            await self.embedder_instance.aclose()
        if self.llm_instance is not None:
            await self.llm_instance.aclose()
        for client in self.recipe_clients.values():
            await client.aclose()
        await self.db.dispose()


@dataclass
class CapabilityTable:
    """The LLM client's capability store: the `llm_capabilities` table, shared by every process."""

    deps: Deps

    async def load(self, endpoint: str) -> Capabilities | None:
        async with self.deps.db.read() as conn:
            return await capability_repo.get(conn, endpoint)

    async def save(self, endpoint: str, provider: str, base_url: str | None, model: str,
                   capabilities: Capabilities) -> None:
        async with self.deps.db.write() as conn:
            await capability_repo.put(conn, self.deps.db.dialect, endpoint, provider, base_url, model, capabilities,
                                      self.deps.now())
