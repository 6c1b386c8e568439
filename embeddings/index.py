"""The FAISS vector store under its first name (``VectorIndex``); it lives in :mod:`embeddings.stores.faiss`."""

from .stores.faiss import (
    APPROX_THRESHOLD,
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    INDEX_FILE,
    FaissStore,
    IndexFileError,
    VectorIndex,
)

__all__ = [
    "APPROX_THRESHOLD", "HNSW_EF_CONSTRUCTION", "HNSW_EF_SEARCH", "HNSW_M", "INDEX_FILE", "FaissStore",
    "IndexFileError", "VectorIndex",
]
