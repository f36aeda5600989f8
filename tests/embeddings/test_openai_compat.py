import json
import math
import random
from typing import Any

import httpx
import pytest

from honcho_server.embeddings import EmbeddingError
from honcho_server.embeddings._remote import HttpOptions, error_message, parse_retry_after, plan_batches
from honcho_server.embeddings.openai_compat import OpenAICompatEmbedder


def vector(seed: float, dims: int) -> list[float]:
    return [seed + i for i in range(dims)]


def ok(request: httpx.Request, dims: int = 4, reverse: bool = True) -> httpx.Response:
    """An OpenAI-shaped reply; items deliberately out of order (servers may return them so)."""
    inputs = json.loads(request.content)["input"]
    data = [{"object": "embedding", "index": i, "embedding": vector(float(len(text)), dims)}
            for i, text in enumerate(inputs)]
    return httpx.Response(200, json={"object": "list", "data": data[::-1] if reverse else data, "model": "m"})


async def no_sleep(seconds: float) -> None:
    return None


def make(http: httpx.AsyncClient, sleeps: Any = no_sleep, **kwargs: Any) -> OpenAICompatEmbedder:
    options = kwargs.pop("options", HttpOptions(max_retries=3))
    kwargs.setdefault("dimensions", 4)
    return OpenAICompatEmbedder(model="m", base_url="http://llm.test/v1/", api_key="sk-secret", options=options,
                                client=http, sleep=sleeps, rng=random.Random(1), **kwargs)


def is_unit(v: list[float]) -> bool:
    return math.isclose(math.fsum(x * x for x in v), 1.0, rel_tol=1e-9)


async def test_request_shape_order_and_normalisation(server, http) -> None:
    server.default = ok
    embedder = make(http)
    vectors = await embedder.embed(["a", "bbb", "cc"], purpose="query")
    request = server.requests[0]
    assert request.method == "POST" and str(request.url) == "http://llm.test/v1/embeddings"
    assert request.headers["authorization"] == "Bearer sk-secret"
    assert server.bodies() == [{"model": "m", "input": ["a", "bbb", "cc"], "encoding_format": "float",
                                "dimensions": 4}]
    # Sorted back by index: each vector starts at len(text) before normalisation.
    for text, got in zip(["a", "bbb", "cc"], vectors, strict=True):
        raw = vector(float(len(text)), 4)
        norm = math.sqrt(sum(x * x for x in raw))
        assert got == pytest.approx([x / norm for x in raw])
        assert is_unit(got)
    assert embedder.model_id == "openai:m:4" and embedder.dimensions == 4


async def test_dimensions_not_sent_unless_configured(server, http) -> None:
    server.default = lambda r: ok(r, dims=768)
    embedder = OpenAICompatEmbedder(model="nomic-embed-text:latest", base_url="http://localhost:11434/v1",
                                    client=http)
    assert embedder.dimensions == 768
    await embedder.embed(["x"])
    assert "dimensions" not in server.bodies()[0]
    assert "authorization" not in server.requests[0].headers


async def test_declared_but_not_sent_dimensions(server, http) -> None:
    server.default = ok
    await make(http, send_dimensions=False).embed(["x"])
    assert "dimensions" not in server.bodies()[0]


def test_unknown_model_without_dimensions_is_a_clear_error(http) -> None:
    with pytest.raises(ValueError, match="HONCHO_EMBEDDING__DIMENSIONS"):
        OpenAICompatEmbedder(model="my-custom-embedder", base_url="http://x/v1", client=http)


async def test_prefixes_per_purpose(server, http) -> None:
    server.default = ok
    embedder = make(http, query_prefix="search_query: ", document_prefix="search_document: ")
    await embedder.embed(["q"], purpose="query")
    await embedder.embed(["d"])
    assert [b["input"] for b in server.bodies()] == [["search_query: q"], ["search_document: d"]]


async def test_batches_split_by_count_and_characters_and_keep_order(server, http) -> None:
    server.default = ok
    embedder = make(http, options=HttpOptions(batch_size=3, max_batch_chars=10, max_concurrency=2))
    texts = ["a", "b", "c", "d", "eeeeeeeeee", "ffffffffffffffff", "g", "h"]
    vectors = await embedder.embed(texts)
    inputs = sorted((b["input"] for b in server.bodies()), key=lambda batch: texts.index(batch[0]))
    assert inputs == [["a", "b", "c"], ["d"], ["eeeeeeeeee"], ["ffffffffffffffff"], ["g", "h"]]
    assert len(vectors) == len(texts)
    expected = await make(http).embed(texts)  # one request, same vectors
    assert vectors == expected


def test_plan_batches() -> None:
    assert plan_batches([], 2, 10) == []
    assert plan_batches(["aa", "bb", "cc"], 2, 100) == [(0, 2), (2, 3)]
    assert plan_batches(["aaaa", "bbbb", "cc"], 10, 8) == [(0, 2), (2, 3)]
    assert plan_batches(["x" * 50, "y"], 10, 8) == [(0, 1), (1, 2)]


async def test_blank_texts_are_not_sent(server, http) -> None:
    server.default = ok
    vectors = await make(http).embed(["", "hello", "   "])
    assert server.bodies()[0]["input"] == ["hello"]
    assert vectors[0] == vectors[2] == [1.0, 0.0, 0.0, 0.0]
    assert all(is_unit(v) for v in vectors)
    assert await make(http).embed([]) == []
    assert len(server.requests) == 1


async def test_retries_429_honouring_retry_after_then_succeeds(server, http, sleeps) -> None:
    server.script = [
        httpx.Response(429, headers={"Retry-After": "7"}, json={"error": {"message": "Rate limit reached"}}),
        httpx.Response(429, headers={"retry-after-ms": "250"}, json={"error": {"message": "slow down"}}),
    ]
    server.default = ok
    vectors = await make(http, sleeps=sleeps).embed(["hi"])
    assert len(server.requests) == 3 and len(vectors) == 1
    assert sleeps == [7.0, 0.25]


async def test_retries_timeouts_and_connection_errors_with_backoff(server, http, sleeps) -> None:
    server.script = [httpx.ReadTimeout("slow"), httpx.ConnectError("refused"), httpx.Response(503, text="busy")]
    server.default = ok
    await make(http, sleeps=sleeps).embed(["hi"])
    assert len(sleeps) == 3
    caps = [0.5, 1.0, 2.0]  # full jitter under an exponential cap
    assert all(0 <= s <= cap for s, cap in zip(sleeps, caps, strict=True))


async def test_persistent_500_gives_up_with_a_clear_error(server, http, sleeps) -> None:
    server.default = lambda r: httpx.Response(500, json={"error": {"message": "internal meltdown"}})
    with pytest.raises(EmbeddingError) as caught:
        await make(http, sleeps=sleeps).embed(["hi"])
    message = str(caught.value)
    assert "after 4 attempts" in message and "HTTP 500" in message and "internal meltdown" in message
    assert "sk-secret" not in message and "hi" not in message.split(":")[-1]
    assert len(server.requests) == 4 and len(sleeps) == 3


async def test_400_fails_at_once_with_the_provider_message(server, http, sleeps) -> None:
    server.default = lambda r: httpx.Response(400, json={
        "error": {"message": "This model's maximum context length is 8192 tokens", "type": "invalid_request_error"}})
    with pytest.raises(EmbeddingError, match="HTTP 400: This model's maximum context length is 8192 tokens"):
        await make(http, sleeps=sleeps).embed(["hi"])
    assert len(server.requests) == 1 and sleeps == []


async def test_401_is_not_retried(server, http, sleeps) -> None:
    server.default = lambda r: httpx.Response(401, json={"error": {"message": "Incorrect API key provided"}})
    with pytest.raises(EmbeddingError, match="401: Incorrect API key provided"):
        await make(http, sleeps=sleeps).embed(["hi"])
    assert len(server.requests) == 1


async def test_very_long_retry_after_fails_fast(server, http, sleeps) -> None:
    server.default = lambda r: httpx.Response(429, headers={"Retry-After": "3600"}, json={"error": "quota"})
    with pytest.raises(EmbeddingError, match="retry after 3600s"):
        await make(http, sleeps=sleeps).embed(["hi"])
    assert sleeps == []


async def test_wrong_dimension_is_an_error(server, http) -> None:
    server.default = lambda r: ok(r, dims=3)
    with pytest.raises(EmbeddingError, match="returned 3-dimensional vectors, expected 4"):
        await make(http).embed(["hi"])


@pytest.mark.parametrize("body", [
    {"data": "nope"},
    {"result": []},
    {"data": [{"index": 0, "embedding": "AAAAAA=="}]},
    {"data": [{"index": 0, "embedding": [1, 2, 3, "x"]}]},
    {"data": [{"index": 5, "embedding": [1, 2, 3, 4]}]},
    {"data": []},
])
async def test_malformed_replies_are_errors(server, http, body) -> None:
    server.default = lambda r: httpx.Response(200, json=body)
    with pytest.raises(EmbeddingError):
        await make(http).embed(["hi"])


async def test_one_failing_batch_fails_the_call(server, http) -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        if "bad" in request.content.decode():
            return httpx.Response(422, json={"detail": "input rejected"})
        return ok(request)

    server.default = reply
    with pytest.raises(EmbeddingError, match="input rejected"):
        await make(http, options=HttpOptions(batch_size=1)).embed(["a", "b", "bad", "c"])


def test_parse_retry_after() -> None:
    assert parse_retry_after(httpx.Headers({"retry-after": "12"})) == 12.0
    assert parse_retry_after(httpx.Headers({"retry-after-ms": "1500", "retry-after": "9"})) == 1.5
    assert parse_retry_after(httpx.Headers({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0
    assert parse_retry_after(httpx.Headers({"retry-after": "soon"})) is None
    assert parse_retry_after(httpx.Headers({})) is None


def test_error_message_shapes() -> None:
    assert error_message(httpx.Response(400, json={"error": {"message": "bad"}})) == "bad"
    assert error_message(httpx.Response(400, json={"error": "ollama says no"})) == "ollama says no"
    assert error_message(httpx.Response(400, json={"message": "vllm says no"})) == "vllm says no"
    assert error_message(httpx.Response(400, text="plain\ntext")) == "plain text"
    assert error_message(httpx.Response(502, text="")) == "Bad Gateway"
    assert len(error_message(httpx.Response(400, text="x" * 5000))) < 600


@pytest.mark.parametrize("url", ["localhost:11434/v1", "ftp://x/v1", "/v1", ""])
def test_bad_base_url_is_a_clear_configuration_error(http, url) -> None:
    with pytest.raises(ValueError, match="must start with http:// or https://"):
        OpenAICompatEmbedder(model="m", base_url=url, dimensions=4, client=http)


async def test_concurrency_is_bounded_across_calls(server, http) -> None:
    import asyncio

    in_flight, peak = 0, 0
    release = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await release.wait()
        in_flight -= 1
        return ok(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        embedder = make(client, options=HttpOptions(batch_size=1, max_concurrency=2))
        calls = asyncio.gather(embedder.embed(["a", "b", "c"]), embedder.embed(["d", "e"]))
        for _ in range(20):
            await asyncio.sleep(0)
        assert peak == 2
        release.set()
        first, second = await calls
    assert len(first) == 3 and len(second) == 2 and peak == 2


async def test_non_json_success_body_is_an_error(server, http) -> None:
    server.default = lambda r: httpx.Response(200, text="<html>captive portal</html>")
    with pytest.raises(EmbeddingError, match="not JSON"):
        await make(http).embed(["hi"])
