import json
import math
import random
from typing import Any

import httpx
import pytest

from honcho_server.embeddings import EmbeddingError
from honcho_server.embeddings._remote import HttpOptions
from honcho_server.embeddings.gemini import GeminiEmbedder


def ok(request: httpx.Request, dims: int = 8) -> httpx.Response:
    texts = [r["content"]["parts"][0]["text"] for r in json.loads(request.content)["requests"]]
    return httpx.Response(200, json={"embeddings": [{"values": raw(t, dims)} for t in texts]})


def raw(text: str, dims: int = 8) -> list[float]:
    return [float(len(text))] + [1.0] * (dims - 1)


def unit(values: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in values))
    return [x / norm for x in values]


async def no_sleep(seconds: float) -> None:
    return None


def make(http: httpx.AsyncClient, sleeps: Any = no_sleep, **kwargs: Any) -> GeminiEmbedder:
    kwargs.setdefault("dimensions", 8)
    kwargs.setdefault("options", HttpOptions(max_retries=2))
    return GeminiEmbedder(api_key="AIza-secret", base_url="https://gemini.test/v1beta", client=http, sleep=sleeps,
                          rng=random.Random(0), **kwargs)


async def test_request_shape(server, http) -> None:
    server.default = ok
    embedder = make(http, model="models/gemini-embedding-001")
    vectors = await embedder.embed(["first", "second one"], purpose="document")
    await embedder.embed(["what?"], purpose="query")
    first = server.requests[0]
    assert str(first.url) == "https://gemini.test/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert first.headers["x-goog-api-key"] == "AIza-secret" and "key=" not in str(first.url)
    assert server.bodies()[0] == {"requests": [
        {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "first"}]},
         "taskType": "RETRIEVAL_DOCUMENT", "outputDimensionality": 8},
        {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "second one"}]},
         "taskType": "RETRIEVAL_DOCUMENT", "outputDimensionality": 8},
    ]}
    assert server.bodies()[1]["requests"][0]["taskType"] == "RETRIEVAL_QUERY"
    assert embedder.model_id == "gemini:gemini-embedding-001:8"
    for text, v in zip(["first", "second one"], vectors, strict=True):
        assert len(v) == 8 and math.isclose(sum(x * x for x in v), 1.0)
        assert v == pytest.approx(unit(raw(text)))


async def test_native_size_without_output_dimensionality(server, http) -> None:
    server.default = lambda r: ok(r, dims=3072)
    embedder = make(http, dimensions=None)
    assert embedder.dimensions == 3072
    await embedder.embed(["x"])
    assert "outputDimensionality" not in server.bodies()[0]["requests"][0]


async def test_batches_are_capped_at_100_and_keep_order(server, http) -> None:
    server.default = ok
    texts = ["x" * (i % 7 + 1) for i in range(250)]
    vectors = await make(http, options=HttpOptions(batch_size=500)).embed(texts)
    assert sorted(len(b["requests"]) for b in server.bodies()) == [50, 100, 100]
    for text, v in zip(texts, vectors, strict=True):
        assert v == pytest.approx(unit(raw(text)))


async def test_retries_on_429_with_retry_delay_from_error_details(server, http, sleeps) -> None:
    server.script = [httpx.Response(429, json={"error": {
        "code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED",
        "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3s"}]}})]
    server.default = ok
    assert len(await make(http, sleeps=sleeps).embed(["x"])) == 1
    assert sleeps == [3.0]


async def test_persistent_503_gives_up(server, http, sleeps) -> None:
    server.default = lambda r: httpx.Response(503, json={"error": {"code": 503, "message": "The model is overloaded.",
                                                                   "status": "UNAVAILABLE"}})
    with pytest.raises(EmbeddingError, match=r"gemini embeddings failed after 3 attempts .*The model is overloaded"):
        await make(http, sleeps=sleeps).embed(["x"])
    assert len(sleeps) == 2 and len(server.requests) == 3


async def test_400_fails_at_once_with_the_provider_message(server, http, sleeps) -> None:
    server.default = lambda r: httpx.Response(400, json={"error": {
        "code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT"}})
    with pytest.raises(EmbeddingError, match="HTTP 400: API key not valid") as caught:
        await make(http, sleeps=sleeps).embed(["x"])
    assert "AIza-secret" not in str(caught.value)
    assert len(server.requests) == 1 and sleeps == []


async def test_wrong_dimension_and_count_are_errors(server, http) -> None:
    server.default = lambda r: ok(r, dims=5)
    with pytest.raises(EmbeddingError, match="returned 5-dimensional vectors, expected 8"):
        await make(http).embed(["x"])
    server.default = lambda r: httpx.Response(200, json={"embeddings": []})
    with pytest.raises(EmbeddingError, match="returned 0 vectors for 1 texts"):
        await make(http).embed(["x"])


def test_unknown_model_needs_dimensions(http) -> None:
    with pytest.raises(ValueError, match="HONCHO_EMBEDDING__DIMENSIONS"):
        GeminiEmbedder(api_key="k", model="some-future-model", client=http)
