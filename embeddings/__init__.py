"""Embedding models and the on-disk vector index. Knows nothing about questions or passages."""

from .cache import EmbeddingCache, text_key
from .index import APPROX_THRESHOLD, IndexFileError, VectorIndex
from .model import (
    DEFAULT_MODEL,
    Embedder,
    ModelLoadError,
    SentenceTransformerEmbedder,
    load_embedder,
    normalize_rows,
    prepare_default_model,
)

__all__ = [
    "APPROX_THRESHOLD",
    "DEFAULT_MODEL",
    "EmbeddingCache",
    "Embedder",
    "IndexFileError",
    "ModelLoadError",
    "SentenceTransformerEmbedder",
    "VectorIndex",
    "load_embedder",
    "normalize_rows",
    "prepare_default_model",
    "text_key",
]
