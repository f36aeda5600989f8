"""What every service needs: the database, the settings and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from honcho_server import clock
from honcho_server.config import Settings
from honcho_server.embeddings.base import Embedder
from honcho_server.embeddings.factory import build_embedder
from honcho_server.store.engine import Database


@dataclass
class Deps:
    db: Database
    settings: Settings
    now: Callable[[], datetime] = field(default=clock.now)
    # Built from settings on first use when not given (tests and benchmarks pass their own).
    embedder_instance: Embedder | None = None
    # Whether vectors can be stored and searched here; decided once by services.embedding.prepare_vectors.
    vectors_ready: bool | None = None

    @property
    def embedder(self) -> Embedder:
        if self.embedder_instance is None:
            self.embedder_instance = build_embedder(self.settings.embedding)
        return self.embedder_instance

    def defaults_layer(self) -> dict:
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
        """Close the embedder (when one was built) and the database engine."""
        if self.embedder_instance is not None:
            await self.embedder_instance.aclose()
        await self.db.dispose()
