"""The embedding interface every provider implements, and the errors it raises."""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

Purpose = Literal["document", "query"]


class EmbeddingError(Exception):
    """A provider failed (after its own retries); the message is safe to log and to store on a job."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors of a fixed dimension."""

    @property
    def model_id(self) -> str:
        """Stable identity of model + settings, recorded in the database (e.g. 'local:all-minilm-l6-v2')."""
        ...

    @property
    def dimensions(self) -> int: ...

    async def embed(self, texts: list[str], purpose: Purpose = "document") -> list[list[float]]:
        """One L2-normalised vector per text, in order. Raises EmbeddingError."""
        ...

    async def aclose(self) -> None:
        """Release clients, threads or models."""
        ...
