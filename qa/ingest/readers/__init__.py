"""The readers, one module per format, registered here in ONE list: adding a format is one file and one line.

Each reader claims file suffixes and turns one file into an :class:`~qa.ingest.extracted.ExtractedDocument`
(or raises :class:`~qa.ingest.extracted.Skip` saying why it cannot); a file whose suffix no reader claims is
reported as an unsupported type, never silently dropped.
"""

from __future__ import annotations

from pathlib import Path

from ..extracted import Reader, RecordsReader
from .docx import DocxReader
from .html import HtmlReader
from .image import ImageReader
from .jsonl import JsonlReader
from .markdown import MarkdownReader
from .pdf import PdfReader
from .text import TextReader

READERS: list[Reader | RecordsReader] = [
    TextReader(),
    MarkdownReader(),
    JsonlReader(),
    PdfReader(),
    DocxReader(),
    HtmlReader(),
    ImageReader(),
]


def reader_for(path: Path) -> Reader | RecordsReader | None:
    """The reader that claims ``path``'s suffix (case-insensitive), or None."""
    suffix = path.suffix.lower()
    return next((r for r in READERS if suffix in r.suffixes), None)


def supported_suffixes() -> list[str]:
    return [s for r in READERS for s in r.suffixes]


__all__ = ["READERS", "reader_for", "supported_suffixes"]
