"""Settings -> a pydantic-ai model per task. The providers' own SDK retries are off: LLMClient retries itself,
the same way for every provider, and records what each attempt cost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from honcho_server.config import LLMSettings
from honcho_server.llm.base import LLMNotConfigured


@dataclass(frozen=True, slots=True)
class TaskModel:
    """Everything a call of one task needs to know about its model."""

    task: str
    provider: str
    model: str
    base_url: str | None
    api_key: str | None
    output_mode: str  # tool, native or prompted
    max_output_tokens: int
    temperature: float | None
    timeout_seconds: float


def resolve(settings: LLMSettings, task: str) -> TaskModel:
    """The task's own settings over the `llm` section's."""
    own = getattr(settings, task)
    provider = own.provider or settings.provider
    if provider == "none":
        raise LLMNotConfigured(
            "no LLM is configured, so reasoning is off: set HONCHO_LLM__PROVIDER (openai, anthropic, gemini or "
            "openai-compatible) and HONCHO_LLM__MODEL (plus HONCHO_LLM__API_KEY, and HONCHO_LLM__BASE_URL for an "
            "openai-compatible server)")
    model = own.model or settings.model
    if not model:
        raise LLMNotConfigured(f"HONCHO_LLM__MODEL (or HONCHO_LLM__{task.upper()}__MODEL) is not set")
    base_url = own.base_url or settings.base_url
    if provider == "openai-compatible" and not base_url:
        raise LLMNotConfigured("an openai-compatible provider needs HONCHO_LLM__BASE_URL (e.g. http://localhost:11434/v1)")
    key = own.api_key or settings.api_key
    mode = settings.output_mode
    if mode == "auto":
        mode = "prompted" if provider == "openai-compatible" else "tool"
    return TaskModel(task=task, provider=provider, model=model, base_url=base_url,
                     api_key=key.get_secret_value() if key else None, output_mode=mode,
                     max_output_tokens=own.max_output_tokens or settings.max_output_tokens,
                     temperature=own.temperature if own.temperature is not None else settings.temperature,
                     timeout_seconds=settings.timeout_seconds)


def build(spec: TaskModel) -> Any:
    """The pydantic-ai model for a resolved task (imports only the SDK it needs)."""
    if spec.provider in ("openai", "openai-compatible"):
        from openai import AsyncOpenAI
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        # Local servers take any key; the SDK insists on one.
        client = AsyncOpenAI(base_url=spec.base_url, api_key=spec.api_key or "not-needed", max_retries=0,
                             timeout=spec.timeout_seconds)
        provider = OpenAIProvider(openai_client=client)
        if spec.provider == "openai":
            return OpenAIChatModel(spec.model, provider=provider)
        from pydantic_ai.profiles.openai import openai_model_profile

        # Servers that only look like OpenAI: `max_tokens` (not every one knows `max_completion_tokens`), and no
        # JSON mode in prompted output (some reject `response_format: json_object`); the answer is validated
        # and re-asked anyway. `native` output still sends a JSON schema when chosen.
        profile = {**openai_model_profile(spec.model), "openai_chat_supports_max_completion_tokens": False,
                   "supports_json_object_output": False, "supports_json_schema_output": True}
        return OpenAIChatModel(spec.model, provider=provider, profile=profile)
    if spec.provider == "anthropic":
        from anthropic import AsyncAnthropic
        from pydantic_ai.models.anthropic import AnthropicModel
        from pydantic_ai.providers.anthropic import AnthropicProvider

        client = AsyncAnthropic(api_key=spec.api_key, base_url=spec.base_url, max_retries=0,
                                timeout=spec.timeout_seconds)
        return AnthropicModel(spec.model, provider=AnthropicProvider(anthropic_client=client))
    if spec.provider == "gemini":
        import httpx
        from pydantic_ai.models.google import GoogleModel
        from pydantic_ai.providers.google import GoogleProvider

        http = httpx.AsyncClient(timeout=spec.timeout_seconds)
        return GoogleModel(spec.model, provider=GoogleProvider(api_key=spec.api_key or "", base_url=spec.base_url,
                                                               http_client=http))
    raise LLMNotConfigured(f"unknown LLM provider {spec.provider!r}")
