"""LLMClient: run one task's prompt, get text or a validated object back, with retries and accounting.

* Structured output works on every provider: function calling (`tool`), the provider's JSON-schema mode
  (`native`) or the schema in the prompt with the answer parsed and validated (`prompted`, for local models).
  An answer that does not validate is re-asked `output_retries` times; then LLMOutputError.
* Transient failures (429, 5xx, timeouts, connection errors) are retried per provider request with exponential
  backoff and jitter, honouring Retry-After, `max_retries` times (llm/retrying.py); then LLMProviderError. Other
  4xx fail at once.
* Every run is reported to the recorder (tokens, requests, latency, estimated cost, outcome), failures too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from pydantic_ai import Agent
from pydantic_ai.exceptions import AgentRunError, ModelAPIError, ModelHTTPError
from pydantic_ai.output import NativeOutput, PromptedOutput, ToolOutput
from pydantic_ai.usage import RunUsage

from honcho_server.config import LLMSettings
from honcho_server.llm import agent, metrics, models
from honcho_server.llm.agent import AgentResult, AgentStream, AgentTask
from honcho_server.llm.base import LLMCall, LLMError, LLMOutputError, LLMProviderError, Recorder
from honcho_server.llm.pricing import estimate_cost
from honcho_server.llm.retrying import RetryingModel

log = logging.getLogger("honcho_server.llm")
T = TypeVar("T")


class LLMClient:
    """One per process. `model_for` builds the pydantic-ai model of a resolved task (tests pass fakes)."""

    def __init__(self, settings: LLMSettings, recorder: Recorder | None = None,
                 model_for: Callable[[models.TaskModel], Any] = models.build,
                 sleep: Callable[[float], Any] = asyncio.sleep) -> None:
        self.settings = settings
        self.recorder = recorder
        self._model_for = model_for
        self._models: dict[str, tuple[models.TaskModel, Any]] = {}
        self.sleep = sleep

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    def describe(self, task: str) -> models.TaskModel:
        """The task's provider and model (raises LLMNotConfigured when reasoning is off)."""
        return models.resolve(self.settings, task)

    def model(self, task: str) -> tuple[models.TaskModel, Any]:
        """The task's resolved settings and its pydantic-ai model (built once), whose requests are retried on
        transient failures (llm/retrying.py)."""
        if task not in self._models:
            spec = models.resolve(self.settings, task)
            model = RetryingModel(self._model_for(spec), max_retries=self.settings.max_retries, sleep=self.sleep,
                                  label=f"{task}: {spec.provider}/{spec.model}")
            self._models[task] = (spec, model)
        return self._models[task]

    async def run(self, task: str, *, instructions: str, prompt: str, output_type: type[T] = cast(Any, str),
                  workspace_pk: int | None = None, max_output_tokens: int | None = None) -> T:
        """The model's answer to `prompt` under `instructions`, as `output_type` (str: plain text).
        `max_output_tokens` lowers the task's cap for this call."""
        spec, model = self.model(task)
        agent = Agent(model, output_type=self._output_spec(output_type, spec.output_mode),
                      instructions=instructions, retries={"output": self.settings.output_retries})
        model_settings = self.model_settings(spec, max_output_tokens)
        usage, started = RunUsage(), time.perf_counter()
        try:
            result = await agent.run(prompt, model_settings=model_settings, usage=usage)
        except (AgentRunError, ModelAPIError, TimeoutError) as exc:
            raise await self.failed(spec, usage, started, workspace_pk, exc) from exc
        await self.record(spec, usage, started, None, workspace_pk)
        return cast(T, result.output)

    async def run_agent(self, task: AgentTask) -> AgentResult:
        """An agent run with tools (llm/agent.py): the answer once complete."""
        return await agent.run(self, task)

    def stream_agent(self, task: AgentTask) -> AgentStream:
        """An agent run with tools whose text answer is read as the model writes it (llm/agent.py)."""
        return AgentStream(self, task)

    def model_settings(self, spec: models.TaskModel, max_output_tokens: int | None) -> Any:
        """Request settings of a task: its output cap (lowered to `max_output_tokens`), timeout, temperature."""
        cap = min(spec.max_output_tokens, max_output_tokens or spec.max_output_tokens)
        settings: dict[str, Any] = {"max_tokens": cap, "timeout": spec.timeout_seconds}
        if spec.temperature is not None:
            settings["temperature"] = spec.temperature
        return settings

    async def failed(self, spec: models.TaskModel, usage: RunUsage, started: float, workspace_pk: int | None,
                     exc: BaseException) -> LLMError:
        """Record a failed run and say what went wrong as an LLMError."""
        name = f"{spec.provider}/{spec.model}"
        if isinstance(exc, ModelHTTPError):
            error, out = f"HTTP {exc.status_code}: {exc}", LLMProviderError(
                f"{name} answered HTTP {exc.status_code}: {exc.body!r}", exc.status_code)
        elif isinstance(exc, ModelAPIError | TimeoutError):
            error, out = f"unreachable: {exc}", LLMProviderError(f"{name} unreachable: {exc}")
        else:  # malformed answers after the re-asks, or more requests than the run may make
            error, out = f"malformed answer: {exc}", LLMOutputError(f"{name} gave no valid answer for {spec.task}: "
                                                                   f"{exc}")
        await self.record(spec, usage, started, error, workspace_pk)
        return out

    @staticmethod
    def _output_spec(output_type: type[Any], mode: str) -> Any:
        if output_type is str:
            return str
        return {"tool": ToolOutput, "native": NativeOutput, "prompted": PromptedOutput}[mode](output_type)

    async def record(self, spec: models.TaskModel, usage: RunUsage, started: float, error: str | None,
                      workspace_pk: int | None) -> None:
        inp, out = usage.input_tokens or 0, usage.output_tokens or 0
        call = LLMCall(task=spec.task, provider=spec.provider, model=spec.model, input_tokens=inp,
                       output_tokens=out, requests=usage.requests, latency_ms=(time.perf_counter() - started) * 1000,
                       cost_usd=estimate_cost(spec.provider, spec.model, inp, out, self.settings.input_price_per_mtok,
                                              self.settings.output_price_per_mtok),
                       ok=error is None, error=error[:2000] if error else None, workspace_pk=workspace_pk)
        metrics.observe(call)
        if self.recorder is None:
            return
        try:
            await self.recorder(call)
        except Exception:  # accounting must never turn an answer into a failure
            log.exception("could not record an LLM call")
