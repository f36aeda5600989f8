"""OpenAI-compatible `POST {base_url}/embeddings`: OpenAI, Ollama, vLLM, LM Studio, TEI, OpenRouter, LiteLLM.

Request `{"model", "input": [...], "encoding_format": "float", "dimensions"?}`; reply `{"data": [{"index",
"embedding"}]}`, put back in `index` order. The API has no query/document distinction; models that want one
(nomic-embed-text: `search_query: `, e5: `query: `) get it through `query_prefix` / `document_prefix`.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx

from honcho_server.embeddings._remote import HttpOptions, PreparedRequest, RemoteEmbedder, Sleep, api_root
from honcho_server.embeddings.base import Purpose

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "text-embedding-3-small"
# Native sizes of common models, so `dimensions` need not be configured for them (Ollama tags are stripped).
KNOWN_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
    "nomic-embed-text": 768,
    "mxbai-embed-large": 1024,
    "all-minilm": 384,
    "bge-m3": 1024,
    "snowflake-arctic-embed": 1024,
}


def known_dimensions(model: str) -> int | None:
    name = model.rsplit("/", 1)[-1].split(":", 1)[0].lower()
    return KNOWN_DIMENSIONS.get(name)


class OpenAICompatEmbedder(RemoteEmbedder):
    _provider = "openai"

    def __init__(
        self, *, model: str = DEFAULT_MODEL, base_url: str = DEFAULT_BASE_URL, api_key: str | None = None,
        dimensions: int | None = None, send_dimensions: bool = True, query_prefix: str = "",
        document_prefix: str = "", options: HttpOptions | None = None, client: httpx.AsyncClient | None = None,
        sleep: Sleep = asyncio.sleep, rng: random.Random | None = None,
    ) -> None:
        size = dimensions or known_dimensions(model)
        if size is None:
            raise ValueError(
                f"unknown vector size for embedding model {model!r}: set HONCHO_EMBEDDING__DIMENSIONS")
        super().__init__(model=model, dimensions=size, options=options or HttpOptions(), client=client,
                         sleep=sleep, rng=rng)
        self._url = api_root(base_url) + "/embeddings"
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._request_dimensions = dimensions if send_dimensions else None
        self._prefix = {"query": query_prefix, "document": document_prefix}

    def _prepare(self, texts: list[str], purpose: Purpose) -> PreparedRequest:
        prefix = self._prefix[purpose]
        body: dict[str, Any] = {
            "model": self._model, "input": [prefix + text for text in texts], "encoding_format": "float"}
        if self._request_dimensions is not None:
            body["dimensions"] = self._request_dimensions
        return PreparedRequest(self._url, body, self._headers)

    def _parse(self, body: Any, count: int) -> list[list[float]]:
        data = body["data"]
        if not isinstance(data, list):
            raise TypeError("'data' is not a list")
        if all(isinstance(item, dict) and "index" in item for item in data):
            data = sorted(data, key=lambda item: item["index"])
            if [item["index"] for item in data] != list(range(len(data))):
                raise ValueError("'index' values are not 0..n-1")
        vectors = [item["embedding"] for item in data]
        if not all(isinstance(vector, list) for vector in vectors):
            raise TypeError("'embedding' is not a list of floats")
        return vectors
