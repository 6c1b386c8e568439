"""Plain text files: UTF-8, UTF-16, GB18030, Big5 (see :func:`._text.decode`)."""

from __future__ import annotations

from pathlib import Path

from ..extracted import ExtractedDocument, Skip
from ._text import decode, read_bytes


class TextReader:
    name = "txt"
    suffixes = (".txt", ".text")

    def read(self, path: Path) -> ExtractedDocument:
        raw = read_bytes(path)
        if not raw:
            raise Skip("empty file")
        text, encoding = decode(raw)
        if not text.strip():
            raise Skip("empty: only whitespace")
        return ExtractedDocument(text=text, encoding=encoding, format=self.name)
