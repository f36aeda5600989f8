"""What every HTTP embedding provider shares: batching, bounded concurrency, retries, checks, normalisation.

A provider subclass says how to build one request for a batch of texts and how to read the vectors out of the
reply; this base does the rest:

- texts are split into batches of at most `batch_size` texts and `max_batch_chars` characters (a single longer
  text travels alone), sent at most `max_concurrency` at a time per embedder, and reassembled in input order;
- 408, 429, 5xx, timeouts and connection errors are retried up to `max_retries` times with exponential backoff
  and full jitter, honouring `Retry-After` (a wait longer than `MAX_RETRY_AFTER` fails at once instead: the
  job queue is the right place to wait minutes);
- any other 4xx fails at once with the provider's own error message;
- every vector is checked for the expected dimension and normalised; blank texts are not sent (providers
  reject them) and get `unit_fallback`.

Error messages never contain the API key or the texts.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from honcho_server.embeddings._vectors import check_dimensions, normalise, unit_fallback
from honcho_server.embeddings.base import EmbeddingError, Purpose

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524, 529})
BASE_DELAY = 0.5
MAX_DELAY = 20.0
MAX_RETRY_AFTER = 60.0
MAX_MESSAGE = 500

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class HttpOptions:
    batch_size: int = 64
    max_batch_chars: int = 200_000
    max_concurrency: int = 4
    timeout_seconds: float = 30.0
    max_retries: int = 5


@dataclass(frozen=True)
class PreparedRequest:
    url: str
    json: dict[str, Any]
    headers: dict[str, str]


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def api_root(base_url: str) -> str:
    """`base_url` without a trailing slash; ValueError unless it is an absolute http(s) URL."""
    url = httpx.URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(
            f"embedding base URL {base_url!r} must start with http:// or https:// (e.g. http://localhost:11434/v1)")
    return base_url.rstrip("/")


def plan_batches(texts: list[str], max_items: int, max_chars: int) -> list[tuple[int, int]]:
    """[start, end) ranges covering `texts` in order, each within both limits (an oversized text goes alone)."""
    ranges: list[tuple[int, int]] = []
    start, chars = 0, 0
    for i, text in enumerate(texts):
        if i > start and (i - start >= max_items or chars + len(text) > max_chars):
            ranges.append((start, i))
            start, chars = i, 0
        chars += len(text)
    if start < len(texts):
        ranges.append((start, len(texts)))
    return ranges


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait from `retry-after-ms` or `Retry-After` (seconds or an HTTP date); None when absent."""
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_message(response: httpx.Response) -> str:
    """The provider's own explanation: OpenAI/Gemini `{"error": {"message"}}`, Ollama `{"error": "..."}`, TEI
    `{"error": "...", "error_type"}`, vLLM `{"message"}` or `{"detail"}`, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    message: Any = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message = error.get("message") or error.get("status")
        elif isinstance(error, str):
            message = error
        message = message or body.get("message") or body.get("detail")
    if not message:
        message = response.text.strip() or response.reason_phrase
    text = " ".join(str(message).split())
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "..."


class RemoteEmbedder:
    """Base of the HTTP providers; subclasses implement `_prepare` and `_parse` and set `_provider`."""

    _provider = "remote"

    def __init__(
        self, *, model: str, dimensions: int, options: HttpOptions, client: httpx.AsyncClient | None = None,
        sleep: Sleep = asyncio.sleep, rng: random.Random | None = None,
    ) -> None:
        self._model = model
        self._dimensions = dimensions
        self._options = options
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=options.timeout_seconds)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._gate = asyncio.Semaphore(options.max_concurrency)  # shared by concurrent embed calls

    @property
    def model_id(self) -> str:
        return f"{self._provider}:{self._model}:{self._dimensions}"

    @property
    def dimensions(self) -> int:
        return self._dimensions

    def _prepare(self, texts: list[str], purpose: Purpose) -> PreparedRequest:
        raise NotImplementedError

    def _parse(self, body: Any, count: int) -> list[list[float]]:
        """Raw vectors in request order; raise ValueError/KeyError/TypeError on an unexpected shape."""
        raise NotImplementedError

    def _retry_after(self, response: httpx.Response) -> float | None:
        return parse_retry_after(response.headers)

    async def embed(self, texts: list[str], purpose: Purpose = "document") -> list[list[float]]:
        # Providers reject empty input ("input cannot be an empty string"): blank texts get the fallback vector.
        sendable = [i for i, text in enumerate(texts) if text.strip()]
        vectors = [unit_fallback(self._dimensions) for _ in texts]
        embedded = await self._embed_all([texts[i] for i in sendable], purpose)
        for i, vector in zip(sendable, embedded, strict=True):
            vectors[i] = vector
        return vectors

    async def _embed_all(self, texts: list[str], purpose: Purpose) -> list[list[float]]:
        ranges = plan_batches(texts, self._options.batch_size, self._options.max_batch_chars)
        results: list[list[list[float]]] = [[] for _ in ranges]

        async def run(slot: int, start: int, end: int) -> None:
            async with self._gate:
                results[slot] = await self._embed_batch(texts[start:end], purpose)

        try:
            async with asyncio.TaskGroup() as group:
                for slot, (start, end) in enumerate(ranges):
                    group.create_task(run(slot, start, end))
        except* EmbeddingError as failures:
            raise failures.exceptions[0] from None
        return [vector for batch in results for vector in batch]

    async def _embed_batch(self, texts: list[str], purpose: Purpose) -> list[list[float]]:
        request = self._prepare(texts, purpose)
        attempts = self._options.max_retries + 1
        for attempt in range(attempts):
            try:
                body = await self._send(request)
            except _Retryable as exc:
                if attempt + 1 >= attempts:
                    raise EmbeddingError(
                        f"{self._provider} embeddings failed after {attempts} attempts ({request.url}): {exc}"
                    ) from None
                await self._sleep(self._backoff(attempt, exc.retry_after))
                continue
            return self._vectors(body, len(texts))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(self, request: PreparedRequest) -> Any:
        try:
            response = await self._client.post(
                request.url, json=request.json, headers=request.headers, timeout=self._options.timeout_seconds)
        except httpx.TimeoutException:
            raise _Retryable(f"timed out after {self._options.timeout_seconds:g}s") from None
        except (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError) as exc:
            raise _Retryable(f"connection error: {type(exc).__name__}: {exc}") from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.LocalProtocolError) as exc:
            raise EmbeddingError(f"{self._provider} embeddings: bad request URL {request.url!r}: {exc}") from None
        if response.status_code in RETRYABLE_STATUS:
            retry_after = self._retry_after(response)
            message = f"HTTP {response.status_code}: {error_message(response)}"
            if retry_after is not None and retry_after > MAX_RETRY_AFTER:
                raise EmbeddingError(
                    f"{self._provider} embeddings rate limited ({request.url}), retry after {retry_after:.0f}s: "
                    f"{message}")
            raise _Retryable(message, retry_after)
        if response.status_code >= 400:
            raise EmbeddingError(
                f"{self._provider} embeddings request rejected ({request.url}): HTTP {response.status_code}: "
                f"{error_message(response)}")
        try:
            return orjson.loads(response.content)  # several times faster than json on long float arrays
        except orjson.JSONDecodeError:
            raise EmbeddingError(
                f"{self._provider} embeddings returned a body that is not JSON ({request.url})") from None

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        return self._rng.uniform(0.0, min(MAX_DELAY, BASE_DELAY * 2**attempt))

    def _vectors(self, body: Any, count: int) -> list[list[float]]:
        try:
            raw = self._parse(body, count)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise EmbeddingError(
                f"{self._provider} embeddings returned an unexpected response shape: {type(exc).__name__}: {exc}"
            ) from None
        if len(raw) != count:
            raise EmbeddingError(f"{self._provider} embeddings returned {len(raw)} vectors for {count} texts")
        check_dimensions(raw, self._dimensions, f"{self._provider} model {self._model!r}")
        try:
            return [normalise(vector) for vector in raw]
        except TypeError:
            raise EmbeddingError(f"{self._provider} embeddings returned non-numeric vector values") from None

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
