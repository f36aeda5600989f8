"""Settings -> a pydantic-ai model per task. The providers' own SDK retries are off: LLMClient retries itself,
the same way for every provider, and records what each attempt cost."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from honcho_server.config import LLMSettings
from honcho_server.domain.llm import UNKNOWN, YES, Capabilities
from honcho_server.llm.base import LLMNotConfigured

if TYPE_CHECKING:
    import httpx2


@dataclass(frozen=True, slots=True)
class TaskModel:
    """Everything a call of one task needs to know about its model."""

    task: str
    provider: str
    model: str
    base_url: str | None
    api_key: str | None
    output_mode: str  # auto (chosen per endpoint, llm/capabilities.py), tool, native or prompted
    max_output_tokens: int
    temperature: float | None
    timeout_seconds: float


def resolve(settings: LLMSettings, task: str) -> TaskModel:
    """The task's own settings over the `llm` section's; LLMNotConfigured says which setting is missing."""
    problem = settings.task_problem(task)
    if problem is not None:
        raise LLMNotConfigured(problem)
    own = getattr(settings, task)
    provider = own.provider or settings.provider
    model = own.model or settings.model
    if model is None:  # task_problem() has said so already; this only narrows the type
        raise LLMNotConfigured(f"no model is set for the {task} task")
    return TaskModel(task=task, provider=provider, model=model,
                     base_url=settings.base_url_for(task), api_key=settings.api_key_for(task),
                     output_mode=settings.output_mode,
                     max_output_tokens=own.max_output_tokens or settings.max_output_tokens,
                     temperature=own.temperature if own.temperature is not None else settings.temperature,
                     timeout_seconds=settings.timeout_seconds)


CONNECT_TIMEOUT = 5.0  # seconds to open a connection: an unreachable provider fails fast, not after minutes


def _timeout(spec: TaskModel) -> httpx2.Timeout:
    """Connect, read, write and pool limits in the HTTP library every provider SDK is built on."""
    import httpx2

    total = spec.timeout_seconds
    return httpx2.Timeout(connect=min(CONNECT_TIMEOUT, total), read=total, write=total, pool=total)


def build(spec: TaskModel, caps: Capabilities | None = None) -> Any:
    """The pydantic-ai model for a resolved task (imports only the SDK it needs); what the endpoint was seen to
    support (`caps`) shapes the requests of an OpenAI-compatible server."""
    caps = caps or Capabilities()
    if spec.provider in ("openai", "openai-compatible"):
        from openai import AsyncOpenAI
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        # Local servers take any key; the SDK insists on one.
        client = AsyncOpenAI(base_url=spec.base_url, api_key=spec.api_key or "not-needed", max_retries=0,
                             timeout=_timeout(spec))
        provider = OpenAIProvider(openai_client=client)
        if spec.provider == "openai":
            return _closable(OpenAIChatModel(spec.model, provider=provider), client.close)
        from pydantic_ai.profiles.openai import OpenAIModelProfile, openai_model_profile

        # Servers that only look like OpenAI: `max_tokens` (not every one knows `max_completion_tokens`), no JSON
        # mode in prompted output (some reject `response_format: json_object`; the answer is parsed tolerantly and
        # validated anyway), and no forced tool choice where the endpoint refuses or ignores it.
        profile: OpenAIModelProfile = {**openai_model_profile(spec.model),
                                       "openai_chat_supports_max_completion_tokens": False,
                                       "supports_json_object_output": False, "supports_json_schema_output": True,
                                       "supports_forced_tool_choice": caps.forced_tool_choice in (YES, UNKNOWN)}
        return _closable(OpenAIChatModel(spec.model, provider=provider, profile=profile), client.close)
    if spec.provider == "anthropic":
        from anthropic import AsyncAnthropic
        from pydantic_ai.models.anthropic import AnthropicModel
        from pydantic_ai.providers.anthropic import AnthropicProvider

        anthropic = AsyncAnthropic(api_key=spec.api_key or "not-needed", base_url=spec.base_url, max_retries=0,
                                   timeout=_timeout(spec))
        return _closable(AnthropicModel(spec.model, provider=AnthropicProvider(anthropic_client=anthropic)),
                         anthropic.close)
    if spec.provider == "gemini":
        import httpx2  # the HTTP library pydantic-ai's Google provider (and the openai SDK) are built on
        from pydantic_ai.models.google import GoogleModel
        from pydantic_ai.providers.google import GoogleProvider

        http = httpx2.AsyncClient(timeout=_timeout(spec))
        return _closable(GoogleModel(spec.model, provider=GoogleProvider(
            api_key=spec.api_key or "", base_url=spec.base_url, http_client=http)), http.aclose)
    raise LLMNotConfigured(f"unknown LLM provider {spec.provider!r}")


_CLOSE = "_honcho_aclose"


def _closable(model: Any, close: Callable[[], Awaitable[None]]) -> Any:
    """Remember how to close the HTTP client a model was built on (the SDKs otherwise close it from a task started
    when they are garbage-collected, which may be after the event loop is gone)."""
    setattr(model, _CLOSE, close)
    return model


async def close(model: Any) -> None:
    """Close the HTTP client of a model `build` made (a no-op for anything else, e.g. test fakes)."""
    if (closer := getattr(model, _CLOSE, None)) is not None:
        await closer()


def native_possible(model: Any) -> bool:
    """Whether pydantic-ai can ask this model for a JSON-schema answer at all (its profile says so)."""
    profile = getattr(model, "profile", None) or {}
    return bool(profile.get("supports_json_schema_output", False))
