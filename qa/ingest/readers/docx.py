"""Word files with python-docx: paragraphs, headings (the section path) and tables (one line per row), in
document order. The zip is checked first: a file that would expand past the limits (a zip bomb) is refused."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from ..extracted import ExtractedDocument, Skip
from ._text import table_lines

MAX_EXPANDED = 200 * 2**20  # bytes all members may expand to
MAX_RATIO = 200  # expanded / compressed, for members over 1 MiB
MAX_MEMBERS = 10_000
_HEADING = re.compile(r"(?:heading|标题)\s*(\d)", re.IGNORECASE)


def _check_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            names = {m.filename for m in members}
    except (zipfile.BadZipFile, OSError, ValueError):
        raise Skip("not a Word file: the content does not match the .docx extension (not a zip)", 415) from None
    if "word/document.xml" not in names:
        raise Skip("not a Word file: the zip has no word/document.xml", 415)
    total = sum(m.file_size for m in members)
    if len(members) > MAX_MEMBERS or total > MAX_EXPANDED or any(
        m.file_size > 2**20 and m.file_size > MAX_RATIO * max(1, m.compress_size) for m in members
    ):
        raise Skip(f"refused: the file would expand to {total / 2**20:.0f} MiB (a zip bomb?)", 413)


def _level(paragraph) -> int | None:
    style = paragraph.style.name if paragraph.style is not None else ""
    if style == "Title":
        return 1
    m = _HEADING.match(style or "")
    return int(m.group(1)) if m else None


class DocxReader:
    name = "docx"
    suffixes = (".docx",)

    def read(self, path: Path) -> ExtractedDocument:
        import docx
        from docx.table import Table

        _check_zip(path)
        try:
            document = docx.Document(str(path))
        except Exception as exc:  # python-docx raises many kinds on a broken package
            raise Skip(f"damaged Word file ({exc.__class__.__name__}); open and save it again") from None
        blocks: list[str] = []
        sections: list[tuple[int, int, str]] = []
        pos = 0
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                rows = [[cell.text for cell in row.cells] for row in item.rows]
                lines = table_lines(rows)
                text = "\n".join(lines)
            else:
                text = "\n".join(line.strip() for line in item.text.splitlines() if line.strip())
                level = _level(item)
                if level is not None and text:
                    sections.append((pos, level, " ".join(text.split())))
            if text:
                blocks.append(text)
                pos += len(text) + 2
        body = "\n\n".join(blocks)
        if not body.strip():
            raise Skip("empty: the Word file has no text")
        title = (document.core_properties.title or "").strip() or next(
            (t for _, level, t in sections if level == 1), None
        )
        return ExtractedDocument(text=body, encoding="docx", format=self.name, title=title, sections=sections)
