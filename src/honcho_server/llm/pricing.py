"""Estimated cost of a call: the configured price per million tokens, else the genai-prices snapshot that ships
with pydantic-ai (offline; its updater is never used), else unknown."""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger("honcho_server.llm")


@dataclass(frozen=True, slots=True)
class _Usage:
    input_tokens: int
    output_tokens: int


# Our provider names -> genai-prices provider ids.
_PROVIDER_IDS = {"openai": "openai", "anthropic": "anthropic", "gemini": "google"}


def estimate_cost(provider: str, model: str, input_tokens: int, output_tokens: int,
                  input_per_mtok: float | None = None, output_per_mtok: float | None = None) -> float | None:
    if input_per_mtok is not None or output_per_mtok is not None:
        return ((input_per_mtok or 0.0) * input_tokens + (output_per_mtok or 0.0) * output_tokens) / 1e6
    provider_id = _PROVIDER_IDS.get(provider)
    if provider_id is None:  # an OpenAI-compatible server: could be anything, priced by nobody we know
        return None
    try:
        from genai_prices import calc_price

        price = calc_price(_Usage(input_tokens, output_tokens), model, provider_id=provider_id)
    except Exception:  # unknown model or provider: an honest "unknown" rather than a guess
        log.debug("no price known for %s/%s", provider, model)
        return None
    return float(price.total_price)
