"""Embedding providers behind one small interface.

`build_embedder(settings.embedding)` returns an `Embedder`: the bundled offline model (`local`, default), an
OpenAI-compatible endpoint (`openai`), Gemini (`gemini`) or the deterministic test embedder (`hash`).
"""

from honcho_server.embeddings.base import Embedder, EmbeddingError, Purpose
from honcho_server.embeddings.factory import build_embedder
from honcho_server.embeddings.settings import EmbeddingSettings

__all__ = ["Embedder", "EmbeddingError", "EmbeddingSettings", "Purpose", "build_embedder"]
