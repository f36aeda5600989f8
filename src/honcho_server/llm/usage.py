"""Token usage a provider did not report, counted locally."""

from __future__ import annotations

from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse
from pydantic_ai.usage import RunUsage

from honcho_server.domain.tokens import count_tokens


def estimate_usage(usage: RunUsage, messages: list[ModelMessage]) -> None:
    """Count the tokens of a run locally when the provider reported none (o200k: an estimate for other models)."""
    if usage.input_tokens or usage.output_tokens or not any(isinstance(m, ModelResponse) for m in messages):
        return  # reported, or nothing was answered (so nothing was billed)
    sent = received = 0
    for message in messages:
        text = " ".join(str(getattr(p, "content", "") or getattr(p, "args", "") or "") for p in message.parts)
        if isinstance(message, ModelRequest):
            sent += count_tokens(text)
        elif isinstance(message, ModelResponse):
            received += count_tokens(text)
    # Each request re-sends the conversation so far; this counts it once (a lower bound).
    usage.input_tokens, usage.output_tokens = sent, received
