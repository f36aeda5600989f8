import math

from honcho_server.embeddings import Embedder
from honcho_server.embeddings.hashing import HashEmbedder, features


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


async def test_deterministic_unit_vectors_of_the_configured_size() -> None:
    embedder = HashEmbedder(128)
    assert isinstance(embedder, Embedder)
    assert embedder.model_id == "hash:128"
    first = await embedder.embed(["Alice likes green tea", "", "!!!"])
    again = await HashEmbedder(128).embed(["Alice likes green tea", "", "!!!"], purpose="query")
    assert first == again
    for vector in first:
        assert len(vector) == 128
        assert math.isclose(math.fsum(x * x for x in vector), 1.0, rel_tol=1e-9)


async def test_stable_across_processes() -> None:
    # blake2b, not Python's salted hash(): these values must not change between runs, machines or versions.
    [hello, pair] = await HashEmbedder(16).embed(["hello", "Hello, WORLD"])
    assert hello == [1.0 if i == 3 else 0.0 for i in range(16)]
    assert [i for i, x in enumerate(pair) if x] == [3, 12]
    assert math.isclose(pair[3], math.sqrt(0.5)) and math.isclose(pair[12], -math.sqrt(0.5))


def test_features_drop_stop_words_and_common_suffixes() -> None:
    assert features("What does Alice drink in the mornings? She drinks tea") == [
        "alice", "drink", "morning", "drink", "tea"]


async def test_shared_words_are_closer_than_unrelated_text() -> None:
    embedder = HashEmbedder()
    query, related, unrelated = await embedder.embed([
        "what does Alice drink in the morning",
        "Alice drinks green tea every morning",
        "the quarterly tax filing deadline moved to June",
    ])
    assert cosine(query, related) > 0.5
    assert abs(cosine(query, unrelated)) < 0.2
    assert cosine(query, query) > cosine(query, related)


async def test_ranks_the_text_sharing_words_first() -> None:
    embedder = HashEmbedder()
    documents = [
        "Caroline went to the LGBTQ support group on Tuesday",
        "Melanie painted a sunrise over the lake last year",
        "Caroline is researching adoption agencies",
        "The weather in Boston was rainy all week",
    ]
    vectors = await embedder.embed(documents)
    for query, expected in [("when did Melanie paint a sunrise", 1), ("adoption agencies research", 2),
                            ("support group meeting", 0), ("rainy weather in Boston", 3)]:
        [q] = await embedder.embed([query], purpose="query")
        best = max(range(len(documents)), key=lambda i: cosine(q, vectors[i]))
        assert best == expected, query
