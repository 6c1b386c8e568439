"""A persistent embedding cache keyed by (model fingerprint, text hash).

Every batch is committed as soon as it is embedded, so a build killed part-way resumes from what it
already embedded, and rebuilding an unchanged corpus embeds nothing.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np


def text_key(text: str) -> str:
    """The cache key of one text (sha256 of its UTF-8 bytes)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class EmbeddingCache:
    """Vectors of passages already embedded by one model, stored in SQLite.

    Args:
        path: the SQLite file (created with its folder when missing).
        fingerprint: the model fingerprint; vectors of other models are never returned.
        dim: the vector size.
    """

    def __init__(self, path: Path, fingerprint: str, dim: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fingerprint = fingerprint
        self.dim = dim
        self._db = sqlite3.connect(str(path), timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, key TEXT, vector BLOB, PRIMARY KEY (model, key))"
        )
        self._db.commit()

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Return the cached vectors among ``keys``."""
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT key, vector FROM vectors WHERE model = ? AND key IN ({marks})", [self.fingerprint, *chunk]
            )
            for key, blob in rows:
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.shape == (self.dim,):
                    found[key] = vector
        return found

    def put_many(self, items: Iterable[tuple[str, np.ndarray]]) -> None:
        """Store vectors and commit at once (a crash after this loses nothing)."""
        rows = [(self.fingerprint, key, np.asarray(v, dtype=np.float32).tobytes()) for key, v in items]
        self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)
        self._db.commit()

    def count(self) -> int:
        """How many vectors this model has cached."""
        (n,) = self._db.execute("SELECT COUNT(*) FROM vectors WHERE model = ?", [self.fingerprint]).fetchone()
        return int(n)

    def close(self) -> None:
        self._db.close()
