"""Vector stores behind one interface, chosen by configuration (after txtai's ``ANNFactory``).

``config`` is a mapping with ``backend``: ``"faiss"`` (the default: a file in the index folder),
``"milvus"`` (a Milvus collection; ``uri`` is a ``.db`` path for Milvus Lite or ``http://host:19530``), or
the import path of a class with the same methods (``"package.module.Class"``). Other keys are that
store's options. An index remembers its store in its parameters (``params["store"]``), so loading needs
no configuration beyond what differs at serving time (e.g. the Milvus address seen from a replica).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .base import StoreError, VectorStore

BACKENDS = {
    "faiss": "embeddings.stores.faiss.FaissStore",
    "milvus": "embeddings.stores.milvus.MilvusStore",
}


def store_class(backend: str | None) -> type:
    """The class of ``backend`` (a name in :data:`BACKENDS` or an import path ``"package.module.Class"``)."""
    path = BACKENDS.get(backend or "faiss", backend or "")
    module, _, name = path.rpartition(".")
    if not module:
        raise StoreError(f"unknown vector store {backend!r}: use one of {', '.join(BACKENDS)} or module.Class")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise StoreError(f"vector store {backend!r} is not available ({exc})") from exc


def _split(config: Mapping[str, Any] | None) -> tuple[type, dict[str, Any]]:
    options = {k: v for k, v in (config or {}).items() if v is not None}
    return store_class(options.pop("backend", None)), options


def build_store(vectors: np.ndarray, config: Mapping[str, Any] | None = None, *, kind: str = "auto",
                name: str = "vectors") -> VectorStore:
    """Store ``vectors`` (row i = id i) in the store ``config`` names.

    Args:
        vectors: float32 unit rows.
        config: ``{"backend": ..., **options}``; ``None`` is FAISS.
        kind: ``"auto"``, ``"flat"`` (exact) or ``"hnsw"``.
        name: a name unique to this build (a Milvus collection is named after it).
    """
    cls, options = _split(config)
    return cls.build(vectors, kind=kind, name=name, **options)


def check_store(config: Mapping[str, Any] | None) -> None:
    """Fail now, before any embedding, when ``config`` names an unknown store or one out of reach."""
    cls, options = _split(config)
    check = getattr(cls, "check", None)
    if check is not None:
        check(**options)


def _of(params: Mapping[str, Any] | None, config: Mapping[str, Any] | None) -> tuple[type, dict[str, Any]]:
    cls = store_class((params or {}).get("store"))
    _, options = _split(config)
    return cls, options if (config or {}).get("backend", "faiss") == cls.backend else {}


def open_store(folder: Path, params: Mapping[str, Any] | None, config: Mapping[str, Any] | None = None) -> VectorStore:
    """Open the store an index was built with (``params`` from its manifest); ``config`` may override
    options such as the Milvus address when they are for that same backend."""
    cls, options = _of(params, config)
    return cls.load(folder, dict(params or {}), **options)


def store_exists(folder: Path, params: Mapping[str, Any] | None, config: Mapping[str, Any] | None = None) -> bool:
    """True when the store an index was built with still holds its vectors."""
    try:
        cls, options = _of(params, config)
        return bool(cls.exists(folder, dict(params or {}), **options))
    except StoreError:
        return False


def discard_store(folder: Path, params: Mapping[str, Any] | None, config: Mapping[str, Any] | None = None) -> None:
    """Free what an index's store keeps outside its folder (a Milvus collection); never raises."""
    try:
        cls, options = _of(params, config)
        cls.discard(folder, dict(params or {}), **options)
    except Exception:  # cleaning up must not fail a build; a leftover collection is only space
        return


__all__ = [
    "BACKENDS", "StoreError", "VectorStore", "build_store", "check_store", "discard_store", "open_store", "store_class",
    "store_exists",
]
