"""Checks on configuration objects that need settings (token budgets of custom instructions)."""

from __future__ import annotations

from typing import Any

from honcho_server.domain.configuration import ScopeConfiguration
from honcho_server.domain.tokens import count_tokens
from honcho_server.errors import ValidationError


def check_scope_configuration(config: ScopeConfiguration, max_tokens: int) -> dict[str, Any]:
    """Validate custom instructions against the token budget; returns the storage form."""
    for text in config.instruction_texts():
        if max_tokens == 0:
            raise ValidationError("custom_instructions are disabled on this server")
        if count_tokens(text) > max_tokens:
            raise ValidationError(f"custom_instructions may be at most {max_tokens} tokens")
    return config.stored()
