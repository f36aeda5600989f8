import httpx
import pytest
from pydantic import ValidationError

from honcho_server.embeddings import EmbeddingSettings, build_embedder
from honcho_server.embeddings.gemini import GeminiEmbedder
from honcho_server.embeddings.hashing import HashEmbedder
from honcho_server.embeddings.openai_compat import OpenAICompatEmbedder


def test_defaults_are_local_wordllama() -> None:
    settings = EmbeddingSettings()
    assert settings.provider == "local" and settings.model is None
    embedder = build_embedder(settings)
    assert embedder.model_id == "local:wordllama-l2-supercat" and embedder.dimensions == 256


async def test_hash_provider() -> None:
    embedder = build_embedder(EmbeddingSettings(provider="HASH", dimensions=64))
    assert isinstance(embedder, HashEmbedder) and embedder.dimensions == 64
    assert build_embedder(EmbeddingSettings(provider="hash")).dimensions == 256


async def test_openai_provider_from_settings() -> None:
    seen: list[httpx.Request] = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": [{"index": 0, "embedding": [3.0, 4.0]}]})

    async with httpx.AsyncClient(transport=httpx.MockTransport(reply)) as http:
        embedder = build_embedder(EmbeddingSettings(
            provider="openai", model="bge", base_url="http://ollama.test:11434/v1", dimensions=2,
            api_key="k"), http_client=http)
        assert isinstance(embedder, OpenAICompatEmbedder)
        assert await embedder.embed(["x"]) == [pytest.approx([0.6, 0.8])]
        await embedder.aclose()  # does not close a client it does not own
        assert not http.is_closed
    assert str(seen[0].url) == "http://ollama.test:11434/v1/embeddings"


def test_openai_needs_a_key_only_for_the_openai_api() -> None:
    with pytest.raises(ValueError, match="HONCHO_EMBEDDING__API_KEY"):
        build_embedder(EmbeddingSettings(provider="openai"))
    embedder = build_embedder(EmbeddingSettings(provider="openai", base_url="http://localhost:11434/v1",
                                                model="nomic-embed-text"))
    assert embedder.model_id == "openai:nomic-embed-text:768"


def test_gemini_provider() -> None:
    with pytest.raises(ValueError, match="HONCHO_EMBEDDING__API_KEY"):
        build_embedder(EmbeddingSettings(provider="gemini"))
    embedder = build_embedder(EmbeddingSettings(provider="gemini", api_key="k", dimensions=768, batch_size=500))
    assert isinstance(embedder, GeminiEmbedder)
    assert embedder.model_id == "gemini:gemini-embedding-001:768"


def test_unknown_provider_is_a_clear_value_error() -> None:
    with pytest.raises(ValueError, match="unknown embedding provider 'cohere'; choose one of local, openai"):
        EmbeddingSettings(provider="cohere")
    with pytest.raises(ValueError, match="unknown embedding provider 'cohere'"):
        build_embedder(EmbeddingSettings.model_construct(provider="cohere"))


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic_settings import BaseSettings, SettingsConfigDict

    class Root(BaseSettings):  # how config.Settings mounts it
        model_config = SettingsConfigDict(env_prefix="HONCHO_", env_nested_delimiter="__")
        embedding: EmbeddingSettings = EmbeddingSettings()

    for key, value in {"PROVIDER": "openai", "MODEL": "text-embedding-3-large", "BASE_URL": "https://x.test/v1",
                       "API_KEY": "sk-1", "DIMENSIONS": "1024"}.items():
        monkeypatch.setenv(f"HONCHO_EMBEDDING__{key}", value)
    settings = Root().embedding
    assert (settings.provider, settings.model, settings.base_url, settings.dimensions) == (
        "openai", "text-embedding-3-large", "https://x.test/v1", 1024)
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "sk-1"
    assert "sk-1" not in repr(settings)
    with pytest.raises(ValidationError):
        EmbeddingSettings(dimensions=0)
