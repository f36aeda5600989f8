"""What the rest of the server sees of an LLM: one call shape, its accounting record, and its errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from honcho_server.domain.llm import LLMCall

__all__ = ["LLMCall", "LLMError", "LLMNotConfigured", "LLMOutputError", "LLMProviderError", "Recorder"]

Recorder = Callable[[LLMCall], Awaitable[None]]


class LLMError(Exception):
    """An LLM call did not produce a usable answer."""


class LLMNotConfigured(LLMError):
    """No provider is configured: reasoning is off."""


class LLMProviderError(LLMError):
    """The provider refused or failed, after the retries for transient failures."""

    def __init__(self, message: str, status: int | None = None, unreachable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.unreachable = unreachable  # no answer at all (connection refused, DNS, timeouts): worth retrying


class LLMOutputError(LLMError):
    """The model's answer did not match the expected structure, after the re-asks."""
