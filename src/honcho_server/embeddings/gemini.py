"""Gemini `models.batchEmbedContents` over REST (Google AI Studio / Generative Language API).

`POST {base_url}/models/{model}:batchEmbedContents` with the key in the `x-goog-api-key` header (not in the
URL, which ends up in logs); body `{"requests": [{"model": "models/{model}", "content": {"parts": [{"text"}]},
"taskType": "RETRIEVAL_DOCUMENT" | "RETRIEVAL_QUERY", "outputDimensionality"?}]}`; reply `{"embeddings":
[{"values": [...]}]}` in request order. The API accepts at most 100 requests per batch. Vectors truncated with
`outputDimensionality` are not unit length; they are normalised here like every other provider's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import re
from typing import Any

import httpx

from honcho_server.embeddings._remote import (
    HttpOptions,
    PreparedRequest,
    RemoteEmbedder,
    Sleep,
    api_root,
    parse_retry_after,
)
from honcho_server.embeddings.base import Purpose

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/v1beta"
DEFAULT_MODEL = "gemini-embedding-001"
MAX_BATCH = 100
KNOWN_DIMENSIONS = {"gemini-embedding-001": 3072, "text-embedding-004": 768, "embedding-001": 768}
TASK_TYPES = {"document": "RETRIEVAL_DOCUMENT", "query": "RETRIEVAL_QUERY"}
_DELAY = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


class GeminiEmbedder(RemoteEmbedder):
    _provider = "gemini"

    def __init__(
        self, *, api_key: str, model: str = DEFAULT_MODEL, base_url: str = DEFAULT_BASE_URL,
        dimensions: int | None = None, options: HttpOptions | None = None, client: httpx.AsyncClient | None = None,
        sleep: Sleep = asyncio.sleep, rng: random.Random | None = None,
    ) -> None:
        name = model.removeprefix("models/")
        size = dimensions or KNOWN_DIMENSIONS.get(name)
        if size is None:
            raise ValueError(f"unknown vector size for Gemini model {name!r}: set HONCHO_EMBEDDING__DIMENSIONS")
        options = options or HttpOptions()
        if options.batch_size > MAX_BATCH:
            options = dataclasses.replace(options, batch_size=MAX_BATCH)
        super().__init__(model=name, dimensions=size, options=options, client=client, sleep=sleep, rng=rng)
        self._url = f"{api_root(base_url)}/models/{name}:batchEmbedContents"
        self._headers = {"x-goog-api-key": api_key}
        self._output_dimensionality = dimensions

    def _prepare(self, texts: list[str], purpose: Purpose) -> PreparedRequest:
        def one(text: str) -> dict[str, Any]:
            request: dict[str, Any] = {
                "model": f"models/{self._model}", "content": {"parts": [{"text": text}]},
                "taskType": TASK_TYPES[purpose]}
            if self._output_dimensionality is not None:
                request["outputDimensionality"] = self._output_dimensionality
            return request

        return PreparedRequest(self._url, {"requests": [one(text) for text in texts]}, self._headers)

    def _parse(self, body: Any, count: int) -> list[list[float]]:
        vectors = [item["values"] for item in body["embeddings"]]
        if not all(isinstance(vector, list) for vector in vectors):
            raise TypeError("'values' is not a list of floats")
        return vectors

    def _retry_after(self, response: httpx.Response) -> float | None:
        """`Retry-After` if sent, else the `RetryInfo.retryDelay` ("23s") Google puts in 429 error details."""
        header = parse_retry_after(response.headers)
        if header is not None:
            return header
        try:
            details = response.json()["error"]["details"]
        except (ValueError, KeyError, TypeError):
            return None
        for detail in details if isinstance(details, list) else []:
            delay = detail.get("retryDelay") if isinstance(detail, dict) else None
            if isinstance(delay, str) and (match := _DELAY.match(delay)):
                return float(match.group(1))
        return None
