"""Decoding text files (UTF-8, UTF-16/32 with a BOM, GB18030, Big5… by charset-normalizer) and Markdown-style
tables as readable lines, shared by the text, Markdown, HTML and DOCX readers."""

from __future__ import annotations

import codecs
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from ..extracted import Skip

# CJK ideographs, kana, hangul, CJK/fullwidth punctuation and the marker symbols: text, like ASCII
_WIDE_RANGES = (
    (0x1100, 0x11FF), (0x2010, 0x2027), (0x2030, 0x205E), (0x2460, 0x27BF), (0x2E80, 0x2FDF), (0x2FF0, 0x303F),
    (0x3040, 0x9FFF), (0xA960, 0xA97F), (0xAC00, 0xD7FF), (0xF900, 0xFAFF), (0xFE10, 0xFE1F), (0xFE30, 0xFE4F),
    (0xFF00, 0xFFEF), (0x20000, 0x3FFFF),
)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
# what Chinese documents come in; charset-normalizer chooses among these only (fewer false guesses)
_CANDIDATES = ["gb18030", "big5", "utf_16_le", "utf_16_be", "cp1252"]
_GB = {"gb2312", "gbk", "gb18030", "hz"}


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise Skip(f"cannot read the file ({exc.strerror or exc})") from None


def _wide(ch: str) -> bool:
    code = ord(ch)
    return any(a <= code <= b for a, b in _WIDE_RANGES)


def looks_like_text(text: str) -> bool:
    """No control characters but \\t \\n \\r \\f, and at least 90% ASCII or CJK among the rest."""
    plain = other = 0
    for ch in text:
        if ch in "\t\n\r\f":
            continue
        if unicodedata.category(ch) in ("Cc", "Cs"):
            return False
        if ch < "\x80" or _wide(ch):
            plain += 1
        else:
            other += 1
    return other <= 0.1 * (plain + other)


def decode(raw: bytes) -> tuple[str, str]:
    """Decode a text file: strict UTF-8 (BOM dropped), a UTF-16/32 BOM, else the best of GB18030, Big5,
    UTF-16 without BOM (charset-normalizer); the result must look like text.

    Returns:
        ``(text, encoding)``; encoding is ``utf-8``, ``utf-8-sig``, ``utf-16``, ``utf-32``, ``gb18030``,
        ``big5``, ``utf-16-le``/``-be`` or ``cp1252``.

    Raises:
        Skip: binary or undecodable bytes.
    """
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(encoding).removeprefix("\ufeff"), encoding
            except UnicodeDecodeError:
                raise Skip(f"binary or undecodable: starts with a {encoding} byte-order mark but is not "
                           f"{encoding} text") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if not looks_like_text(text):
            raise Skip("binary or undecodable: control characters in the text")
        return text, "utf-8"
    from charset_normalizer import from_bytes

    error = Skip("binary or undecodable: not UTF-8, UTF-16, GB18030 or Big5 text")
    best = from_bytes(raw, cp_isolation=_CANDIDATES).best()
    if best is None:
        # charset-normalizer gives up on short GB18030 text with rare characters: try it plainly
        try:
            text, encoding = raw.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            raise error from None
    else:
        encoding = "gb18030" if best.encoding in _GB else best.encoding.replace("_", "-")
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            raise error from None
    text = text.removeprefix("\ufeff")
    if not looks_like_text(text):
        raise error
    return text, encoding


def table_lines(rows: Sequence[Sequence[str]]) -> list[str]:
    """A table as one readable line per data row: the row's first cell, then each other header with its value.

    ``[["科室", "主任", "床位数"], ["骨科", "张三", "40"]]`` gives ``["骨科 主任 张三 床位数 40。"]``; a cell
    that is empty is left out, and a table with one row (no header) gives its cells joined. Each line ends a
    sentence, so the splitter keeps rows whole.
    """
    clean = [[" ".join(cell.split()) for cell in row] for row in rows if any(c.strip() for c in row)]
    if not clean:
        return []
    if len(clean) == 1:
        return [_end(" ".join(c for c in clean[0] if c))]
    header, lines = clean[0], []
    for row in clean[1:]:
        parts = [row[0]] if row and row[0] else []
        for i, value in enumerate(row[1:], start=1):
            if value:
                name = header[i] if i < len(header) else ""
                parts.append(f"{name} {value}" if name else value)
        if parts:
            lines.append(_end(" ".join(parts)))
    return lines


def _end(line: str) -> str:
    return line if not line or line[-1] in "。！？；.!?;" else line + "。"
