"""A living collection: add, replace and remove single documents of an index while it serves.

Each change reads the new file first (outside the lock: reading a scan may take a while), then, holding
the index's write lock, takes the current documents, applies the change and writes a new build through
:func:`~qa.index.build.assemble_index` (the one assembly path). Only the changed document's sentences are
embedded: the others are found in the embedding cache. Readers see the old index or the new one, never a
mix; the originals of added documents are copied into ``DIR.files/``, never taken from or left in the
user's folders.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from embeddings import Embedder

from ..errors import DocumentNotFound, DocumentRejected, IndexNotFound
from ..ingest.documents import Document, FileResult, read_file, read_sources
from ..ingest.extracted import Skip
from .build import (
    BuildReport,
    _passage_counts,
    assemble_index,
    check_target,
    current_documents,
    current_manifest,
    store_original,
)
from .lock import WriteLock

_ID_UNSAFE = re.compile(r"[^\w\u3000-\u303f\uff00-\uffef\-.()（）【】 ]+")
MAX_ID = 100


class DocumentExists(DocumentRejected):
    """An upload whose id is already in the collection (replace it with PUT)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 409)


@dataclass
class Change:
    """What one change did: the documents added, replaced or removed, and the write it made."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    report: BuildReport | None = None
    files: list[FileResult] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)  # the new or replaced documents


def safe_filename(name: str | None) -> str:
    """An uploaded file's name, checked: a plain name of UTF-8 text, without folders, '..' or NUL.

    Raises:
        DocumentRejected (400): anything else, saying what is wrong.
    """
    if not name or not name.strip():
        raise DocumentRejected("the upload has no file name; send it as multipart field 'file' with a filename", 400)
    if "\x00" in name:
        raise DocumentRejected("the file name contains a NUL character", 400)
    if any(0x80 <= ord(c) <= 0x9F for c in name) or "\ufffd" in name or _latin1_bytes(name):
        raise DocumentRejected("the file name is not valid UTF-8 text; rename the file and upload it again", 400)
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise DocumentRejected("the file name contains control characters", 400)
    if "/" in name or "\\" in name or name.strip() in (".", ".."):
        raise DocumentRejected("the file name must be a plain name, without folders or '..'", 400)
    if len(name.encode("utf-8")) > 255:
        raise DocumentRejected("the file name is longer than 255 bytes", 400)
    return name.strip()


def _latin1_bytes(name: str) -> bool:
    """True when the name looks like bytes that were not UTF-8, read as Latin-1 (what a multipart parser
    does with them): Latin-1 symbols U+00A0-U+00BF next to other non-ASCII characters."""
    high = [c for c in name if "\x80" <= c <= "\xff"]
    if not any("\xa0" <= c <= "\xbf" for c in high):
        return False
    try:
        name.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return len(high) >= 2
    return False


def doc_id_for(name: str) -> str:
    """The document id an upload named ``name`` gets: its stem, with characters unsafe in ids and URLs
    (``/ \\ # ? %``, control characters) replaced by ``_``."""
    stem = Path(name).stem.strip().lstrip(".")
    clean = _ID_UNSAFE.sub("_", stem).strip(" _")[:MAX_ID]
    return clean or "document"


def _write(documents: list[Document], index_dir: Path, embedder: Embedder, cache_dir: Path) -> BuildReport:
    """Write the changed collection, keeping the current index's keyword tokenizer (and HNSW, if it has it)."""
    manifest = current_manifest(index_dir) or {}
    tokenizer = manifest.get("keywords", {}).get("tokenizer", "bigram")
    kind = "hnsw" if manifest.get("vector_index", {}).get("type") == "hnsw" else "auto"
    return assemble_index(documents, index_dir, embedder, cache_dir=cache_dir, keyword_tokenizer=tokenizer,
                          vector_kind=kind)


def add_paths(
    paths: Sequence[Path], index_dir: Path, embedder: Embedder, *, cache_dir: Path, wait_s: float = 0.0
) -> Change:
    """``qa add``: read files and folders, add their documents (replacing ones with the same id).

    Raises:
        IndexRefused: ``index_dir`` is not ours to write.
        DocumentError: a path that does not exist.
        DocumentRejected: no file could be read (the change lists each one's reason in ``files``).
        WriteBusy: another write holds the index.
    """
    check_target(index_dir)
    scan = read_sources(list(paths), origin="added")
    change = Change(files=scan.files)
    if not scan.documents:
        reasons = "; ".join(f"{Path(f.path).name}: {f.reason}" for f in scan.skipped) or "no files"
        raise DocumentRejected(f"nothing to add ({reasons})", scan.skipped[0].status if scan.skipped else 422)
    where = {doc_id: Path(f.path) for f in scan.files for doc_id in f.doc_ids}
    with WriteLock(index_dir, "qa add", wait_s):
        new = [store_original(index_dir, d, where[d.id]) if d.format != "jsonl" else d for d in scan.documents]
        change.report = _apply(new, index_dir, embedder, cache_dir, change, replace=True)
    change.documents = new
    return change


def add_upload(
    data: Path, filename: str, index_dir: Path, embedder: Embedder, *, cache_dir: Path, doc_id: str | None = None,
    replace: bool = False, wait_s: float = 0.0,
) -> Change:
    """An uploaded file as one document: new (``replace`` False: 409 if its id exists) or replacing
    ``doc_id`` (``replace`` True: 404 if it does not exist).

    Args:
        data: where the upload was saved (any name; ``filename`` gives its type).
        filename: the name the client sent (checked by :func:`safe_filename`).
        index_dir: the index to change.
        embedder: the model.
        cache_dir: the embedding cache's folder.
        doc_id: the id (default: from the file name, :func:`doc_id_for`).
        replace: replace an existing document instead of adding a new one.
        wait_s: how long to wait for another writer.

    Raises:
        DocumentRejected: a bad name (400), a type we do not read or content that does not match its
            extension (415), too large when expanded (413), empty/undecodable/encrypted/damaged/no text (422),
            an id that exists (409).
        DocumentNotFound: replacing an id that is not there.
        WriteBusy: another write holds the index.
    """
    name = safe_filename(filename)
    if Path(name).suffix.lower() == ".jsonl":
        raise DocumentRejected("a JSONL corpus holds many documents: build it with `qa build --source`", 415)
    check_target(index_dir)
    doc_id = doc_id or doc_id_for(name)
    try:
        [doc] = read_file(data, doc_id=doc_id, source=name, origin="added")
    except Skip as skip:
        raise DocumentRejected(f"{name}: {skip.reason}", skip.status) from None
    change = Change()
    with WriteLock(index_dir, "document upload", wait_s):
        ids = {d.id for d in current_documents(index_dir)}
        if replace and doc_id not in ids:
            raise DocumentNotFound(f"no document {doc_id!r} in the index")
        if not replace and doc_id in ids:
            raise DocumentExists(f"a document {doc_id!r} is already in the index; replace it with "
                                 f"PUT /api/documents/{doc_id} or delete it first")
        doc = store_original(index_dir, doc, data)
        change.report = _apply([doc], index_dir, embedder, cache_dir, change, replace=True)
    change.documents = [doc]
    return change


def _apply(
    new: list[Document], index_dir: Path, embedder: Embedder, cache_dir: Path, change: Change, *, replace: bool
) -> BuildReport:
    current = current_documents(index_dir)
    by_id = {d.id: d for d in new}
    documents = []
    for d in current:
        if d.id in by_id:
            documents.append(by_id.pop(d.id))
            change.replaced.append(d.id)
        else:
            documents.append(d)
    documents += list(by_id.values())
    change.added += list(by_id)
    return _write(documents, index_dir, embedder, cache_dir)


def remove_documents(
    doc_ids: Sequence[str], index_dir: Path, embedder: Embedder, *, cache_dir: Path, wait_s: float = 0.0,
    what: str = "qa remove",
) -> Change:
    """Remove documents by id (their stored originals go once no kept build needs them).

    Raises:
        IndexNotFound: there is no index.
        DocumentNotFound: an id that is not in the index (nothing is removed).
        DocumentRejected (409): removing every document (an index needs one; build anew instead).
        WriteBusy: another write holds the index.
    """
    check_target(index_dir)
    with WriteLock(index_dir, what, wait_s):
        current = current_documents(index_dir)
        if not current:
            raise IndexNotFound(f"no index at {index_dir}; build one with `qa build --index {index_dir}`")
        ids = {d.id for d in current}
        missing = [i for i in doc_ids if i not in ids]
        if missing:
            raise DocumentNotFound(f"no document {missing[0]!r} in the index (see `qa list`); nothing was removed")
        gone = set(doc_ids)
        kept = [d for d in current if d.id not in gone]
        if not kept:
            raise DocumentRejected("refusing to remove every document: an index needs at least one "
                                   "(build a new one with `qa build`)", 409)
        report = _write(kept, index_dir, embedder, cache_dir)
    return Change(removed=[d.id for d in current if d.id in gone], report=report)


def list_documents(index_dir: Path) -> list[dict]:
    """Every document of the index: id, title, source, format, origin, pages and passages."""
    manifest = current_manifest(index_dir)
    if manifest is None:
        raise IndexNotFound(f"no index at {index_dir}; build one with `qa build --index {index_dir}`")
    counts = _passage_counts(index_dir)
    return [
        {"id": d.id, "title": d.title, "source": d.source, "format": d.format, "origin": d.origin,
         "pages": len(d.pages), "passages": counts.get(d.id, 0), "has_file": d.file is not None}
        for d in current_documents(index_dir)
    ]
