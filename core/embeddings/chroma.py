"""EdgeMind's encoder as a chromadb embedding function, so chromadb never fetches its own default model.

Registered under its name: a collection created with it stores that name and its cache folder, and chromadb
rebuilds it from there when the collection is reopened without passing a function.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from ..errors import ConfigError
from .embedder import MAX_TOKENS, Embedder, shared_embedder


@register_embedding_function
class ChromaEmbeddingFunction(EmbeddingFunction[Documents]):
    """chromadb's EmbeddingFunction protocol over an Embedder (name, config round trip, cosine space)."""

    def __init__(self, cache_dir: str | Path, *, embedder: Embedder | None = None) -> None:
        """The model loads on first use; pass an embedder that is already loaded to share it."""
        self._cache_dir = Path(cache_dir)
        self._embedder = embedder

    def __call__(self, input: Documents) -> Embeddings:
        if self._embedder is None:
            self._embedder = shared_embedder(self._cache_dir)
        return list(self._embedder.embed(list(input)))

    @staticmethod
    def name() -> str:
        return "edgemind-all-minilm-l6-v2"

    def get_config(self) -> dict[str, Any]:
        return {"cache_dir": str(self._cache_dir)}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ChromaEmbeddingFunction:
        ChromaEmbeddingFunction.validate_config(config)
        return ChromaEmbeddingFunction(config["cache_dir"])

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        if not isinstance(config.get("cache_dir"), str) or not config["cache_dir"]:
            raise ConfigError(f"chromadb embedding config needs a 'cache_dir' folder, got {config!r}")

    def default_space(self) -> Space:
        # The vectors are unit length, so cosine and inner product rank alike; cosine distances read as 1 - cos.
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]

    def max_tokens(self) -> int:
        return MAX_TOKENS
