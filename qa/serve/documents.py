"""The collection over HTTP: list, read, download, upload, replace and delete documents; the admin page.

Reads are open like the rest of the API. Writes (``POST``/``PUT``/``DELETE /api/documents…``) need the admin
token (``Authorization: Bearer <QA_ADMIN_TOKEN>``), take the index's write lock (waiting up to
``QA_WRITE_WAIT_S`` for another writer, then 409 naming it), write a new build through the one assembly
path, and reload the service before they answer, so the next question already sees the change.

An upload is streamed straight into the collection's own folder (``INDEX.files/``, never a system temp
folder), at most ``QA_MAX_UPLOAD_BYTES`` (413 beyond), and its file name is checked as sent, bytes and all
(400 for a name with folders, ``..``, NUL or bytes that are not UTF-8).
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from urllib.parse import quote, unquote_to_bytes

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel, Field

from ..errors import DocumentNotFound, DocumentRejected
from ..index.build import files_dir
from ..index.collection import Change, add_upload, remove_documents
from .api import ERRORS, ServiceDep, require_admin
from .schemas import DocumentOut
from .service import Service

router = APIRouter(tags=["documents"])
pages = APIRouter(include_in_schema=False)
WRITE_ERRORS = {**ERRORS, **{s: ERRORS[400] for s in (409, 413, 415)}}
_STORED = re.compile(r"[0-9a-f]{64}\.[a-z0-9]{1,8}")
MEDIA = {
    "pdf": "application/pdf", "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "html": "text/html; charset=utf-8", "md": "text/markdown", "txt": "text/plain",
}


class DocumentInfo(BaseModel):
    id: str
    title: str
    source: str
    format: str
    origin: str = Field(..., description="'source' (from `qa build`) or 'added' (`qa add`, uploads).")
    pages: int
    passages: int
    has_file: bool


class DocumentList(BaseModel):
    documents: list[DocumentInfo]
    built_at: str | None


class DocumentChange(BaseModel):
    id: str = Field(..., description="The document's id (use it in /api/documents/{id} and in filter.doc_ids).")
    title: str | None = None
    source: str | None = None
    format: str | None = None
    pages: int = 0
    passages: int = 0
    action: str = Field(..., description="'added', 'replaced' or 'deleted'.")
    documents: int = Field(..., description="Documents in the index after the change.")
    embedded: int = Field(..., description="Sentence units embedded for this change (the rest came from cache).")
    took_ms: float


# ------------------------------------------------------------------------------------------- reads


@router.get("/api/documents", response_model=DocumentList, responses=ERRORS, summary="List the documents")
def list_documents(service: ServiceDep) -> DocumentList:
    """Every document of the served index, with its format, pages and passage count."""
    index = service.current().index
    counts: dict[str, int] = {}
    for p in index.passages:
        counts[p.doc_id] = counts.get(p.doc_id, 0) + 1
    return DocumentList(built_at=index.built_at, documents=[
        DocumentInfo(id=d.id, title=d.title, source=d.source, format=d.format, origin=d.origin, pages=len(d.pages),
                     passages=counts.get(d.id, 0), has_file=d.file is not None)
        for d in index.documents.values()
    ])


@router.get("/api/documents/{doc_id}", response_model=DocumentOut, responses=ERRORS, summary="One source document")
def document(doc_id: str, service: ServiceDep) -> DocumentOut:
    """The document's title, source file and full extracted text (the text every offset indexes), and
    where each page starts in it (PDF)."""
    doc = service.current().index.documents.get(doc_id)
    if doc is None:
        raise DocumentNotFound(f"no document {doc_id!r} in the index")
    return DocumentOut(id=doc.id, title=doc.title, source=doc.source, encoding=doc.encoding, text=doc.text,
                       format=doc.format, pages=list(doc.pages), has_file=doc.file is not None)


@router.get("/api/documents/{doc_id}/file", responses=ERRORS, summary="The original file",
            response_class=Response)
def original(doc_id: str, service: ServiceDep) -> Response:
    """The file the document was read from, as it was added (a download, never rendered in the page)."""
    doc = service.current().index.documents.get(doc_id)
    if doc is None:
        raise DocumentNotFound(f"no document {doc_id!r} in the index")
    path = files_dir(service.index_dir) / doc.file if doc.file and _STORED.fullmatch(doc.file) else None
    if path is None or not path.is_file():
        raise DocumentNotFound(f"document {doc_id!r} has no stored original (a JSONL record, or built before "
                               f"originals were kept); its text is at /api/documents/{doc_id}")
    name = Path(doc.source).name
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", name) or "document"
    return FileResponse(path, media_type=MEDIA.get(doc.format, "application/octet-stream"), headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
    })


# ------------------------------------------------------------------------------------------ writes


async def _receive(request: Request, folder: Path, limit: int) -> tuple[Path, str]:
    """Stream the multipart field ``file`` into ``folder``; return (where, the file name as sent)."""
    from python_multipart.multipart import MultipartParser, parse_options_header

    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise DocumentRejected("send the file as multipart/form-data in a field named 'file'", 415)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f".upload-{os.getpid()}-{uuid.uuid4().hex}"  # a dead server's is pruned by the next write
    state: dict = {"headers": {}, "field": b"", "value": b"", "name": None, "filename": None, "writing": False,
                   "found": False}
    fh = target.open("wb")

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["field"].lower()] = state["value"]
        state["field"] = state["value"] = b""

    def on_headers_finished() -> None:
        _, disposition = parse_options_header(state["headers"].get(b"content-disposition", b""))
        state["headers"] = {}
        state["writing"] = disposition.get(b"name") == b"file" and not state["found"]
        if state["writing"]:
            state["found"] = True
            raw = disposition.get(b"filename")
            extended = disposition.get(b"filename*")
            if extended and extended.lower().startswith(b"utf-8''"):
                raw = unquote_to_bytes(extended[7:])
            state["filename"] = raw

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state["writing"]:
            fh.write(data[start:end])

    def on_part_end() -> None:
        state["writing"] = False

    parser = MultipartParser(params[b"boundary"], {
        "on_header_field": on_header_field, "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished, "on_part_data": on_part_data, "on_part_end": on_part_end,
    })
    seen = 0
    try:
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > limit:
                raise DocumentRejected(f"upload too large (at most {limit} bytes; QA_MAX_UPLOAD_BYTES)", 413)
            parser.write(chunk)
        parser.finalize()
    except DocumentRejected:
        fh.close()
        target.unlink(missing_ok=True)
        raise
    except Exception:  # python-multipart raises its own errors on a malformed body
        fh.close()
        target.unlink(missing_ok=True)
        raise DocumentRejected("malformed multipart body; send the file in a field named 'file'", 400) from None
    fh.close()
    if not state["found"]:
        target.unlink(missing_ok=True)
        raise DocumentRejected("no field named 'file' in the upload", 400)
    raw = state["filename"]
    try:
        name = raw.decode("utf-8") if raw is not None else ""
    except UnicodeDecodeError:
        target.unlink(missing_ok=True)
        raise DocumentRejected("the file name is not valid UTF-8 text; rename the file and upload it again",
                               400) from None
    return target, name


def _changed(service: Service, change: Change, action: str, doc_id: str) -> DocumentChange:
    service.reload()  # the next question sees the change (the watcher would take up to its interval)
    report = change.report
    doc = change.documents[0] if change.documents else None
    return DocumentChange(
        id=doc_id, title=doc.title if doc else None, source=doc.source if doc else None,
        format=doc.format if doc else None, pages=len(doc.pages) if doc else 0,
        passages=report.passages_of.get(doc_id, 0) if report else 0, action=action,
        documents=report.documents if report else 0, embedded=report.embedded if report else 0,
        took_ms=round(1000 * report.seconds, 1) if report else 0.0,
    )


async def _upload(request: Request, service: Service, doc_id: str | None, replace: bool) -> DocumentChange:
    settings = service.settings
    folder = files_dir(service.index_dir)
    path, name = await _receive(request, folder, settings.max_upload_bytes)
    try:
        change = await run_in_threadpool(
            add_upload, path, name, service.index_dir, service.embedder, cache_dir=settings.cache_dir,
            doc_id=doc_id, replace=replace, wait_s=settings.write_wait_s,
        )
    finally:
        path.unlink(missing_ok=True)
    new_id = change.documents[0].id
    return await run_in_threadpool(_changed, service, change, "replaced" if change.replaced else "added", new_id)


@router.post("/api/documents", status_code=201, response_model=DocumentChange, responses=WRITE_ERRORS,
             dependencies=[Depends(require_admin)], summary="Upload a document (admin)")
async def upload(request: Request, service: ServiceDep) -> DocumentChange:
    """Add one file (multipart field ``file``: .txt .md .pdf .docx .html, images with the ocr extra) as a new
    document; its id is the file name's stem (409 if the index has it: replace it with PUT)."""
    return await _upload(request, service, None, replace=False)


@router.put("/api/documents/{doc_id}", response_model=DocumentChange, responses=WRITE_ERRORS,
            dependencies=[Depends(require_admin)], summary="Replace a document (admin)")
async def replace_document(doc_id: str, request: Request, service: ServiceDep) -> DocumentChange:
    """Replace document ``doc_id`` with the uploaded file (multipart field ``file``); only its text is
    embedded again."""
    return await _upload(request, service, doc_id, replace=True)


@router.delete("/api/documents/{doc_id}", response_model=DocumentChange, responses=WRITE_ERRORS,
               dependencies=[Depends(require_admin)], summary="Delete a document (admin)")
def delete_document(doc_id: str, service: ServiceDep) -> DocumentChange:
    """Remove document ``doc_id`` from the index (the stored original goes once no kept build needs it)."""
    settings = service.settings
    change = remove_documents([doc_id], service.index_dir, service.embedder, cache_dir=settings.cache_dir,
                              wait_s=settings.write_wait_s, what="document deletion")
    return _changed(service, change, "deleted", doc_id)


# ------------------------------------------------------------------------------------------- page


@pages.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request) -> Response:
    """The admin page: list, upload, replace and delete documents (the token is asked for in the page and
    kept in the browser's sessionStorage, never in a URL)."""
    settings = request.app.state.settings
    context = {"enabled": bool(settings.admin_token), "max_upload_mb": settings.max_upload_bytes // 2**20}
    return request.app.state.templates.TemplateResponse(request, "admin.html", context)

