"""Retrying transient provider failures (429, 5xx, timeouts, connection errors) with exponential backoff and
jitter, honouring Retry-After; other failures (4xx) are final at once.

`RetryingModel` does it per provider request, under an agent: a failed request is sent again, never the whole
run, so the tool calls already made are not repeated. A streamed request is retried only while it is being
opened: once the provider has started answering, a failure ends the run (its text may already have reached a
reader)."""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from pydantic_ai.exceptions import ModelAPIError, ModelHTTPError
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

log = logging.getLogger("honcho_server.llm")
BACKOFF_BASE, BACKOFF_MAX = 0.5, 30.0
_TRANSIENT = {408, 409, 425, 429}  # and every 5xx
Sleep = Callable[[float], Awaitable[Any]]


_NOT_THE_REQUEST = {401, 403, 404}  # the key, or the model / URL: nothing about what the request carried


def transient(exc: BaseException) -> bool:
    if isinstance(exc, ModelHTTPError):
        return exc.status_code in _TRANSIENT or exc.status_code >= 500
    return isinstance(exc, ModelAPIError | TimeoutError)  # no status: connection errors and timeouts


def refused(exc: BaseException) -> bool:
    """The endpoint refused the request as such (e.g. the tools or the JSON schema it carried): a 4xx that is
    neither transient nor about the key, the model or the URL."""
    return isinstance(exc, ModelHTTPError) and 400 <= exc.status_code < 500 and \
        exc.status_code not in _TRANSIENT | _NOT_THE_REQUEST


def retry_after(exc: BaseException) -> float | None:
    headers = getattr(exc, "headers", None) or {}
    try:
        return min(float(headers.get("retry-after", "")), BACKOFF_MAX)
    except ValueError:
        return None


def delay(exc: BaseException, attempt: int) -> float:
    """Seconds to wait before retry number `attempt + 1` (jittered by ±25%)."""
    base = retry_after(exc) or min(BACKOFF_MAX, BACKOFF_BASE * 2 ** attempt)
    return base * (0.75 + random.random() / 2)


class RetryingModel(WrapperModel):
    """A model whose requests are retried `max_retries` times on transient failures."""

    def __init__(self, wrapped: Any, *, max_retries: int, sleep: Sleep, label: str,
                 max_connection_retries: int | None = None) -> None:
        super().__init__(wrapped)
        self.max_retries = max_retries
        # Fewer retries of a provider that cannot be reached at all, where someone waits for the answer.
        self.max_connection_retries = max_retries if max_connection_retries is None else max_connection_retries
        self._sleep = sleep
        self._label = label

    async def _pause(self, exc: BaseException, attempt: int) -> None:
        wait = delay(exc, attempt)
        log.warning("%s failed (%s); retry %d in %.1f s", self._label, exc, attempt + 1, wait)
        await self._sleep(wait)

    def _final(self, exc: BaseException, attempt: int) -> bool:
        if isinstance(exc, ModelAPIError | TimeoutError) and not isinstance(exc, ModelHTTPError):
            return attempt >= self.max_connection_retries
        return not transient(exc) or attempt >= self.max_retries

    async def request(self, messages: list[ModelMessage], model_settings: ModelSettings | None,
                      model_request_parameters: ModelRequestParameters) -> ModelResponse:
        attempt = 0
        while True:
            try:
                return await self.wrapped.request(messages, model_settings, model_request_parameters)
            except (ModelAPIError, TimeoutError) as exc:
                if self._final(exc, attempt):
                    raise
                await self._pause(exc, attempt)
                attempt += 1

    @asynccontextmanager
    async def request_stream(self, messages: list[ModelMessage], model_settings: ModelSettings | None,
                             model_request_parameters: ModelRequestParameters,
                             run_context: Any = None) -> AsyncIterator[StreamedResponse]:
        async with AsyncExitStack() as stack:
            attempt = 0
            while True:
                opening = self.wrapped.request_stream(messages, model_settings, model_request_parameters,
                                                      run_context)
                try:
                    response = await stack.enter_async_context(opening)
                    break
                except (ModelAPIError, TimeoutError) as exc:
                    if self._final(exc, attempt):
                        raise
                    await self._pause(exc, attempt)
                    attempt += 1
            yield response
