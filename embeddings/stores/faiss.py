"""The default vector store: a FAISS file in the index folder, exact inner product while small, HNSW beyond
``APPROX_THRESHOLD`` rows.

Vectors are L2-normalised, so inner product is cosine similarity. Row ``i`` of the index is record ``i``
of whatever the caller stores beside it; this module knows nothing about passages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .base import StoreError

INDEX_FILE = "vectors.faiss"
APPROX_THRESHOLD = 50_000
# bench.scale (1M clustered 384-d unit vectors, 2 cores): M=32/efConstruction=80 builds in ~34 min on a shared
# 2-core machine; recall@10 vs exact is 0.89 at efSearch=96 and 0.956 at efSearch=256 (p50 1.8 ms single query).
# FAISS searches with max(efSearch, k), and the retriever asks for a few hundred units, so 256 is also its floor.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256


class IndexFileError(StoreError):
    """The FAISS file is missing, truncated or not a FAISS index."""


def _faiss():
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ImportError("FAISS is not available: install faiss-cpu") from exc
    return faiss


@dataclass
class FaissStore:
    """A FAISS index plus the parameters that describe it (recorded in the manifest)."""

    backend = "faiss"

    index: Any
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    @classmethod
    def build(
        cls, vectors: np.ndarray, *, kind: str = "auto", threshold: int = APPROX_THRESHOLD,
        **_options: Any,
    ) -> FaissStore:
        """Index ``vectors`` (n, d) float32 unit rows.

        Args:
            vectors: the rows to index; row i gets id i.
            kind: ``"flat"`` (exact), ``"hnsw"`` (approximate) or ``"auto"`` (flat up to ``threshold`` rows).
            threshold: the row count above which ``auto`` switches to HNSW.
            _options: what other stores take (a collection name, a server address); FAISS needs none.
        """
        faiss = _faiss()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise ValueError("vectors must be a 2-d array")
        n, dim = vectors.shape
        if kind == "auto":
            kind = "hnsw" if n > threshold else "flat"
        if kind == "flat":
            index = faiss.IndexFlatIP(dim)
            params: dict[str, Any] = {"store": "faiss", "type": "flat", "metric": "inner_product"}
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            index.hnsw.efSearch = HNSW_EF_SEARCH
            params = {
                "store": "faiss", "type": "hnsw", "metric": "inner_product", "M": HNSW_M,
                "efConstruction": HNSW_EF_CONSTRUCTION, "efSearch": HNSW_EF_SEARCH,
            }
        else:
            raise ValueError(f"unknown index kind {kind!r}")
        if n:
            index.add(vectors)
        return cls(index, params)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (scores, ids), each (n_queries, k'); ids are -1 where fewer than k rows exist."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        k = max(1, min(k, len(self))) if len(self) else 1
        if not len(self):
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        return self.index.search(queries, k)

    def reconstruct_range(self, first: int, count: int) -> np.ndarray:
        """Stored vectors ``first`` .. ``first + count - 1``, shape (count, dim)."""
        if count <= 0:
            return np.zeros((0, self.dim), np.float32)
        return self.index.reconstruct_n(int(first), int(count))

    def reconstruct_all(self) -> np.ndarray:
        """All stored vectors (exact for flat and HNSW-flat indexes)."""
        if not len(self):
            return np.zeros((0, self.dim), np.float32)
        return self.index.reconstruct_n(0, len(self))

    def save(self, folder: Path) -> Path:
        """Write the index into ``folder`` and return the file path."""
        path = folder / INDEX_FILE
        _faiss().write_index(self.index, str(path))
        return path

    @classmethod
    def exists(cls, folder: Path, params: dict[str, Any], **_options: Any) -> bool:
        """True when the saved index file is there."""
        return (folder / INDEX_FILE).is_file()

    @classmethod
    def discard(cls, folder: Path, params: dict[str, Any], **_options: Any) -> None:
        """Nothing to do: the file goes with its folder."""

    @classmethod
    def load(
        cls, folder: Path, params: dict[str, Any] | None = None, *, mmap: bool = True, **_options: Any
    ) -> FaissStore:
        """Read the index from ``folder``, memory-mapped where FAISS allows.

        ``IO_FLAG_MMAP_IFC`` (FAISS >= 1.11) maps the file and uses it in place for flat, HNSW-flat and
        IVF-flat indexes, so processes serving the same index share its pages (bench.scale measures this;
        plain ``IO_FLAG_MMAP`` only maps IVF lists and copies flat and HNSW data into each process).
        """
        faiss = _faiss()
        path = folder / INDEX_FILE
        if not path.is_file():
            raise IndexFileError(f"{path} is missing")
        mmap_flag = getattr(faiss, "IO_FLAG_MMAP_IFC", faiss.IO_FLAG_MMAP)
        flags = mmap_flag | faiss.IO_FLAG_READ_ONLY if mmap else 0
        try:
            index = faiss.read_index(str(path), flags)
        except RuntimeError as exc:
            try:  # some index types cannot be mapped; read them whole
                index = faiss.read_index(str(path)) if mmap else None
            except RuntimeError:
                index = None
            if index is None:
                first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable"
                raise IndexFileError(f"{path} is not a readable FAISS index ({first_line})") from exc
        params = dict(params or {})
        if params.get("type") == "hnsw" and "efSearch" in params:
            index.hnsw.efSearch = int(params["efSearch"])
        return cls(index, params)


VectorIndex = FaissStore  # its first name, still used by callers and tests
