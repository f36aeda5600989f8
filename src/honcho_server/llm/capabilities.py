"""What an endpoint + model supports, and the output mode each task uses because of it.

Real endpoints differ: hosted APIs honour tools, forced tool choice and JSON schemas; many local servers (Ollama,
vLLM, LM Studio, llama.cpp) honour a JSON schema but never call a tool, ignore both, or refuse requests that carry
them with HTTP 400. The client learns which from a cheap probe (llm/probe.py) the first time an endpoint is used,
and from the failures of real requests afterwards; the store keeps what was learned so every process shares it.

Hosted providers are assumed to support what their API documents (no probe); a refusal still corrects that.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from honcho_server.domain.llm import IGNORED, REFUSED, UNKNOWN, UNSUPPORTED, YES, Capabilities

# Hosted APIs: what their documentation promises (Anthropic's JSON schema output depends on the model: the
# pydantic-ai profile knows, see `native_possible`).
_HOSTED = Capabilities(tools=YES, forced_tool_choice=YES, json_schema=YES, streaming=YES, stream_usage=YES)
HOSTED = frozenset({"openai", "anthropic", "gemini"})


class CapabilityStore(Protocol):
    """Where learned capabilities are kept (the database, so every process shares them)."""

    async def load(self, endpoint: str) -> Capabilities | None: ...

    async def save(self, endpoint: str, provider: str, base_url: str | None, model: str,
                   capabilities: Capabilities) -> None: ...


def endpoint_key(provider: str, base_url: str | None, model: str) -> str:
    return f"{provider}|{(base_url or '').rstrip('/')}|{model}"


def assumed(provider: str) -> Capabilities:
    """What is taken for granted before anything was learned."""
    return _HOSTED if provider in HOSTED else Capabilities()


def learned(current: Capabilities, now: str, **changes: str) -> Capabilities:
    """`current` with what a failure taught (source: traffic)."""
    return replace(current, **changes, source="traffic", checked_at=now)


def structured_modes(caps: Capabilities, configured: str, native_possible: bool) -> list[str]:
    """The output modes to try for a structured answer, best first: the provider's JSON schema mode (constrained
    decoding: always valid when honoured), then a forced tool call, then the schema in the prompt with the answer
    parsed tolerantly, which every model that can write JSON can serve. `configured` (llm.output_mode) other than
    auto pins one mode."""
    if configured != "auto":
        return [configured]
    modes = []
    if native_possible and caps.usable("json_schema"):
        modes.append("native")
    if caps.usable("tools"):
        modes.append("tool")
    modes.append("prompted")
    return modes


def describe(caps: Capabilities) -> str:
    """One line for errors and logs: what this endpoint does with each feature."""
    words = {YES: "honoured", IGNORED: "ignored", REFUSED: "refused (HTTP 4xx)", UNSUPPORTED: "not offered by the API",
             UNKNOWN: "not checked"}
    return (f"tool calls {words[caps.tools]}, JSON schema (response_format) {words[caps.json_schema]}, "
            f"streaming {words[caps.streaming]}")
