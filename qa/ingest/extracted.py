"""What a reader gives back: a document's extracted text with its pages and headings, or why it was skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = ["ExtractedDocument", "Reader", "RecordsReader", "Skip"]


@dataclass
class ExtractedDocument:
    """The text of one document as a reader extracted it; every offset indexes ``text``.

    Attributes:
        text: the whole extracted text (what ``GET /api/documents/{id}`` returns and citations index).
        encoding: how the bytes were decoded (``utf-8``, ``gb18030``, ``big5``, ``utf-16``…) or the format's
            own name (``pdf``, ``docx``) when text is not decoded from bytes.
        format: the reader's name (``txt``, ``md``, ``pdf``, ``docx``, ``html``, ``image``, ``jsonl``).
        title: the document's own title (PDF metadata, ``<title>``, DOCX core properties), or None to let
            the loader derive one from the text.
        pages: char offset of each page start (PDF, OCR'd images); empty for formats without pages.
        sections: ``(offset, level, heading)`` of each heading, in order (level 1 = top).
        doc_id: the record's id (JSONL only; files take their stem).
        notes: what the reader wants the build report to say (e.g. pages read by OCR).
    """

    text: str
    encoding: str
    format: str
    title: str | None = None
    pages: list[int] = field(default_factory=list)
    sections: list[tuple[int, int, str]] = field(default_factory=list)
    doc_id: str | None = None
    notes: list[str] = field(default_factory=list)


class Skip(Exception):
    """A file that is not indexed, and why: one line a person can act on.

    ``status`` is the HTTP status an upload of it gets: 415 (a type we do not read, or content that does not
    match its extension), 413 (expands beyond the limits), 422 (empty, undecodable, encrypted, damaged, no text).
    """

    def __init__(self, reason: str, status: int = 422) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@runtime_checkable
class Reader(Protocol):
    """One file format: the suffixes it claims and how to read one file into one document."""

    name: str
    suffixes: tuple[str, ...]

    def read(self, path: Path) -> ExtractedDocument:
        """Extract ``path``; raise :class:`Skip` saying why when it cannot be indexed."""
        ...


@runtime_checkable
class RecordsReader(Protocol):
    """A format whose one file holds many documents (JSONL)."""

    name: str
    suffixes: tuple[str, ...]

    def read_records(self, path: Path) -> list[ExtractedDocument]:
        """Every document in ``path`` (each with ``doc_id``); raise :class:`Skip` for a bad file."""
        ...
