"""What every vector store does: the small protocol the retriever and the index builder use.

A store holds unit vectors, row ``i`` for record ``i`` of whatever the caller keeps beside it, and answers
inner-product (cosine) searches. Which store an index has is written in its manifest (``params["store"]``);
the code that searches never asks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np


class StoreError(RuntimeError):
    """A store's data is missing, damaged or out of reach; the message says what to do."""


@runtime_checkable
class VectorStore(Protocol):
    """A built or loaded vector store.

    Class methods every store has as well (see :mod:`embeddings.stores`): ``build(vectors, *, kind, name,
    **options)``, ``load(folder, params, **options)``, ``exists(folder, params, **options)`` and
    ``discard(folder, params, **options)``.
    """

    backend: str
    params: dict[str, Any]

    @property
    def dim(self) -> int: ...

    def __len__(self) -> int: ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (n_queries, k'); k' <= k, ids -1 where a query has fewer hits."""
        ...

    def reconstruct_range(self, first: int, count: int) -> np.ndarray:
        """Stored vectors ``first`` .. ``first + count - 1``, shape (count, dim)."""
        ...

    def reconstruct_all(self) -> np.ndarray:
        """Every stored vector, shape (len, dim)."""
        ...

    def save(self, folder: Path) -> Any:
        """Write what lives in the index folder (FAISS: the file; Milvus: nothing, its rows are in the server)."""
        ...
