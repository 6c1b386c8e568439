"""The index directory: building it atomically and loading it whole.

One directory describes itself::

    manifest.json     model name and fingerprint, dim, counts, source hashes, build time, versions
    documents.jsonl   every document's id, title, source, encoding, hash and full text
    passages.jsonl    every passage with its citation
    units.npz         the sentence units the dense leg embeds: passage row, char_start, char_end
    vectors.faiss     FAISS index of normalised unit vectors (inner product; row i = unit i)
    keywords/         the BM25 keyword index

``--index DIR`` is a symbolic link to one finished build in ``DIR.builds/``; writing one is
:mod:`qa.index.build` (a new folder, then one atomic rename of the link, under the write lock of
:mod:`qa.index.lock`), so readers see the old index or the new one, never a mix. This module reads.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from embeddings import Embedder, EmbeddingCache, text_key
from embeddings.stores import StoreError, VectorStore, open_store

from .. import __version__
from ..errors import IndexCorrupt, IndexMismatch, IndexNotFound
from ..ingest.documents import Document, Passage, normalize_whitespace, sentence_spans
from .entities import EntityTable
from .keywords import KeywordIndex

FORMAT_VERSION = 3  # 3: pages, sections, origin and stored originals; headings join passages
MANIFEST = "manifest.json"
UNIT_CHARS = 40
UNITS_FILE = "units.npz"


@dataclass
class Units:
    """The dense leg's retrieval units: sentences (short ones packed together) of each passage.

    A question is matched against single sentences rather than whole passages: a fact sits in one
    sentence, and a cross-lingual question matches it far better alone (seed_qa, English: R@5 0.50 with
    passage vectors, 0.62-0.75 with sentence units; see the README). A passage scores as its best unit.
    """

    passage: np.ndarray  # int32, passage row of each unit
    start: np.ndarray  # int64, char offsets into the document text
    end: np.ndarray

    def __len__(self) -> int:
        return len(self.passage)

    def save(self, folder: Path) -> None:
        np.savez(folder / UNITS_FILE, passage=self.passage, start=self.start, end=self.end)

    @classmethod
    def load(cls, folder: Path) -> Units:
        with np.load(folder / UNITS_FILE) as data:
            return cls(data["passage"].astype(np.int32), data["start"].astype(np.int64), data["end"].astype(np.int64))


def make_units(documents: dict[str, Document], passages: Sequence[Passage]) -> tuple[Units, list[str]]:
    """Split every passage into sentence units of at least ``UNIT_CHARS`` characters (short sentences joined)."""
    rows, starts, ends, texts = [], [], [], []
    for row, p in enumerate(passages):
        text = documents[p.doc_id].text
        spans = sentence_spans(text, p.char_start, p.char_end) or [(p.char_start, p.char_end)]
        current: tuple[int, int] | None = None
        for a, b in spans:
            if current is not None and len(normalize_whitespace(text[current[0] : b])) > UNIT_CHARS:
                rows.append(row), starts.append(current[0]), ends.append(current[1])
                current = None
            current = (current[0] if current else a, b)
        if current is not None:
            rows.append(row), starts.append(current[0]), ends.append(current[1])
    for row, a, b in zip(rows, starts, ends, strict=True):
        texts.append(normalize_whitespace(documents[passages[row].doc_id].text[a:b]))
    units = Units(np.array(rows, np.int32), np.array(starts, np.int64), np.array(ends, np.int64))
    return units, texts


@dataclass
class CorpusIndex:
    """A loaded index directory: everything a question needs, read once."""

    path: Path
    manifest: dict[str, Any]
    documents: dict[str, Document]
    passages: list[Passage]
    units: Units
    vectors: VectorStore
    keywords: KeywordIndex
    loaded_at: float = field(default_factory=time.time)
    entities: EntityTable | None = None  # entities.json (qa.index.entities)

    @property
    def built_at(self) -> str:
        return str(self.manifest.get("built_at", ""))


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"qa": __version__, "python": platform.python_version()}
    for package in ("faiss-cpu", "sentence-transformers", "torch", "bm25s", "transformers"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found


def _builds_dir(index_dir: Path) -> Path:
    return index_dir.parent / (index_dir.name + ".builds")


def _write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def read_manifest(index_dir: Path) -> dict[str, Any]:
    """Read ``manifest.json``; raise :class:`IndexNotFound` or :class:`IndexCorrupt` with a fix."""
    path = index_dir / MANIFEST
    if not index_dir.exists() or not path.exists():
        raise IndexNotFound(f"no index at {index_dir}; build one with `qa build --index {index_dir}`")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise IndexCorrupt(f"{path} is unreadable ({exc.__class__.__name__}); rebuild with `qa build`") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        raise IndexCorrupt(f"{path} is not a format-{FORMAT_VERSION} manifest; rebuild with `qa build`")
    return manifest


def check_model(manifest: dict[str, Any], embedder: Embedder, index_dir: Path) -> None:
    """Refuse an index built by another model or dimension."""
    if manifest.get("model") != embedder.name or int(manifest.get("dim", -1)) != embedder.dim:
        raise IndexMismatch(
            f"the index at {index_dir} was built with {manifest.get('model')!r} (dim {manifest.get('dim')}), "
            f"but the service uses {embedder.name!r} (dim {embedder.dim}); "
            f"rebuild it with `qa build --index {index_dir}`"
        )
    built_by = manifest.get("model_fingerprint")
    if built_by and built_by != embedder.fingerprint:  # the same model, vectors computed another way
        logging.getLogger("qa").warning(
            "the index at %s was built with model fingerprint %s and this model's is %s (e.g. an onnx index built "
            "before 2026-12-06, when passages were embedded in batches): scores differ slightly; `qa build` on the "
            "same sources rebuilds it", index_dir, built_by, embedder.fingerprint)


def store_config() -> dict[str, Any]:
    """The vector store chosen by ``QA_VECTOR_STORE`` / ``QA_MILVUS_URI`` (FAISS unless set)."""
    from ..settings import Settings

    return Settings().vector_store_config()


def load_index(index_dir: Path, embedder: Embedder | None = None) -> CorpusIndex:
    """Load an index directory whole; with ``embedder``, also check it was built by that model.

    Raises:
        IndexNotFound: nothing at ``index_dir``.
        IndexCorrupt: a file is missing, truncated or garbled.
        IndexMismatch: built by another model or dimension.
    """
    real = index_dir.resolve()
    manifest = read_manifest(real)
    if embedder is not None:
        check_model(manifest, embedder, index_dir)
    try:
        documents = {row["id"]: Document(**row) for row in _read_jsonl(real / "documents.jsonl")}
        passages = [Passage(**row) for row in _read_jsonl(real / "passages.jsonl")]
        units = Units.load(real)
        vectors = open_store(real, manifest.get("vector_index"), store_config())
        keywords = KeywordIndex.load(real)
        entities = EntityTable.load(real)
    except (OSError, ValueError, TypeError, KeyError, StoreError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise IndexCorrupt(f"the index at {index_dir} is damaged ({first}); rebuild it with `qa build`") from exc
    counts = (
        len(passages), int(manifest.get("passages", -1)), len(units), len(vectors), int(manifest.get("units", -1))
    )
    if (
        counts[0] != counts[1] or len(set(counts[2:])) != 1 or vectors.dim != int(manifest.get("dim", -1))
        or (len(units) and int(units.passage.max()) >= len(passages))
    ):
        raise IndexCorrupt(
            f"the index at {index_dir} is inconsistent (passages/units/vectors: {counts}); rebuild it with `qa build`"
        )
    return CorpusIndex(real, manifest, documents, passages, units, vectors, keywords, entities=entities)


def sources_digest(documents: Sequence[Document]) -> str:
    digest = hashlib.sha256()
    for doc in documents:
        digest.update(f"{doc.id}\0{doc.sha256}\0".encode())
    return digest.hexdigest()


def embed_with_cache(
    embedder: Embedder,
    texts: Sequence[str],
    cache: EmbeddingCache,
    *,
    batch_size: int = 32,
    flush_every: int = 256,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, int]:
    """Vectors for ``texts``, embedding only those the cache lacks; return (vectors, number embedded)."""
    keys = [text_key(t) for t in texts]
    found = cache.get_many(keys)
    todo = list({keys[i]: i for i, k in enumerate(keys) if k not in found}.values())
    if progress is not None and len(texts) > len(todo):
        progress(len(texts) - len(todo))  # reused vectors and repeated texts count as done at once
    # longest first, in chunks committed to the cache as they finish, so a killed build resumes
    todo.sort(key=lambda i: len(texts[i]), reverse=True)
    for start in range(0, len(todo), flush_every):
        chunk = todo[start : start + flush_every]
        vectors = embedder.embed_passages([texts[i] for i in chunk], batch_size=batch_size, progress=progress)
        cache.put_many((keys[i], v) for i, v in zip(chunk, vectors, strict=True))
        found.update((keys[i], v) for i, v in zip(chunk, vectors, strict=True))
    out = np.stack([found[k] for k in keys]) if keys else np.zeros((0, embedder.dim), np.float32)
    return np.ascontiguousarray(out, dtype=np.float32), len(todo)
