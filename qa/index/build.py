"""Writing an index: the one assembly function every writer goes through, and ``qa build``'s sources.

Every write (``qa build``, ``qa add``, ``qa remove``, uploads) ends in :func:`assemble_index`: documents →
passages → sentence units → vectors (the embedding cache makes unchanged text free) → vector store +
keywords + manifest in a new folder of ``DIR.builds/`` → one atomic rename of the ``DIR`` link. Callers
hold the index's :class:`~qa.index.lock.WriteLock` from reading the current collection to the swap.

``DIR`` is only ever written when it is missing, an empty folder, or an index this program made
(:func:`check_target`); a user's file or folder is never moved, replaced or deleted. The originals of the
documents are copied into ``DIR.files/`` (named by their sha256), which the program owns.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from embeddings import Embedder, EmbeddingCache
from embeddings.stores import build_store, discard_store, store_exists

from ..errors import IndexCorrupt, IndexNotFound, IndexRefused
from ..ingest.documents import Document, FileResult, SourceScan, read_sources, split_passages
from .entities import RULES as ENTITY_RULES
from .entities import EntityTable
from .keywords import KeywordIndex
from .lock import WriteLock
from .store import (
    FORMAT_VERSION,
    MANIFEST,
    UNIT_CHARS,
    _read_jsonl,
    _versions,
    _write_jsonl,
    embed_with_cache,
    make_units,
    read_manifest,
    sources_digest,
    store_config,
)

KEEP_BUILDS = 2
CHUNKING = {"min_chars": 100, "max_chars": 350, "unit_chars": UNIT_CHARS, "headings": "merged"}


@dataclass
class BuildReport:
    """What a write did, for the CLI and the API to report."""

    index_dir: Path
    documents: int
    passages: int
    units: int
    embedded: int
    reused: int
    seconds: float
    unchanged: bool = False
    files: list[FileResult] = field(default_factory=list)
    passages_of: dict[str, int] = field(default_factory=dict)  # passages per document id


def builds_dir(index_dir: Path) -> Path:
    index_dir = Path(os.path.abspath(index_dir))
    return index_dir.parent / (index_dir.name + ".builds")


def files_dir(index_dir: Path) -> Path:
    """``DIR.files/``: the originals of the collection's documents, named ``<sha256><suffix>``."""
    index_dir = Path(os.path.abspath(index_dir))
    return index_dir.parent / (index_dir.name + ".files")


def _ours(folder: Path) -> bool:
    """Whether ``folder`` holds a manifest this program wrote (any format version)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(manifest, dict) and "format" in manifest and "model" in manifest and "passages" in manifest


def check_target(index_dir: Path) -> None:
    """Refuse, touching nothing, an ``--index`` that is not ours to write.

    Allowed: nothing there; an empty folder; a link into ``DIR.builds/`` (what builds make); a folder or a
    link holding an index this program made.

    Raises:
        IndexRefused: a file, a folder with other things in it, a link elsewhere; the message says what to do.
    """
    path = Path(os.path.abspath(index_dir))
    if path.is_symlink():
        target = Path(os.path.realpath(path))
        if target.parent == Path(os.path.realpath(builds_dir(path))) or (target.is_dir() and _ours(target)):
            return
        raise IndexRefused(f"refusing to write the index at {path}: it is a link to {target}, which is not an "
                           "index made by qa; choose another --index")
    if not path.exists():
        if path.parent.exists() and not path.parent.is_dir():
            raise IndexRefused(f"refusing to write the index at {path}: {path.parent} is not a folder")
        return
    if not path.is_dir():
        raise IndexRefused(f"refusing to write the index at {path}: it is a file, not an index; "
                           "choose another --index")
    if _ours(path) or not any(path.iterdir()):
        return
    raise IndexRefused(f"refusing to write the index at {path}: it is a folder that is not an index "
                       "(no manifest.json); choose another --index (a missing or empty folder)")


def current_manifest(index_dir: Path) -> dict[str, Any] | None:
    try:
        return read_manifest(Path(index_dir).resolve())
    except (IndexNotFound, IndexCorrupt):
        return None


def current_documents(index_dir: Path) -> list[Document]:
    """The documents of the index now at ``index_dir`` (none when there is no readable index)."""
    real = Path(index_dir).resolve()
    if current_manifest(index_dir) is None:
        return []
    try:
        return [Document(**row) for row in _read_jsonl(real / "documents.jsonl")]
    except (OSError, ValueError, TypeError) as exc:
        raise IndexCorrupt(f"the index at {index_dir} is damaged ({exc.__class__.__name__}); "
                           "rebuild it with `qa build`") from exc


def store_original(index_dir: Path, doc: Document, path: Path) -> Document:
    """Copy ``path`` (the file ``doc`` was read from) into ``DIR.files/`` unless it is there; the document
    records the stored name. The copy is written aside and renamed, so a reader never sees half of it."""
    folder = files_dir(index_dir)
    name = doc.sha256 + Path(doc.source).suffix.lower()
    target = folder / name
    if not target.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".tmp-{os.getpid()}-{name}"
        shutil.copyfile(path, tmp)
        if hashlib.sha256(tmp.read_bytes()).hexdigest() != doc.sha256:  # changed while we read it
            tmp.unlink()
            return doc
        os.replace(tmp, target)
    return replace(doc, file=name)


def assemble_index(
    documents: Sequence[Document],
    index_dir: Path,
    embedder: Embedder,
    *,
    cache_dir: Path,
    keyword_tokenizer: str = "bigram",
    vector_kind: str = "auto",
    progress_factory: Callable[[int], Callable[[int], None]] | None = None,
    vector_store: dict[str, Any] | None = None,
) -> BuildReport:
    """Write ``documents`` as the new index at ``index_dir`` (the one path that writes an index).

    The caller holds the index's write lock. The new build becomes visible with one atomic rename; if
    anything fails before that, the previous index stays, byte for byte.

    Args:
        documents: the whole collection, in order.
        index_dir: the index path (a link to the finished build; see :func:`check_target`).
        embedder: the model; its fingerprint keys the embedding cache.
        cache_dir: where the embedding cache lives.
        keyword_tokenizer: ``"bigram"`` or ``"jieba"``.
        vector_kind: ``"auto"``, ``"flat"`` or ``"hnsw"``.
        progress_factory: called with the passage count; returns a callback taking a count of passages done.
        vector_store: ``embeddings.stores`` configuration [default: from ``QA_VECTOR_STORE``, FAISS].
    """
    started = time.perf_counter()
    check_target(index_dir)
    store = vector_store or store_config()
    passages = [p for doc in documents for p in split_passages(doc)]
    units, unit_texts = make_units({d.id: d for d in documents}, passages)
    cache = EmbeddingCache(cache_dir / "embeddings.sqlite", embedder.fingerprint, embedder.dim)
    try:
        progress = _per_passage(progress_factory, len(passages), len(units)) if progress_factory else None
        vectors, embedded = embed_with_cache(embedder, unit_texts, cache, progress=progress)
    finally:
        cache.close()
    keywords = KeywordIndex.build([p.text for p in passages], keyword_tokenizer)
    entities = EntityTable.build(documents, passages, previous=_previous_entities(index_dir))

    builds = builds_dir(index_dir)
    builds.mkdir(parents=True, exist_ok=True)
    for stale in builds.glob(".tmp-*"):  # left by a writer that died (we hold the lock: none is running)
        shutil.rmtree(stale, ignore_errors=True)
    stamp = datetime.now(UTC)
    work = builds / f".tmp-{stamp:%Y%m%dT%H%M%S%f}-{os.getpid()}"
    work.mkdir()
    vector_index = None
    try:
        vector_index = build_store(vectors, store, kind=vector_kind, name=f"qa_{stamp:%Y%m%dT%H%M%S%f}_{_tag(builds)}")
        _write_jsonl(work / "documents.jsonl", [asdict(d) for d in documents])
        _write_jsonl(work / "passages.jsonl", [asdict(p) for p in passages])
        vector_index.save(work)
        keywords.save(work)
        units.save(work)
        entities.save(work)
        manifest = {
            "format": FORMAT_VERSION,
            "model": embedder.name,
            "model_fingerprint": embedder.fingerprint,
            "dim": embedder.dim,
            "documents": len(documents),
            "passages": len(passages),
            "units": len(units),
            "sources_sha256": sources_digest(documents),
            "sources": [
                {"doc_id": d.id, "source": d.source, "sha256": d.sha256, "encoding": d.encoding,
                 "format": d.format, "origin": d.origin, "file": d.file, "pages": len(d.pages)}
                for d in documents
            ],
            "chunking": CHUNKING,
            "vector_index": vector_index.params,
            "keywords": {"tokenizer": keyword_tokenizer, "method": "bm25 lucene k1=1.5 b=0.75"},
            "entities": {"count": len(entities.entities), "subjects": len(entities.subjects()),
                         "rules": ENTITY_RULES},
            "built_at": stamp.isoformat(timespec="seconds"),
            "embedded": embedded,
            "embedding": dict(getattr(embedder, "engine", None) or {"engine": "local"}),
            "versions": _versions(),
        }
        (work / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        final = builds / f"{stamp:%Y%m%dT%H%M%S%f}"
        os.replace(work, final)
        _swap_link(index_dir, final)
    except BaseException:
        if vector_index is not None:  # a store outside the folder (a Milvus collection) goes with the failed build
            discard_store(work, vector_index.params, store)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _prune(builds, keep=Path(index_dir).resolve())
    _prune_files(index_dir)
    counts: dict[str, int] = {}
    for p in passages:
        counts[p.doc_id] = counts.get(p.doc_id, 0) + 1
    return BuildReport(
        Path(index_dir), len(documents), len(passages), len(units), embedded, len(units) - embedded,
        time.perf_counter() - started, passages_of=counts,
    )


def _previous_entities(index_dir: Path) -> EntityTable | None:
    """The entity table of the index being replaced (its per-document facts are reused), if readable."""
    try:
        return EntityTable.load(Path(index_dir).resolve())
    except (OSError, ValueError, TypeError, KeyError):
        return None


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
    vector_store: dict[str, Any] | None = None,
    wait_s: float = 0.0,
    scan: SourceScan | None = None,
) -> BuildReport:
    """Build the index for ``sources`` into ``index_dir``, atomically, reusing cached embeddings.

    Every file is read (a bad one is reported in ``files`` and skipped, never fatal). Documents added
    with ``qa add`` or uploaded stay in the collection unless a source document has the same id (the
    source's version wins); documents of earlier builds that the sources no longer have are dropped.

    Args:
        sources: folders and files of any supported type (see :mod:`qa.ingest.readers`).
        index_dir: the index path (a symbolic link to the finished build).
        embedder: the model; its fingerprint keys the embedding cache.
        cache_dir: where the embedding cache lives.
        keyword_tokenizer: ``"bigram"`` or ``"jieba"``.
        vector_kind: ``"auto"``, ``"flat"`` or ``"hnsw"``.
        progress_factory: called with the passage count; returns a callback taking a count of passages done.
        force: rebuild even when the collection and model are unchanged.
        vector_store: ``embeddings.stores`` configuration [default: from ``QA_VECTOR_STORE``, FAISS].
        wait_s: how long to wait for another writer before raising :class:`~qa.errors.WriteBusy`.
        scan: ``read_sources(sources)`` when the caller already read them.

    Raises:
        IndexRefused: ``index_dir`` is not ours to write (nothing is touched).
        WriteBusy: another write holds the index.
        DocumentError: a source that does not exist.
    """
    started = time.perf_counter()
    check_target(index_dir)
    scan = scan or read_sources(list(sources))
    where = {doc_id: Path(f.path) for f in scan.files for doc_id in f.doc_ids}
    store = vector_store or store_config()
    with WriteLock(index_dir, "qa build", wait_s):
        ids = {d.id for d in scan.documents}
        kept = [d for d in current_documents(index_dir) if d.origin == "added" and d.id not in ids]
        documents = [
            store_original(index_dir, d, where[d.id]) if d.format != "jsonl" else d for d in scan.documents
        ] + kept
        current = current_manifest(index_dir)
        if (
            not force
            and current
            and current.get("format") == FORMAT_VERSION
            and current.get("sources_sha256") == sources_digest(documents)
            and current.get("model_fingerprint") == embedder.fingerprint
            and current.get("keywords", {}).get("tokenizer") == keyword_tokenizer
            and current.get("entities", {}).get("rules", 1) == ENTITY_RULES
            and current.get("vector_index", {}).get("store", "faiss") == store.get("backend", "faiss")
            and store_exists(Path(index_dir).resolve(), current.get("vector_index"), store)
        ):
            counts = {s["doc_id"]: 0 for s in current.get("sources", [])}
            return BuildReport(
                Path(index_dir), len(documents), int(current["passages"]), int(current["units"]), 0,
                int(current["units"]), time.perf_counter() - started, unchanged=True, files=scan.files,
                passages_of=_passage_counts(index_dir) or counts,
            )
        report = assemble_index(documents, index_dir, embedder, cache_dir=cache_dir,
                                keyword_tokenizer=keyword_tokenizer, vector_kind=vector_kind,
                                progress_factory=progress_factory, vector_store=store)
    report.files = scan.files
    report.seconds = time.perf_counter() - started
    return report


def _passage_counts(index_dir: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    try:
        with (Path(index_dir).resolve() / "passages.jsonl").open(encoding="utf-8") as fh:
            for line in fh:
                doc_id = json.loads(line)["doc_id"]
                counts[doc_id] = counts.get(doc_id, 0) + 1
    except (OSError, ValueError, KeyError):
        return {}
    return counts


def _per_passage(
    progress_factory: Callable[[int], Callable[[int], None]], n_passages: int, n_units: int
) -> Callable[[int], None]:
    """Report progress in passages while embedding units (a bar in passages/s, as users think of them)."""
    update = progress_factory(n_passages)
    ratio = n_passages / max(1, n_units)
    done = [0.0, 0]

    def advance(count: int) -> None:
        done[0] += count * ratio
        whole = min(n_passages, round(done[0])) - done[1]
        if whole > 0:
            done[1] += whole
            update(whole)

    return advance


def _tag(builds: Path) -> str:
    """A short tag of the builds folder, so that indexes sharing one Milvus never share a collection name."""
    return hashlib.sha256(str(builds.resolve()).encode()).hexdigest()[:8]


def _swap_link(index_dir: Path, target: Path) -> None:
    """Point ``index_dir`` at ``target`` with one atomic rename.

    Only what :func:`check_target` allowed is ever there: our link (replaced atomically), an empty folder
    (removed first), or an index folder this program made (moved into ``DIR.builds/``, where it is ours).
    """
    index_dir = Path(os.path.abspath(index_dir))
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp_link = index_dir.parent / f".{index_dir.name}.link-{os.getpid()}"
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    tmp_link.symlink_to(os.path.relpath(target, index_dir.parent))
    if index_dir.is_dir() and not index_dir.is_symlink():
        if any(index_dir.iterdir()):
            check_target(index_dir)  # ours (a manifest), or this raises and nothing moves
            os.replace(index_dir, builds_dir(index_dir) / f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-moved")
        else:
            index_dir.rmdir()
    os.replace(tmp_link, index_dir)


def _prune(builds: Path, keep: Path) -> None:
    """Delete old builds, keeping the live one and the one before it (readers may still hold it)."""
    finished = sorted(p for p in builds.iterdir() if p.is_dir() and not p.name.startswith("."))
    stale = [p for p in finished if p.resolve() != keep][: max(0, len(finished) - KEEP_BUILDS)]
    for path in stale:
        try:  # a store outside the folder (a Milvus collection) is dropped with its build
            discard_store(path, read_manifest(path).get("vector_index"), store_config())
        except (IndexNotFound, IndexCorrupt):
            pass
        shutil.rmtree(path, ignore_errors=True)


def _alive(name: str) -> bool:
    """Whether the process named in ``.upload-<pid>-…`` / ``.tmp-<pid>-…`` still runs."""
    parts = name.split("-")
    if len(parts) < 3 or not parts[1].isdigit():
        return True
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _prune_files(index_dir: Path) -> None:
    """Delete stored originals that no remaining build refers to (uploads in flight are left alone)."""
    folder = files_dir(index_dir)
    if not folder.is_dir():
        return
    wanted: set[str] = set()
    for build in builds_dir(index_dir).iterdir():
        try:
            manifest = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        wanted |= {s.get("file") for s in manifest.get("sources", []) if isinstance(s, dict)}
    for path in folder.iterdir():
        try:
            if path.name.startswith("."):  # an upload being received or a copy being made: only a dead one's
                if not _alive(path.name) or time.time() - path.stat().st_mtime > 3600:
                    path.unlink()
            elif path.name not in wanted:
                path.unlink()
        except OSError:
            pass
