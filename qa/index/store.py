"""The index directory: building it atomically and loading it whole.

One directory describes itself::

    manifest.json     model name and fingerprint, dim, counts, source hashes, build time, versions
    documents.jsonl   every document's id, title, source, encoding, hash and full text
    passages.jsonl    every passage with its citation
    units.npz         the sentence units the dense leg embeds: passage row, char_start, char_end
    vectors.faiss     FAISS index of normalised unit vectors (inner product; row i = unit i)
    keywords/         the BM25 keyword index

``--index DIR`` is a symbolic link to one finished build in ``DIR.builds/``. A build writes a new folder
there and then swaps the link with one atomic rename, so readers see the old index or the new one,
never a mix, and a build that dies leaves the old index serving.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from embeddings import Embedder, EmbeddingCache, IndexFileError, VectorIndex, text_key

from .. import __version__
from ..errors import IndexCorrupt, IndexMismatch, IndexNotFound
from ..ingest.documents import Document, Passage, load_documents, normalize_whitespace, sentence_spans, split_passages
from .keywords import KeywordIndex

FORMAT_VERSION = 2
MANIFEST = "manifest.json"
KEEP_BUILDS = 2
UNIT_CHARS = 40
UNITS_FILE = "units.npz"


@dataclass
class BuildReport:
    """What a build did, for the CLI to print."""

    index_dir: Path
    documents: int
    passages: int
    units: int
    embedded: int
    reused: int
    seconds: float
    unchanged: bool = False


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
    vectors: VectorIndex
    keywords: KeywordIndex
    loaded_at: float = field(default_factory=time.time)

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
        vectors = VectorIndex.load(real, manifest.get("vector_index"))
        keywords = KeywordIndex.load(real)
    except (OSError, ValueError, TypeError, KeyError, IndexFileError) as exc:
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
    return CorpusIndex(real, manifest, documents, passages, units, vectors, keywords)


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


def build_index(
    sources: Sequence[Path],
    index_dir: Path,
    embedder: Embedder,
    *,
    cache_dir: Path,
    keyword_tokenizer: str = "bigram",
    vector_kind: str = "auto",
    progress_factory: Callable[[int], Callable[[int], None]] | None = None,
    force: bool = False,
) -> BuildReport:
    """Build the index for ``sources`` into ``index_dir``, atomically, reusing cached embeddings.

    Args:
        sources: folders of .txt/.md files or .jsonl files.
        index_dir: the index path (a symbolic link to the finished build).
        embedder: the model; its fingerprint keys the embedding cache.
        cache_dir: where the embedding cache lives.
        keyword_tokenizer: ``"bigram"`` or ``"jieba"``.
        vector_kind: ``"auto"``, ``"flat"`` or ``"hnsw"``.
        progress_factory: called with the passage count; returns a callback taking a count of passages done.
        force: rebuild even when the sources and model are unchanged.
    """
    started = time.perf_counter()
    documents = load_documents(list(sources))
    digest = sources_digest(documents)
    if not force:
        try:
            current = read_manifest(index_dir.resolve())
        except (IndexNotFound, IndexCorrupt):
            current = None
        if (
            current
            and current.get("sources_sha256") == digest
            and current.get("model_fingerprint") == embedder.fingerprint
            and current.get("keywords", {}).get("tokenizer") == keyword_tokenizer
            and (index_dir.resolve() / "vectors.faiss").is_file()
        ):
            return BuildReport(
                index_dir, len(documents), int(current["passages"]), int(current["units"]), 0, int(current["units"]),
                time.perf_counter() - started, unchanged=True,
            )
    passages = [p for doc in documents for p in split_passages(doc)]
    units, unit_texts = make_units({d.id: d for d in documents}, passages)
    cache = EmbeddingCache(cache_dir / "embeddings.sqlite", embedder.fingerprint, embedder.dim)
    try:
        progress = _per_passage(progress_factory, len(passages), units) if progress_factory else None
        vectors, embedded = embed_with_cache(embedder, unit_texts, cache, progress=progress)
    finally:
        cache.close()
    vector_index = VectorIndex.build(vectors, kind=vector_kind)
    keywords = KeywordIndex.build([p.text for p in passages], keyword_tokenizer)

    builds = _builds_dir(index_dir)
    builds.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC)
    work = builds / f".tmp-{stamp:%Y%m%dT%H%M%S%f}-{os.getpid()}"
    work.mkdir()
    try:
        _write_jsonl(work / "documents.jsonl", [asdict(d) for d in documents])
        _write_jsonl(work / "passages.jsonl", [asdict(p) for p in passages])
        vector_index.save(work)
        keywords.save(work)
        units.save(work)
        manifest = {
            "format": FORMAT_VERSION,
            "model": embedder.name,
            "model_fingerprint": embedder.fingerprint,
            "dim": embedder.dim,
            "documents": len(documents),
            "passages": len(passages),
            "units": len(units),
            "sources_sha256": digest,
            "sources": [
                {"doc_id": d.id, "source": d.source, "sha256": d.sha256, "encoding": d.encoding} for d in documents
            ],
            "chunking": {"min_chars": 100, "max_chars": 350, "unit_chars": UNIT_CHARS},
            "vector_index": vector_index.params,
            "keywords": {"tokenizer": keyword_tokenizer, "method": "bm25 lucene k1=1.5 b=0.75"},
            "built_at": stamp.isoformat(timespec="seconds"),
            "embedded": embedded,
            "versions": _versions(),
        }
        (work / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        final = builds / f"{stamp:%Y%m%dT%H%M%S%f}"
        os.replace(work, final)
        _swap_link(index_dir, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _prune(builds, keep=index_dir.resolve())
    return BuildReport(
        index_dir, len(documents), len(passages), len(units), embedded, len(units) - embedded,
        time.perf_counter() - started,
    )


def _per_passage(
    progress_factory: Callable[[int], Callable[[int], None]], n_passages: int, units: Units
) -> Callable[[int], None]:
    """Report progress in passages while embedding units (a bar in passages/s, as users think of them)."""
    update = progress_factory(n_passages)
    ratio = n_passages / max(1, len(units))
    done = [0.0, 0]

    def advance(n_units: int) -> None:
        done[0] += n_units * ratio
        whole = min(n_passages, round(done[0])) - done[1]
        if whole > 0:
            done[1] += whole
            update(whole)

    return advance


def _swap_link(index_dir: Path, target: Path) -> None:
    """Point ``index_dir`` at ``target`` with one atomic rename."""
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp_link = index_dir.parent / f".{index_dir.name}.link-{os.getpid()}"
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    tmp_link.symlink_to(os.path.relpath(target, index_dir.parent))
    if index_dir.exists() and not index_dir.is_symlink():
        # an index directory from elsewhere (not one of our links): keep it aside, never delete it
        backup = index_dir.parent / f"{index_dir.name}.previous-{int(time.time())}"
        os.replace(index_dir, backup)
    os.replace(tmp_link, index_dir)


def _prune(builds: Path, keep: Path) -> None:
    """Delete old builds, keeping the live one and the one before it (readers may still hold it)."""
    finished = sorted(p for p in builds.iterdir() if p.is_dir() and not p.name.startswith("."))
    stale = [p for p in finished if p.resolve() != keep][: max(0, len(finished) - KEEP_BUILDS)]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    for tmp in builds.glob(".tmp-*"):
        if time.time() - tmp.stat().st_mtime > 3600:
            shutil.rmtree(tmp, ignore_errors=True)
