"""LLMClient: run one task's prompt, get text or a validated object back, with retries and accounting.

* Structured output works with every endpoint. The modes are tried best first (llm/capabilities.py): the
  provider's JSON-schema mode (`native`), a forced tool call (`tool`), the schema in the prompt with the answer
  parsed tolerantly (`prompted`, llm/tolerant.py). A mode the endpoint refuses (HTTP 4xx), or whose answers never
  validate, gives way to the next; what was refused is remembered once the next mode has worked. An answer that
  does not validate is re-asked `output_retries` times within a mode.
* What an endpoint supports is probed the first time it is used (llm/probe.py; OpenAI-compatible servers only,
  hosted APIs are taken at their word) and kept in the capability store, shared by every process.
* Free text (summaries) is checked: not empty, not an error message passed on as an answer, within its length;
  otherwise re-asked, then LLMOutputError.
* Transient failures (429, 5xx, timeouts, connection errors) are retried per provider request with exponential
  backoff and jitter, honouring Retry-After, `max_retries` times (llm/retrying.py); then LLMProviderError. Other
  4xx fail at once. Interactive tasks (the chat) retry a connection failure once: an unreachable provider is said
  so in seconds.
* Every run is reported to the recorder (tokens, requests, latency, estimated cost, outcome), failures too; a
  provider that reports no token usage (some streams) is counted locally.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from pydantic_ai import Agent, ModelRetry, RunContext, capture_run_messages
from pydantic_ai.exceptions import AgentRunError, ModelAPIError, ModelHTTPError
from pydantic_ai.output import NativeOutput, PromptedOutput, ToolOutput
from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import RunUsage

from honcho_server.config import LLMSettings
from honcho_server.domain.llm import IGNORED, REFUSED, YES, Capabilities
from honcho_server.domain.tokens import count_tokens
from honcho_server.llm import agent, capabilities, metrics, models
from honcho_server.llm.agent import AgentStream
from honcho_server.llm.base import LLMCall, LLMError, LLMOutputError, LLMProviderError, Recorder
from honcho_server.llm.capabilities import CapabilityStore
from honcho_server.llm.pricing import estimate_cost
from honcho_server.llm.probe import ProbeReport, probe
from honcho_server.llm.retrying import RetryingModel, refused
from honcho_server.llm.tasks import AgentResult, AgentTask
from honcho_server.llm.tolerant import TolerantModel, strip_thinking
from honcho_server.llm.usage import estimate_usage

log = logging.getLogger("honcho_server.llm")
T = TypeVar("T")
INTERACTIVE = "dialectic_"  # task prefix of requests someone is waiting for
# An error passed on as if it were the answer (by a proxy, or by a model repeating its input).
_ERROR_ECHO = re.compile(r"^\s*(\{\s*\"error\"|error\b|exception\b|internal server error|bad gateway|"
                         r"service unavailable|gateway time-?out|rate limit|traceback \(most recent call last\)|"
                         r"<!doctype html|<html)", re.IGNORECASE)
_FEATURE = {"native": "json_schema", "tool": "tools"}  # what a structured mode needs of the endpoint
_MODE_NAMES = {"native": "JSON schema (response_format)", "tool": "a forced tool call",
               "prompted": "JSON asked for in the prompt"}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class LLMClient:
    """One per process. `model_for` builds the pydantic-ai model of a resolved task (tests pass fakes);
    `store` keeps what endpoints were seen to support (None: this process remembers it alone, without probing)."""

    def __init__(self, settings: LLMSettings, recorder: Recorder | None = None,
                 model_for: Callable[..., Any] = models.build,
                 sleep: Callable[[float], Any] = asyncio.sleep, store: CapabilityStore | None = None) -> None:
        self.settings = settings
        self.recorder = recorder
        self.model_for = model_for
        self._models: dict[tuple[str, Capabilities], tuple[models.TaskModel, Any]] = {}
        self._built: list[Any] = []  # every model built, its HTTP client closed by aclose()
        self._caps: dict[str, Capabilities] = {}
        self._probing: dict[str, asyncio.Lock] = {}
        self.store = store
        self.sleep = sleep
        self.generation_pk: int | None = None  # stamped on every call recorded (for_generation)

    def for_generation(self, generation_pk: int) -> LLMClient:
        """This client (its models, capabilities and connections shared) recording its calls as made for a
        generation of memory: its usage and cost are summed per generation."""
        bound = copy.copy(self)
        bound.generation_pk = generation_pk
        return bound

    def _build(self, spec: models.TaskModel, caps: Capabilities) -> Any:
        model = self.model_for(spec, caps)
        self._built.append(model)
        return model

    async def aclose(self) -> None:
        """Close the HTTP clients of the models built so far (they are built again if the client is used later)."""
        built, self._built, self._models = self._built, [], {}
        for model in built:
            await models.close(model)

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    def describe(self, task: str) -> models.TaskModel:
        """The task's provider and model (raises LLMNotConfigured when reasoning is off)."""
        return models.resolve(self.settings, task)

    # ------------------------------------------------------------------------------------------ capabilities

    @staticmethod
    def endpoint(spec: models.TaskModel) -> str:
        return capabilities.endpoint_key(spec.provider, spec.base_url, spec.model)

    async def capabilities(self, task: str) -> Capabilities:
        """What the task's endpoint supports: remembered, else stored, else probed (OpenAI-compatible servers,
        when a store is there to keep the answer), else assumed."""
        spec = self.describe(task)
        key = self.endpoint(spec)
        if key in self._caps:
            return self._caps[key]
        lock = self._probing.setdefault(key, asyncio.Lock())
        async with lock:
            if key in self._caps:
                return self._caps[key]
            found = await self._load(key)
            if found is None and self.store is not None and spec.provider not in capabilities.HOSTED:
                report = await self.probe(task)
                if not report.reachable:  # said now, instead of after the task's own retries
                    where = f" at {spec.base_url}" if spec.base_url else ""
                    raise LLMProviderError(f"{spec.provider}/{spec.model}{where} is unreachable: {report.error}",
                                           unreachable=True)
                found = report.capabilities if report.complete else None
            if found is None and spec.provider in capabilities.HOSTED:
                found = capabilities.assumed(spec.provider)  # a hosted API is taken at its word
            if found is None:
                return capabilities.assumed(spec.provider)  # not remembered: looked at again next time
            self._caps[key] = found
            return found

    async def _load(self, key: str) -> Capabilities | None:
        if self.store is None:
            return None
        try:
            return await self.store.load(key)
        except Exception:  # the store is an optimisation: a failure must not stop the call
            log.exception("could not read the capabilities of %s", key)
            return None

    async def _save(self, spec: models.TaskModel, caps: Capabilities) -> None:
        self._caps[self.endpoint(spec)] = caps
        if self.store is None:
            return
        try:
            await self.store.save(self.endpoint(spec), spec.provider, spec.base_url, spec.model, caps)
        except Exception:
            log.exception("could not store the capabilities of %s", self.endpoint(spec))

    async def learn(self, task: str, **changes: str) -> None:
        """Remember what a real request showed (e.g. tools="refused")."""
        spec = self.describe(task)
        current = self._caps.get(self.endpoint(spec)) or await self._load(self.endpoint(spec)) or \
            capabilities.assumed(spec.provider)
        if all(getattr(current, k) == v for k, v in changes.items()):
            return
        log.warning("%s/%s: %s (learned from a request)", spec.provider, spec.model,
                    ", ".join(f"{k} {v}" for k, v in changes.items()))
        await self._save(spec, capabilities.learned(current, _now(), **changes))

    async def probe(self, task: str) -> ProbeReport:
        """Probe the task's endpoint now (llm/probe.py) and keep what it showed (`llm check`, and first use)."""
        spec = self.describe(task)
        raw = TolerantModel(self._build(spec, Capabilities()))
        settings: ModelSettings = {"max_tokens": 200, "timeout": min(spec.timeout_seconds, 60.0)}
        started = time.perf_counter()
        report = await probe(raw, settings, models.native_possible(raw))
        usage = RunUsage(input_tokens=report.input_tokens, output_tokens=report.output_tokens)
        await self.record(spec, usage, started, None if report.complete else f"probe: {report.error}", None,
                          task_name="probe")
        if report.complete:
            log.info("%s/%s: %s", spec.provider, spec.model, capabilities.describe(report.capabilities))
            await self._save(spec, report.capabilities)
        return report

    async def resolved(self, task: str) -> tuple[models.TaskModel, Capabilities, Any]:
        """The task's settings, its endpoint's capabilities, and its pydantic-ai model built for them (once per
        set of capabilities): answers cleaned (llm/tolerant.py), requests retried (llm/retrying.py)."""
        caps = await self.capabilities(task)
        if (task, caps) not in self._models:
            spec = self.describe(task)
            connection_retries = min(1, self.settings.max_retries) if task.startswith(INTERACTIVE) else None
            model = RetryingModel(TolerantModel(self._build(spec, caps)), max_retries=self.settings.max_retries,
                                  sleep=self.sleep, label=f"{task}: {spec.provider}/{spec.model}",
                                  max_connection_retries=connection_retries)
            self._models[(task, caps)] = (spec, model)
        spec, model = self._models[(task, caps)]
        return spec, caps, model

    # -------------------------------------------------------------------------------------------------- runs

    async def run(self, task: str, *, instructions: str, prompt: str, output_type: type[T] = cast(Any, str),
                  workspace_pk: int | None = None, max_output_tokens: int | None = None) -> T:
        """The model's answer to `prompt` under `instructions`, as `output_type` (str: plain text, checked).
        `max_output_tokens` lowers the task's cap for this call."""
        spec, caps, model = await self.resolved(task)
        if output_type is str:
            return cast(T, await self._run_mode(spec, model, "text", str, instructions, prompt, workspace_pk,
                                                max_output_tokens))
        modes = capabilities.structured_modes(caps, spec.output_mode, models.native_possible(model))
        tried: list[str] = []
        lessons: dict[str, str] = {}  # feature -> what this call showed of it
        for mode in modes:
            try:
                output = await self._run_mode(spec, model, mode, output_type, instructions, prompt, workspace_pk,
                                              max_output_tokens)
            except LLMProviderError as exc:
                if not (isinstance(exc.__cause__, BaseException) and refused(exc.__cause__)) or mode == modes[-1]:
                    raise
                tried.append(f"{_MODE_NAMES[mode]}: refused ({exc})")
                lessons[_FEATURE[mode]] = REFUSED
            except LLMOutputError as exc:
                tried.append(f"{_MODE_NAMES[mode]}: {exc}")
                if mode == "native" and caps.json_schema != YES:
                    lessons["json_schema"] = IGNORED
            else:
                if lessons:  # a refusal is only sure once another mode worked (it was not the prompt's size...)
                    await self.learn(task, **lessons)
                return cast(T, output)
        raise self.no_structured_answer(spec, caps, tried)

    @staticmethod
    def no_structured_answer(spec: models.TaskModel, caps: Capabilities, tried: list[str]) -> LLMOutputError:
        """No output mode gave a valid structured answer: what was tried (`tried`: "<mode>: <what happened>"),
        what the endpoint does with each feature, and the settings that fix it."""
        hint = ("set HONCHO_LLM__OUTPUT_MODE=auto to let the server try every mode the endpoint supports"
                if spec.output_mode != "auto" else "use a model that follows JSON instructions")
        return LLMOutputError(f"{spec.provider}/{spec.model} could not give the structured answer {spec.task} "
                              f"needs; tried {'; '.join(tried)}. Endpoint: {capabilities.describe(caps)}. To fix: "
                              f"{hint}, or set HONCHO_LLM__{spec.task.upper()}__MODEL to one that does.")

    @staticmethod
    def mode_name(mode: str) -> str:
        """How a structured output mode (native, tool, prompted) is named in errors."""
        return _MODE_NAMES[mode]

    async def _run_mode(self, spec: models.TaskModel, model: Any, mode: str, output_type: Any, instructions: str,
                        prompt: str, workspace_pk: int | None, max_output_tokens: int | None) -> Any:
        agent_ = Agent(model, output_type=self._output_spec(output_type, mode), instructions=instructions,
                       retries={"output": self.settings.output_retries})
        cap = min(spec.max_output_tokens, max_output_tokens or spec.max_output_tokens)
        if output_type is str:
            agent_.output_validator(_text_check(cap))
        usage, started = RunUsage(), time.perf_counter()
        with capture_run_messages() as messages:
            try:
                result = await agent_.run(prompt, model_settings=self.model_settings(spec, max_output_tokens),
                                          usage=usage)
            except (AgentRunError, ModelAPIError, TimeoutError) as exc:
                estimate_usage(usage, messages)
                raise await self.failed(spec, usage, started, workspace_pk, exc) from exc
        estimate_usage(usage, messages)
        await self.record(spec, usage, started, None, workspace_pk)
        return result.output

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
        out: LLMError
        if isinstance(exc, ModelHTTPError):
            error, out = f"HTTP {exc.status_code}: {exc}", LLMProviderError(
                f"{name} answered HTTP {exc.status_code}: {str(exc.body)[:500]}", exc.status_code)
        elif isinstance(exc, ModelAPIError | TimeoutError):
            where = f" at {spec.base_url}" if spec.base_url else ""
            error, out = f"unreachable: {exc}", LLMProviderError(f"{name}{where} is unreachable: {exc}",
                                                                 unreachable=True)
        else:  # malformed answers after the re-asks, or more requests than the run may make
            cause = exc.__cause__ or exc
            error, out = f"malformed answer: {cause}", LLMOutputError(
                f"{name} gave no valid answer for {spec.task} ({self.settings.output_retries} re-asks): {cause}")
        await self.record(spec, usage, started, error, workspace_pk)
        return out

    @staticmethod
    def _output_spec(output_type: type[Any], mode: str) -> Any:
        if output_type is str:
            return str
        return {"tool": ToolOutput, "native": NativeOutput, "prompted": PromptedOutput}[mode](output_type)

    async def record(self, spec: models.TaskModel, usage: RunUsage, started: float, error: str | None,
                     workspace_pk: int | None, task_name: str | None = None) -> None:
        inp, out = usage.input_tokens or 0, usage.output_tokens or 0
        call = LLMCall(task=task_name or spec.task, provider=spec.provider, model=spec.model, input_tokens=inp,
                       output_tokens=out, requests=usage.requests, latency_ms=(time.perf_counter() - started) * 1000,
                       cost_usd=estimate_cost(spec.provider, spec.model, inp, out, self.settings.input_price_per_mtok,
                                              self.settings.output_price_per_mtok),
                       ok=error is None, error=error[:2000] if error else None, workspace_pk=workspace_pk,
                       generation_pk=self.generation_pk)
        metrics.observe(call)
        if self.recorder is None:
            return
        try:
            await self.recorder(call)
        except Exception:  # accounting must never turn an answer into a failure
            log.exception("could not record an LLM call")


def _text_check(cap: int) -> Callable[[RunContext[Any], str], str]:
    """An output validator for free text (prose: summaries): the answer (reasoning blocks removed) must be there,
    must not be an error passed on as an answer nor data or markup (a JSON fragment is a model that lost the
    thread), and must fit the output cap (a server that ignores `max_tokens` may run on)."""

    def check(_ctx: RunContext[Any], text: str) -> str:
        text = strip_thinking(text)
        if not text:
            raise ModelRetry("The answer was empty. Write the answer itself, as plain text.")
        if _ERROR_ECHO.match(text):
            raise ModelRetry("The answer looks like an error message, not the text asked for. Write the text asked "
                             "for.")
        if text[0] in "{[<" or text.startswith("```"):
            raise ModelRetry("The answer looks like data or markup, not the plain prose asked for. Write plain "
                             "prose.")
        if count_tokens(text) > cap * 1.25:
            raise ModelRetry(f"The answer is too long: keep it under {cap * 3 // 4} words.")
        return text

    return check
