"""Build the configured embedder: `build_embedder(settings.embedding)`."""

from __future__ import annotations

import httpx

from honcho_server.embeddings._remote import HttpOptions
from honcho_server.embeddings.base import Embedder
from honcho_server.embeddings.hashing import HashEmbedder
from honcho_server.embeddings.settings import PROVIDERS, EmbeddingSettings

HASH_DEFAULT_DIMENSIONS = 256


def build_embedder(settings: EmbeddingSettings, *, http_client: httpx.AsyncClient | None = None) -> Embedder:
    """The embedder the settings ask for. Raises ValueError for an unknown provider or model, or an unusable
    combination (e.g. gemini without an API key). `http_client` replaces the remote providers' own client
    (tests pass one with an `httpx.MockTransport`); the caller then owns and closes it."""
    provider = settings.provider.strip().lower()
    api_key = settings.api_key.get_secret_value() if settings.api_key else None
    options = HttpOptions(
        batch_size=settings.batch_size, max_batch_chars=settings.max_batch_chars,
        max_concurrency=settings.max_concurrency, timeout_seconds=settings.timeout_seconds,
        max_retries=settings.max_retries)
    if provider == "hash":
        return HashEmbedder(settings.dimensions or HASH_DEFAULT_DIMENSIONS)
    if provider == "local":
        from honcho_server.embeddings.local import LocalEmbedder, resolve_local_model  # numpy: only when used

        return LocalEmbedder(resolve_local_model(settings.model), settings.dimensions)
    if provider == "openai":
        from honcho_server.embeddings import openai_compat

        base_url = settings.base_url or openai_compat.DEFAULT_BASE_URL
        if not api_key and base_url == openai_compat.DEFAULT_BASE_URL:
            raise ValueError("the OpenAI embeddings API needs HONCHO_EMBEDDING__API_KEY "
                             "(or set HONCHO_EMBEDDING__BASE_URL to a local server such as Ollama)")
        return openai_compat.OpenAICompatEmbedder(
            model=settings.model or openai_compat.DEFAULT_MODEL, base_url=base_url, api_key=api_key,
            dimensions=settings.dimensions, send_dimensions=settings.send_dimensions,
            query_prefix=settings.query_prefix, document_prefix=settings.document_prefix,
            options=options, client=http_client)
    if provider == "gemini":
        from honcho_server.embeddings import gemini

        if not api_key:
            raise ValueError("the gemini embedding provider needs HONCHO_EMBEDDING__API_KEY")
        return gemini.GeminiEmbedder(
            api_key=api_key, model=settings.model or gemini.DEFAULT_MODEL,
            base_url=settings.base_url or gemini.DEFAULT_BASE_URL, dimensions=settings.dimensions,
            options=options, client=http_client)
    raise ValueError(f"unknown embedding provider {settings.provider!r}; choose one of {', '.join(PROVIDERS)}")
