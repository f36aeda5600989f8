"""A cheap probe of one endpoint + model: a handful of tiny requests that show whether it answers at all, whether
the key is accepted, and what it does with a JSON schema, tools, a forced tool choice and streaming.

Each question is asked so that ignoring the feature shows: the JSON-schema request does not ask for JSON in words
(a model that ignores `response_format` answers prose), the forced tool call is asked of a model that could answer
in text. A 4xx on a request that carries a feature means the endpoint refuses it; 401/403 and connection errors
end the probe (nothing else can be learned)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from pydantic_ai import Agent
from pydantic_ai.exceptions import AgentRunError, ModelAPIError, ModelHTTPError, UnexpectedModelBehavior, UserError
from pydantic_ai.output import NativeOutput, ToolOutput
from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import RunUsage

from honcho_server.domain.llm import IGNORED, REFUSED, UNKNOWN, UNSUPPORTED, YES, Capabilities
from honcho_server.llm.retrying import refused


class _Sum(BaseModel):
    total: int


TEXT_PROMPT = "Reply with the single word: ready"
SUM_PROMPT = "What is 2 + 3?"
TOOL_PROMPT = "Use the add tool to add 2 and 3, then tell me the result."
STREAM_PROMPT = "Count from 1 to 5."
PROMPTS = frozenset({TEXT_PROMPT, SUM_PROMPT, TOOL_PROMPT, STREAM_PROMPT})  # fakes of endpoints recognise them


def is_probe(user_text: str) -> bool:
    """Whether a request's user turn is one of the probe's questions."""
    return user_text.strip() in PROMPTS


@dataclass(slots=True)
class ProbeReport:
    reachable: bool = False
    auth_ok: bool | None = None  # None: not known (unreachable)
    capabilities: Capabilities = field(default_factory=Capabilities)
    latency_ms: float | None = None  # of the plain text request
    sample: str = ""  # the start of the plain text answer
    error: str | None = None  # why the probe stopped early
    status: int | None = None  # the HTTP status that stopped it, when one did
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def complete(self) -> bool:
        return self.reachable and self.error is None


def _fatal(exc: BaseException) -> str | None:
    """Why nothing more can be learned from this endpoint, or None."""
    if isinstance(exc, ModelHTTPError):
        if exc.status_code in (401, 403):
            return f"the key was refused (HTTP {exc.status_code})"
        if exc.status_code == 404:
            return f"the model or the URL was not found (HTTP 404): {str(exc.body)[:200]}"
        if exc.status_code >= 500 or exc.status_code == 429:
            return f"the endpoint failed (HTTP {exc.status_code}): {str(exc.body)[:200]}"
        return None
    if isinstance(exc, ModelAPIError | TimeoutError):
        return f"unreachable: {exc}"
    return None


class _Probe:
    def __init__(self, model: Any, settings: ModelSettings, native_possible: bool) -> None:
        self.model, self.settings, self.native_possible = model, settings, native_possible
        self.usage = RunUsage()
        self.report = ProbeReport()

    async def _run(self, output_type: Any, prompt: str, tools: list[Any] | None = None) -> Any:
        agent: Agent[Any, Any] = Agent(self.model, output_type=output_type, tools=tools or [],
                                       retries={"output": 0, "tools": 0})
        return (await agent.run(prompt, model_settings=self.settings, usage=self.usage)).output

    async def text(self) -> bool:
        started = time.perf_counter()
        try:
            answer = await self._run(str, TEXT_PROMPT)
        except Exception as exc:
            self.report.error = _fatal(exc) or f"a plain request failed: {exc}"
            self.report.status = exc.status_code if isinstance(exc, ModelHTTPError) else None
            self.report.reachable = isinstance(exc, ModelHTTPError) or not isinstance(exc, ModelAPIError | TimeoutError)
            self.report.auth_ok = False if isinstance(exc, ModelHTTPError) and exc.status_code in (401, 403) else (
                True if isinstance(exc, ModelHTTPError) else None)
            return False
        self.report.latency_ms = (time.perf_counter() - started) * 1000
        self.report.reachable, self.report.auth_ok = True, True
        self.report.sample = " ".join(str(answer).split())[:120]
        return True

    async def json_schema(self) -> str:
        if not self.native_possible:
            return UNSUPPORTED
        try:
            out = await self._run(NativeOutput(_Sum), SUM_PROMPT)
        except (UnexpectedModelBehavior, UserError):
            return IGNORED
        except AgentRunError as exc:
            return self._after(exc)
        return YES if isinstance(out, _Sum) else IGNORED

    async def forced_tool(self) -> str:
        try:
            await self._run(ToolOutput(_Sum, name="give_total"), SUM_PROMPT)
        except UnexpectedModelBehavior:
            return IGNORED
        except AgentRunError as exc:
            return self._after(exc)
        return YES

    async def tools(self) -> str:
        called: list[int] = []

        def add(a: int, b: int) -> int:
            """Add two whole numbers."""
            called.append(a + b)
            return a + b

        try:
            await self._run(str, TOOL_PROMPT, tools=[add])
        except UnexpectedModelBehavior:
            return YES if called else IGNORED
        except AgentRunError as exc:
            return self._after(exc)
        return YES if called else IGNORED

    async def streaming(self) -> tuple[str, str]:
        before = self.usage.output_tokens or 0
        try:
            agent: Agent[Any, Any] = Agent(self.model, output_type=str, retries={"output": 0})
            async with agent.run_stream(STREAM_PROMPT, model_settings=self.settings,
                                        usage=self.usage) as streamed:
                text = await streamed.get_output()
        except UnexpectedModelBehavior:
            return IGNORED, UNKNOWN
        except AgentRunError as exc:
            return self._after(exc), UNKNOWN
        if not str(text).strip():
            return IGNORED, UNKNOWN
        return YES, YES if (self.usage.output_tokens or 0) > before else "no"

    def _after(self, exc: AgentRunError) -> str:
        """A failed feature request: refused, or the probe must stop."""
        if refused(exc):
            return REFUSED
        self.report.error = _fatal(exc) or f"{type(exc).__name__}: {exc}"
        return UNKNOWN


async def probe(model: Any, settings: ModelSettings, native_possible: bool) -> ProbeReport:
    """Probe `model` (a pydantic-ai model, not retried) with request `settings` (timeout, output cap)."""
    p = _Probe(model, settings, native_possible)
    if not await p.text():
        return p.report
    json_schema = await p.json_schema()
    forced = await p.forced_tool() if p.report.error is None else UNKNOWN
    tools = YES if forced == YES else (await p.tools() if p.report.error is None else UNKNOWN)
    if tools != YES and forced == YES:
        forced = IGNORED
    streaming, stream_usage = await p.streaming() if p.report.error is None else (UNKNOWN, UNKNOWN)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    p.report.capabilities = Capabilities(tools=tools, forced_tool_choice=forced if tools == YES else tools,
                                         json_schema=json_schema, streaming=streaming, stream_usage=stream_usage,
                                         source="probe", checked_at=now)
    p.report.input_tokens, p.report.output_tokens = p.usage.input_tokens or 0, p.usage.output_tokens or 0
    return p.report
