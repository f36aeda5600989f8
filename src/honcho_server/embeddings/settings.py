"""Embedding settings live with the others in `config.py` (`HONCHO_EMBEDDING__PROVIDER` etc.)."""

from honcho_server.config import EMBEDDING_PROVIDERS as PROVIDERS
from honcho_server.config import EmbeddingSettings

__all__ = ["PROVIDERS", "EmbeddingSettings"]
