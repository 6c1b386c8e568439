"""PDF text layer with pypdfium2 (PDFium): of pypdf, pdfplumber and pypdfium2 it kept Chinese reading order
in one- and two-column layouts and was 4-8x faster (``python -m bench.pdf_readers``, bench/README.md).

Pages are joined by a blank line; ``pages`` records where each one starts. Before reading, pypdf checks the
file's structure (strictly: a broken cross-reference table is refused, not silently repaired), and a PDF
with JavaScript is refused. Pages without a text layer are read by OCR when the ocr extra is installed.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

from ..extracted import ExtractedDocument, Skip
from . import ocr
from ._text import read_bytes

PAGE_BREAK = "\n\n"
OCR_SCALE = 2.0  # render scanned pages at 144 dpi for recognition
MAX_PAGES = 5000
_JS = re.compile(rb"/(?:JavaScript|JS)(?![A-Za-z])")
_STREAM = re.compile(rb"(?<![A-Za-z])stream\r?\n.*?endstream", re.DOTALL)
logging.getLogger("pypdf").setLevel(logging.ERROR)


def _scripted(reader, raw: bytes) -> bool:
    """Whether the file's objects name JavaScript. Stream bodies are left out of the byte scan: compressed or
    encrypted bytes are random and spell ``/JS`` now and then (one encrypted copy of a seed PDF in a few
    hundred did). The objects packed inside object streams are decoded and scanned instead."""
    if not reader.is_encrypted and _JS.search(_STREAM.sub(b"stream endstream", raw)):
        return True
    for number in sorted({stream for stream, _ in getattr(reader, "xref_objStm", {}).values()}):
        packed = reader.get_object(number)
        if packed is not None and _JS.search(packed.get_data()):
            return True
    root = reader.trailer["/Root"]
    names = root.get("/Names")
    if "/AA" in root or (names is not None and "/JavaScript" in names.get_object()):
        return True
    action = root.get("/OpenAction")
    return action is not None and not isinstance(action.get_object(), list) \
        and action.get_object().get("/S") == "/JavaScript"


def _check_structure(raw: bytes) -> None:
    """Refuse encrypted, damaged and scripted PDFs (pypdf, strict) before PDFium touches the file."""
    import pypdf
    from pypdf.errors import PdfReadError

    try:
        reader = pypdf.PdfReader(io.BytesIO(raw), strict=True)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except Exception:  # an unsupported cipher: treat as locked
                opened = 0
            if not opened:
                raise Skip("encrypted PDF (password protected); save an unlocked copy and add that")
        if _scripted(reader, raw):
            raise Skip("PDF contains JavaScript; refused (print it to a new PDF without scripts)")
        count = len(reader.pages)
    except Skip:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0][:120]
        raise Skip(f"damaged PDF ({first}); open and save it again, or print it to a new PDF") from None
    if count > MAX_PAGES:
        raise Skip(f"PDF has {count} pages (at most {MAX_PAGES})", 413)


class PdfReader:
    name = "pdf"
    suffixes = (".pdf",)

    def read(self, path: Path) -> ExtractedDocument:
        import pypdfium2
        import pypdfium2.raw as pdfium_c

        raw = read_bytes(path)
        if not raw:
            raise Skip("empty file")
        if b"%PDF-" not in raw[:1024]:
            raise Skip("not a PDF: the content does not match the .pdf extension", 415)
        _check_structure(raw)
        try:
            pdf = pypdfium2.PdfDocument(raw)
        except pypdfium2.PdfiumError as exc:
            raise Skip(f"damaged or encrypted PDF ({exc})") from None
        try:
            if pdfium_c.FPDFDoc_GetJavaScriptActionCount(pdf.raw) > 0:
                raise Skip("PDF contains JavaScript; refused (print it to a new PDF without scripts)")
            texts, scanned = [], []
            for i in range(len(pdf)):
                page = pdf[i]
                text = page.get_textpage().get_text_bounded().replace("\r\n", "\n").replace("\r", "\n")
                text = text.replace("\x00", "").replace("\ufffe", "").strip()
                if not text:
                    scanned.append(i)
                texts.append(text)
            notes = []
            if scanned and ocr.available():
                for i in scanned:
                    image = pdf[i].render(scale=OCR_SCALE).to_pil()
                    texts[i] = ocr.recognise(image)
                notes.append(f"{len(scanned)} page{'s' if len(scanned) > 1 else ''} read by OCR")
            elif scanned and len(scanned) < len(texts):
                notes.append(f"{len(scanned)} of {len(texts)} pages have no text layer (needs OCR)")
            title = (pdf.get_metadata_value("Title") or "").strip() or None
        finally:
            pdf.close()
        if not any(texts):
            raise Skip(ocr.NEEDS_OCR if not ocr.available() else "no text found, not even by OCR")
        pages, parts, pos = [], [], 0
        for text in texts:
            pages.append(pos)
            parts.append(text)
            pos += len(text) + len(PAGE_BREAK)
        return ExtractedDocument(text=PAGE_BREAK.join(parts), encoding="pdf", format=self.name, title=title,
                                 pages=pages, notes=notes)
