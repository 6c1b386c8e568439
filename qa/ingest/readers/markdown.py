"""Markdown: headings become the section path of citations, tables one readable line per row.

The text is kept as written (its line breaks included, so line numbers stay the file's), except that each
table (markdown-it-py finds them) is replaced by one line per data row (:func:`._text.table_lines`):
``| 骨科 | 张三 | 40 |`` under ``| 科室 | 主任 | 床位数 |`` reads ``骨科 主任 张三 床位数 40。``, and each
heading line loses its ``#`` marks (the heading is recorded as a section, so citations show its path).
"""

from __future__ import annotations

import re
from pathlib import Path

from ..extracted import ExtractedDocument, Skip
from ._text import decode, read_bytes, table_lines

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def _parser():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table")


def _cells(tokens, start: int) -> tuple[list[list[str]], int]:
    """The rows of the table whose ``table_open`` is at ``start``; and the index after ``table_close``."""
    rows: list[list[str]] = []
    i = start
    while tokens[i].type != "table_close":
        token = tokens[i]
        if token.type == "tr_open":
            rows.append([])
        elif token.type == "inline" and rows:
            rows[-1].append(token.content)
        i += 1
    return rows, i + 1


def from_markdown(text: str, encoding: str, format: str = "md") -> ExtractedDocument:
    """The Markdown ``text`` with its tables as row lines, and its headings as sections."""
    tokens = _parser().parse(text)
    lines = _LINE.findall(text)
    replaced: dict[int, tuple[int, list[str]]] = {}  # first line -> (line after, new lines)
    headings: list[tuple[int, int, str]] = []  # (line, level, text)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.type == "table_open" and token.map:
            rows, i = _cells(tokens, i)
            replaced[token.map[0]] = (token.map[1], table_lines(rows))
            continue
        if token.type == "heading_open" and token.map and i + 1 < len(tokens):
            title = " ".join(tokens[i + 1].content.split())
            headings.append((token.map[0], int(token.tag[1]), title))
            # the heading's text without its # marks (or setext underline): a passage it joins reads cleanly
            first, after = token.map
            replaced[first] = (after, [title] + [""] * (after - first - 1))
        i += 1
    out: list[str] = []
    line_offset: dict[int, int] = {}
    pos = n = 0
    while n < len(lines):
        line_offset[n] = pos
        if n in replaced:
            end, rows = replaced[n]
            last = lines[end - 1]
            newline = last[len(last.rstrip("\r\n")):] or "\n"
            chunk = "".join(row + newline for row in rows)
            n = end
        else:
            chunk = lines[n]
            n += 1
        out.append(chunk)
        pos += len(chunk)
    body = "".join(out)
    sections = [(line_offset[line], level, title) for line, level, title in headings if line in line_offset and title]
    return ExtractedDocument(text=body, encoding=encoding, format=format, sections=sections)


class MarkdownReader:
    name = "md"
    suffixes = (".md", ".markdown")

    def read(self, path: Path) -> ExtractedDocument:
        raw = read_bytes(path)
        if not raw:
            raise Skip("empty file")
        text, encoding = decode(raw)
        if not text.strip():
            raise Skip("empty: only whitespace")
        return from_markdown(text, encoding, self.name)
