"""Vectors in Milvus: one collection per build, named in the index manifest.

``uri`` is a path ending in ``.db`` (Milvus Lite, embedded in this process: a folder of segments) or
``http://host:19530`` (a Milvus standalone server or cluster, shared by every replica). A build inserts
its unit vectors into a new collection (row id = unit number) and the manifest records the collection's
name; pruning an old build drops its collection. The collection is never changed after the build, so
several serving processes can search it while the next build writes another.

Needs the ``milvus`` extra (``pymilvus``; it brings ``milvus-lite``).
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import numpy as np

from .base import StoreError
from .faiss import APPROX_THRESHOLD, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M

ID, VECTOR = "id", "vector"
INSERT_ROWS = 5_000  # rows per insert call: 5,000 x 384 float32 is ~8 MB, well under gRPC's 64 MB limit
_clients: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def _pymilvus():
    try:
        import pymilvus
    except ImportError as exc:
        raise StoreError("Milvus needs the milvus extra: pip install -e '.[milvus]'") from exc
    return pymilvus


def normalize_uri(uri: str | None) -> str:
    """A server URL as given, or a Milvus Lite path made absolute (it must end in ``.db``)."""
    if not uri:
        raise StoreError("set QA_MILVUS_URI to a Milvus Lite file (data/milvus.db) or a server (http://host:19530)")
    if re.match(r"^(https?|tcp|grpc|unix)://", uri):
        return uri
    if not uri.endswith(".db"):
        raise StoreError(f"QA_MILVUS_URI={uri!r}: use a path ending in .db (Milvus Lite) or http://host:19530")
    path = Path(uri).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path)


def client(uri: str, token: str | None = None):
    """One ``MilvusClient`` per address and token in this process (Milvus Lite starts its engine once)."""
    uri = normalize_uri(uri)
    key = (uri, token or "")
    with _lock:
        if key not in _clients:
            pymilvus = _pymilvus()
            try:
                _clients[key] = pymilvus.MilvusClient(uri=uri, token=token or "", timeout=30)
            except Exception as exc:
                raise _unreachable(uri, exc) from exc
        return _clients[key]


def release(uri: str, token: str | None = None) -> None:
    """Close this process's client of ``uri``; for a Milvus Lite file, also stop its engine and free the file
    (Milvus Lite locks its file: one process at a time)."""
    uri = normalize_uri(uri)
    with _lock:
        milvus = _clients.pop((uri, token or ""), None)
    if milvus is not None:
        milvus.close()
    if not re.match(r"^[a-z]+://", uri):
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(uri)


def _unreachable(uri: str, exc: BaseException) -> StoreError:
    hint = ("Milvus Lite opens a file in one process at a time: is another `qa serve` or `qa build` using it? "
            "For several processes run a Milvus server" if not re.match(r"^[a-z]+://", uri) else "is it running?")
    return StoreError(f"cannot open Milvus at {uri} ({_first_line(exc)}); {hint}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else exc.__class__.__name__


def collection_name(name: str) -> str:
    """``name`` as a legal collection name (letters, digits, underscores; not starting with a digit)."""
    clean = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return clean if re.match(r"^[A-Za-z_]", clean) else f"qa_{clean}"


class MilvusStore:
    """A Milvus collection of unit vectors; the same search/reconstruct surface as the FAISS store."""

    backend = "milvus"

    def __init__(self, milvus, collection: str, dim: int, count: int, params: dict[str, Any]) -> None:
        self._client = milvus
        self.collection = collection
        self._dim = dim
        self._count = count
        self.params = params

    @property
    def dim(self) -> int:
        return self._dim

    def __len__(self) -> int:
        return self._count

    @classmethod
    def build(
        cls, vectors: np.ndarray, *, kind: str = "auto", name: str = "vectors", uri: str | None = None,
        token: str | None = None, threshold: int = APPROX_THRESHOLD, **_options: Any,
    ) -> MilvusStore:
        """Insert ``vectors`` (row i gets id i) into a new collection and index it.

        Args:
            vectors: float32 unit rows.
            kind: ``"flat"`` (exact), ``"hnsw"`` or ``"auto"`` (flat up to ``threshold`` rows), as for FAISS.
            name: the collection's name (made legal); an existing collection of that name is replaced.
            uri: a ``.db`` path (Milvus Lite) or a server URL.
            token: the server's token (``user:password``), when it needs one; never written to the manifest.
        """
        pymilvus = _pymilvus()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise ValueError("vectors must be a 2-d array")
        n, dim = vectors.shape
        if kind == "auto":
            kind = "hnsw" if n > threshold else "flat"
        if kind not in ("flat", "hnsw"):
            raise ValueError(f"unknown index kind {kind!r}")
        uri = normalize_uri(uri)
        milvus = client(uri, token)
        collection = collection_name(name)
        try:
            if milvus.has_collection(collection):
                milvus.drop_collection(collection)
            schema = milvus.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field(ID, pymilvus.DataType.INT64, is_primary=True)
            schema.add_field(VECTOR, pymilvus.DataType.FLOAT_VECTOR, dim=dim)
            index_params = milvus.prepare_index_params()
            if kind == "hnsw":
                index_params.add_index(VECTOR, index_type="HNSW", metric_type="IP",
                                       params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION})
            else:
                index_params.add_index(VECTOR, index_type="FLAT", metric_type="IP")
            milvus.create_collection(collection, schema=schema, index_params=index_params,
                                     consistency_level="Strong")
            for start in range(0, n, INSERT_ROWS):
                block = vectors[start : start + INSERT_ROWS]
                milvus.insert(collection, [{ID: start + i, VECTOR: row} for i, row in enumerate(block)])
            milvus.flush(collection)
            milvus.load_collection(collection)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"writing the vectors to Milvus at {uri} failed ({_first_line(exc)})") from exc
        params: dict[str, Any] = {
            "store": "milvus", "uri": uri, "collection": collection, "type": kind, "metric": "inner_product",
            "dim": dim, "count": n,
        }
        if kind == "hnsw":
            params |= {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION, "efSearch": HNSW_EF_SEARCH}
        return cls(milvus, collection, dim, n, params)

    @classmethod
    def check(cls, *, uri: str | None = None, token: str | None = None, **_options: Any) -> None:
        """Raise :class:`StoreError` unless Milvus at ``uri`` answers."""
        try:
            client(uri, token).list_collections()
        except StoreError:
            raise
        except Exception as exc:
            raise _unreachable(str(uri), exc) from exc

    def save(self, folder: Path) -> None:
        """Nothing to write: the rows are in Milvus and the manifest names the collection."""

    @classmethod
    def _client_for(cls, params: dict[str, Any], uri: str | None, token: str | None):
        return client(uri or params.get("uri"), token)

    @classmethod
    def exists(cls, folder: Path, params: dict[str, Any], *, uri: str | None = None, token: str | None = None,
               **_options: Any) -> bool:
        """True when the collection is there."""
        return bool(cls._client_for(params, uri, token).has_collection(params.get("collection", "")))

    @classmethod
    def discard(cls, folder: Path, params: dict[str, Any], *, uri: str | None = None, token: str | None = None,
                **_options: Any) -> None:
        """Drop the build's collection."""
        milvus = cls._client_for(params, uri, token)
        if params.get("collection") and milvus.has_collection(params["collection"]):
            milvus.drop_collection(params["collection"])

    @classmethod
    def load(cls, folder: Path, params: dict[str, Any] | None = None, *, uri: str | None = None,
             token: str | None = None, **_options: Any) -> MilvusStore:
        """Open the collection a manifest names; ``uri`` overrides the address recorded at build time."""
        params = dict(params or {})
        address = uri or params.get("uri")
        collection = params.get("collection", "")
        milvus = cls._client_for(params, address, token)
        try:
            if not milvus.has_collection(collection):
                raise StoreError(f"Milvus at {address} has no collection {collection!r}; rebuild with `qa build`")
            milvus.load_collection(collection)
            stats = milvus.get_collection_stats(collection)
            count = int(stats.get("row_count", params.get("count", 0)))
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"cannot open collection {collection!r} in Milvus at {address} "
                             f"({_first_line(exc)})") from exc
        return cls(milvus, collection, int(params.get("dim", 0)), count, params)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the ``k`` best rows per query, padded with id -1 when fewer exist."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        k = max(1, min(int(k), self._count, 16384))  # Milvus caps topk at 16,384
        if not self._count:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        params: dict[str, Any] = {"metric_type": "IP"}
        if self.params.get("type") == "hnsw":
            params["params"] = {"ef": max(int(self.params.get("efSearch", HNSW_EF_SEARCH)), k)}
        try:
            result = self._client.search(self.collection, data=list(queries), limit=k, anns_field=VECTOR,
                                         search_params=params, output_fields=[])
        except Exception as exc:
            raise StoreError(f"Milvus search in {self.collection!r} failed ({_first_line(exc)})") from exc
        scores = np.zeros((len(queries), k), np.float32)
        ids = np.full((len(queries), k), -1, np.int64)
        for row, hits in enumerate(result):
            for col, hit in enumerate(list(hits)[:k]):
                ids[row, col] = int(hit["id"])
                scores[row, col] = float(hit["distance"])
        return scores, ids

    def reconstruct_range(self, first: int, count: int) -> np.ndarray:
        """Stored vectors ``first`` .. ``first + count - 1``, shape (count, dim), by primary key."""
        if count <= 0:
            return np.zeros((0, self.dim), np.float32)
        first, last = int(first), int(first) + int(count)
        try:
            # a primary-key list is a point lookup (Milvus Lite: ~1 ms; a range filter scans, ~30 ms at 20k rows)
            rows = self._client.query(self.collection, filter=f"{ID} in {list(range(first, last))}",
                                      output_fields=[ID, VECTOR], limit=count)
        except Exception as exc:
            raise StoreError(f"Milvus query in {self.collection!r} failed ({_first_line(exc)})") from exc
        if len(rows) != count:
            raise StoreError(f"Milvus collection {self.collection!r} lacks rows {first}..{last - 1}; "
                             "rebuild with `qa build`")
        rows = sorted(rows, key=lambda r: int(r[ID]))
        return np.asarray([r[VECTOR] for r in rows], dtype=np.float32).reshape(count, self.dim)

    def reconstruct_all(self) -> np.ndarray:
        """Every stored vector, read in ranges."""
        step = 10_000
        parts = [self.reconstruct_range(s, min(step, self._count - s)) for s in range(0, self._count, step)]
        return np.concatenate(parts) if parts else np.zeros((0, self.dim), np.float32)
