"""Documents and their passages: decoding, wrap-aware Chinese paragraphing, exact offsets.

The seed articles are text extracted from newspaper PDFs: lines are hard-wrapped mid-sentence, a blank
line may fall inside a sentence, and headings, captions and bylines float between paragraphs. Splitting
works in three steps.

1. **Units.** Blank lines cut the text into blocks. A block is also cut before a line that starts with an
   explicit sign (an indent, a markdown ``#``, a bullet or caption marker such as ``●□▲◀▶``, or a ``——``
   subtitle / list lead) when the text gathered so far ends a sentence or looks like a heading. A markdown
   heading line is always a unit of its own, and its ``#`` marks are left out of the passage.
2. **Paragraphs.** A blank line is not a reliable paragraph end: a unit is continued by the next one
   (across the blank line) when it does not end a sentence and is not heading-shaped, unless the next unit
   starts with a sign. *Heading-shaped* means at most 3 lines and 40 characters, no sentence-ending
   punctuation at all, and no trailing comma, colon or opening bracket; it still continues when the next
   unit starts with a character that cannot start a paragraph (closing punctuation, a comma, 的, 们).
   A finished paragraph is a ``"heading"`` (headings, bylines, captions) when it is heading-shaped, when it
   is a markdown heading of at most ``max_chars``, or when it is a *caption*: one sentence of at most
   40 characters standing alone on one line (or on up to 3 lines after a caption marker such as ``▲``),
   e.g. ``开展微创手术，减轻患者痛苦。``. Everything else is ``"body"``.
3. **Passages.** A heading is one passage. A body paragraph is cut into sentences (:func:`sentence_spans`)
   and consecutive sentences are packed into passages of about ``min_chars``-``max_chars`` characters,
   balanced so that a paragraph slightly over ``max_chars`` gives two halves, never one full passage and
   a scrap. Sentences are never cut: a sentence longer than ``max_chars`` is a passage on its own.
   Afterwards a body passage shorter than ``min_chars`` is merged with the following body passage when
   the combined passage stays within ``max_chars``. Headings are never merged.

Sentence ends are ``。！？；…⋯`` (runs of them count once), and ``! ? ;`` followed by whitespace, each
with any closing quotes or brackets right after them. A stretch without any letter, digit or ideograph
(a lone ``……``) does not end a sentence: it joins the next one.

Passage offsets index ``Document.text`` exactly; ``Passage.text`` is the slice with
:func:`normalize_whitespace` applied, so the two are equal once all whitespace is removed.

Titles of .txt/.md files, first rule that applies: the first markdown ``# `` heading; the headline line
right above a ``——`` subtitle line; the first of the first five non-blank lines that is short (at most
40 characters) and has no punctuation, marker or byline words; the first non-blank line cut to 60
characters; the document id. Whitespace runs in a title become one space, a title spaced out letter by
letter is closed up, and tokens doubled by the PDF extraction (``深耕细作深耕细作``) are halved.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import math
import pathlib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "Document",
    "DocumentError",
    "Passage",
    "load_documents",
    "normalize_whitespace",
    "sentence_spans",
    "split_passages",
]


@dataclass(frozen=True)
class Document:
    """One source document; all passage offsets index ``text``."""

    id: str
    title: str
    source: str
    text: str
    encoding: str
    sha256: str


@dataclass(frozen=True)
class Passage:
    """A span ``[char_start, char_end)`` of a document; ``text`` is that slice with wraps rejoined."""

    id: str
    doc_id: str
    title: str
    source: str
    text: str
    char_start: int
    char_end: int
    line_start: int
    line_end: int
    kind: str


class DocumentError(Exception):
    """A source cannot be loaded. The message is one line and names the file."""


TEXT_SUFFIXES = (".txt", ".md")
HEADING_MAX = 40  # characters of a heading or caption, after normalisation
HEADING_LINES = 3
TITLE_MAX = 60

# Characters that take no space next to them: CJK ideographs, kana, hangul, CJK and fullwidth punctuation,
# general punctuation (“”‘’—…) and the symbols used as markers (□●▲★①).
_WIDE = (
    "\u1100-\u11ff\u2010-\u2027\u2030-\u205e\u2460-\u27bf\u2e80-\u2fdf\u2ff0-\u303f\u3040-\u9fff"
    "\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\ufe10-\ufe1f\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003ffff"
)
_CLOSERS = re.escape("”’」』）》】〉〕\"')]")
_ENDERS = "。！？；…⋯"
_SENT_END = re.compile(rf"(?:[{_ENDERS}][{_ENDERS}!?;]*[{_CLOSERS}]*|[!?;]+[{_CLOSERS}]*(?!\S))")
_ANY_END = re.compile(rf"[{_ENDERS}]|[!?;](?!\S)")
_ENDS_SENTENCE = re.compile(rf"(?:[{_ENDERS}]|[!?;])[{_CLOSERS}]*\Z")
_WIDE_CHAR = re.compile(f"[{_WIDE}]")
_WORD = re.compile(r"[^\W_]")
_WS_RUN = re.compile(r"\s+")
_NON_WS = re.compile(r"\S")
_BREAK = re.compile(r"\r\n|\r|\n")
_MD_HEADING = re.compile(r"#{1,6}[^\S\r\n]+(?=\S)")
_MARKERS = "●•○◎◆◇■□▲△▼▽▶▷◀◁►★☆※▪"
_OPEN_END = "，、：,:（(“‘《「『【—-"  # a heading never ends with these
_CONT_START = set("，、。！？；：,.;:!?…”’」』）》】〉〕)]的们")  # never starts a paragraph


# ----------------------------------------------------------------------------------------- loading


def load_documents(sources: list[pathlib.Path]) -> list[Document]:
    """Load documents from folders, .txt/.md files and .jsonl files.

    Args:
        sources: each one a folder (every ``*.txt`` and ``*.md`` inside, recursively, sorted by relative
            path), a single .txt/.md file, or a .jsonl file of ``{"id", "title", "text"}`` records (one
            record is one document).

    Returns:
        The documents in the order of ``sources``. Files are decoded as strict UTF-8 (with or without a
        BOM), else as GB18030 when the result looks like text. Empty files give empty documents.

    Raises:
        DocumentError: a missing or unsupported source, an undecodable file, a bad JSONL line, a record
            without id or text, or a duplicate document id. The message is one line naming the file.
    """
    documents: list[Document] = []
    seen: dict[str, str] = {}
    for source in sources:
        for doc, where in _load_source(pathlib.Path(source)):
            if doc.id in seen:
                raise DocumentError(f"duplicate document id {doc.id!r} in {where} (first in {seen[doc.id]})")
            seen[doc.id] = where
            documents.append(doc)
    return documents


def _show(path: pathlib.Path) -> str:
    """The path as text that fits on one line."""
    return str(path).replace("\r", "\\r").replace("\n", "\\n")


def _load_source(path: pathlib.Path) -> Iterator[tuple[Document, str]]:
    if path.is_dir():
        files = [p for p in path.rglob("*") if p.suffix.lower() in TEXT_SUFFIXES and p.is_file()]
        for file in sorted(files, key=lambda p: p.relative_to(path).as_posix()):
            yield _load_text_file(file), _show(file)
    elif not path.exists():
        raise DocumentError(f"no such file or folder: {_show(path)}")
    elif path.suffix.lower() == ".jsonl":
        yield from _load_jsonl(path)
    elif path.suffix.lower() in TEXT_SUFFIXES:
        yield _load_text_file(path), _show(path)
    else:
        raise DocumentError(f"unsupported source {_show(path)}: expected a folder, a .txt/.md file or a .jsonl file")


def _read(path: pathlib.Path) -> tuple[bytes, str, str]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"cannot read {_show(path)}: {exc.strerror or exc}") from None
    text, encoding = _decode(raw, _show(path))
    return raw, text, encoding


def _load_text_file(path: pathlib.Path) -> Document:
    raw, text, encoding = _read(path)
    return Document(
        id=path.stem,
        title=_derive_title(text, path.stem),
        source=path.name,
        text=text,
        encoding=encoding,
        sha256=hashlib.sha256(raw).hexdigest(),
    )


def _load_jsonl(path: pathlib.Path) -> Iterator[tuple[Document, str]]:
    _, content, encoding = _read(path)
    for number, line in enumerate(_BREAK.split(content), start=1):
        if not line.strip():
            continue
        where = f"{_show(path)}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DocumentError(f"{where}: invalid JSON: {exc.msg}") from None
        if not isinstance(record, dict):
            raise DocumentError(f"{where}: expected a JSON object")
        doc_id = record.get("id")
        if isinstance(doc_id, int) and not isinstance(doc_id, bool):
            doc_id = str(doc_id)
        if not isinstance(doc_id, str) or not doc_id.strip():
            raise DocumentError(f"{where}: record has no 'id'")
        text = record.get("text")
        if not isinstance(text, str):
            raise DocumentError(f"{where}: record has no 'text'")
        title = record.get("title")
        doc = Document(
            id=doc_id,
            title=title.strip() if isinstance(title, str) and title.strip() else doc_id,
            source=f"{path.name}#{doc_id}",
            text=text,
            encoding=encoding,
            sha256=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
        )
        yield doc, where


def _decode(raw: bytes, where: str) -> tuple[str, str]:
    """Strict UTF-8 (BOM stripped), else GB18030 when the result looks like text."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return (text[1:], "utf-8-sig") if text.startswith("\ufeff") else (text, "utf-8")
    error = DocumentError(f"cannot decode {where}: not UTF-8 or GB18030 text")
    try:
        text = raw.decode("gb18030").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise error from None
    if not _looks_like_text(text):
        raise error
    return text, "gb18030"


def _looks_like_text(text: str) -> bool:
    """No control characters but \\t \\n \\r \\f, and at least 90% ASCII or CJK among the rest."""
    plain = other = 0
    for ch in text:
        if ch in "\t\n\r\f":
            continue
        if unicodedata.category(ch) in ("Cc", "Cs"):
            return False
        if ch < "\x80" or _WIDE_CHAR.match(ch):
            plain += 1
        else:
            other += 1
    return other <= 0.1 * (plain + other)


def _derive_title(text: str, doc_id: str) -> str:
    lines = [line.strip() for line in _BREAK.split(text) if line.strip()]
    for line in lines:
        if re.match(r"#[^\S\r\n]+\S", line):
            return _clean_title(line[1:])
    plain = [line[m.end() :] if (m := _MD_HEADING.match(line)) else line for line in lines]
    for line, below in itertools.pairwise(plain):
        if below.startswith("——") and not line.startswith("—") and _is_headline(line, TITLE_MAX, strict=False):
            return _clean_title(line)
    for line in plain[:5]:
        if _is_headline(line, HEADING_MAX, strict=True):
            return _clean_title(line)
    return _WS_RUN.sub(" ", lines[0])[:TITLE_MAX] if lines else doc_id


def _is_headline(line: str, limit: int, *, strict: bool) -> bool:
    if len(normalize_whitespace(line)) > limit or line[0] in _MARKERS or _ANY_END.search(line):
        return False
    return not strict or not (re.search(r"[，,：:、]", line) or "记者" in line or "通讯员" in line)


def _clean_title(line: str) -> str:
    tokens = line.split()
    if len(tokens) >= 3 and sum(len(t) == 1 for t in tokens) >= 0.6 * len(tokens):
        tokens = [normalize_whitespace(line)]  # spaced out letter by letter
    halved = [t[: len(t) // 2] if len(t) >= 4 and t[: len(t) // 2] * 2 == t else t for t in tokens]
    return " ".join(halved)[:TITLE_MAX]


# ------------------------------------------------------------------------------------ text rules


def normalize_whitespace(raw: str) -> str:
    """Rejoin wrapped lines and collapse whitespace.

    A whitespace run (line breaks included) disappears when the character on either side of it is CJK
    (ideographs, CJK and fullwidth punctuation, “”—…, markers like □●); otherwise, e.g. between Latin
    letters or digits, it becomes one space. Leading and trailing whitespace is removed.

    Args:
        raw: any text, typically a slice of ``Document.text``.

    Returns:
        The text with only whitespace removed or replaced by single spaces.
    """
    text = raw.strip()

    def join(m: re.Match[str]) -> str:
        wide = _WIDE_CHAR.match(text, m.start() - 1) or _WIDE_CHAR.match(text, m.end())
        return "" if wide else " "

    return _WS_RUN.sub(join, text)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    chunk = text[start:end]
    return start + len(chunk) - len(chunk.lstrip()), start + len(chunk.rstrip())


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Split ``text[start:end]`` into sentences.

    Args:
        text: the whole text (offsets are absolute).
        start: where to begin; clamped to the text.
        end: where to stop (exclusive); ``None`` for the end of the text.

    Returns:
        ``(s, e)`` offsets into ``text``, in order, whitespace-trimmed, never empty. Together they cover
        every non-whitespace character of the range; a piece without any letter, digit or ideograph
        joins the next sentence (or the previous one at the end).
    """
    end = len(text) if end is None else max(0, min(end, len(text)))
    start = max(0, min(start, end))
    spans: list[tuple[int, int]] = []
    begin = scanned = start
    has_word = False
    for m in _SENT_END.finditer(text, start, end):
        has_word = has_word or _WORD.search(text, scanned, m.start()) is not None
        scanned = m.end()
        if has_word:
            spans.append(_trim(text, begin, m.end()))
            begin, has_word = m.end(), False
    s, e = _trim(text, begin, end)
    if s < e:
        if spans and not (has_word or _WORD.search(text, scanned, end)):
            spans[-1] = (spans[-1][0], e)
        else:
            spans.append((s, e))
    return spans


# ------------------------------------------------------------------------------------- splitting


@dataclass
class _Unit:
    start: int
    end: int
    lines: int
    signal: bool  # starts with an indent, a marker, a —— lead or a markdown heading
    markdown: bool


class _Splitter:
    def __init__(self, text: str, min_chars: int, max_chars: int) -> None:
        self.text = text
        self.min_chars = min_chars
        self.max_chars = max_chars
        self.heading_max = min(HEADING_MAX, max_chars)

    def norm_len(self, start: int, end: int) -> int:
        return len(normalize_whitespace(self.text[start:end]))

    def ends_sentence(self, start: int, end: int) -> bool:
        return _ENDS_SENTENCE.search(self.text[max(start, end - 16) : end]) is not None

    def heading_shaped(self, start: int, end: int, lines: int) -> bool:
        if lines > HEADING_LINES or end - start > 20 * self.heading_max:
            return False
        norm = normalize_whitespace(self.text[start:end])
        return len(norm) <= self.heading_max and not _ANY_END.search(norm) and norm[-1] not in _OPEN_END

    def units(self) -> list[_Unit]:
        text = self.text
        units: list[_Unit] = []
        cur: _Unit | None = None
        pos = 0
        bounds = [(m.start(), m.end()) for m in _BREAK.finditer(text)] + [(len(text), len(text))]
        for brk_start, brk_end in bounds:
            line_start, line_end, pos = pos, brk_start, brk_end
            first = _NON_WS.search(text, line_start, line_end)
            if first is None:
                if cur:
                    units.append(cur)
                cur = None
                continue
            start = first.start()
            end = line_start + len(text[line_start:line_end].rstrip())
            md = _MD_HEADING.match(text, start, end)
            signal = bool(md) or start > line_start or text[start] in _MARKERS or text.startswith("——", start)
            if cur and (cur.markdown or md or (signal and self.closes(cur))):
                units.append(cur)
                cur = None
            if cur:
                cur.end, cur.lines = end, cur.lines + 1
            else:
                cur = _Unit(md.end() if md else start, end, 1, signal, bool(md))
        if cur:
            units.append(cur)
        return units

    def closes(self, unit: _Unit) -> bool:
        return self.ends_sentence(unit.start, unit.end) or self.heading_shaped(unit.start, unit.end, unit.lines)

    def paragraphs(self) -> list[tuple[int, int, str]]:
        units = self.units()
        paragraphs: list[tuple[int, int, str]] = []
        i = 0
        while i < len(units):
            first = units[i]
            end, lines, j = first.end, first.lines, i + 1
            while not first.markdown and j < len(units) and not units[j].signal:
                nxt = units[j]
                if self.ends_sentence(first.start, end):
                    break
                if self.heading_shaped(first.start, end, lines) and self.text[nxt.start] not in _CONT_START:
                    break
                end, lines, j = nxt.end, lines + nxt.lines, j + 1
            paragraphs.append((first.start, end, self.kind(first, end, lines, j - i)))
            i = j
        return paragraphs

    def kind(self, first: _Unit, end: int, lines: int, n_units: int) -> str:
        start = first.start
        if first.markdown:
            return "heading" if self.norm_len(start, end) <= self.max_chars else "body"
        if self.heading_shaped(start, end, lines):
            return "heading"
        caption = (
            n_units == 1
            and (lines == 1 or (lines <= HEADING_LINES and self.text[start] in _MARKERS))
            and end - start <= 20 * self.heading_max
            and self.norm_len(start, end) <= self.heading_max
            and self.ends_sentence(start, end)
            and len(sentence_spans(self.text, start, end)) == 1
        )
        return "heading" if caption else "body"

    def pack(self, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Group sentences into balanced passages of at most max_chars (an over-long sentence stands alone)."""
        lengths = [self.norm_len(s, e) for s, e in spans]
        gaps = [self.norm_len(a[1] - 1, b[0] + 1) - 2 for a, b in itertools.pairwise(spans)] + [0]
        cum = [0]
        for length, gap in zip(lengths, gaps, strict=True):
            cum.append(cum[-1] + length + gap)

        def total(i: int, j: int) -> int:  # sentences i..j-1
            return cum[j] - cum[i] - gaps[j - 1]

        chunks: list[tuple[int, int]] = []
        i, n = 0, len(spans)
        while i < n:
            rest = total(i, n)
            if rest <= self.max_chars:
                chunks.append((spans[i][0], spans[n - 1][1]))
                break
            target = rest / math.ceil(rest / self.max_chars)
            j = i + 1
            while j < n and total(i, j + 1) <= self.max_chars:
                size = total(i, j)
                if size >= self.min_chars and size + gaps[j - 1] + lengths[j] / 2 > target:
                    break
                j += 1
            chunks.append((spans[i][0], spans[j - 1][1]))
            i = j
        return chunks

    def passages(self) -> list[tuple[int, int, str]]:
        out: list[tuple[int, int, str]] = []
        for start, end, kind in self.paragraphs():
            chunks = [(start, end)] if kind == "heading" else self.pack(sentence_spans(self.text, start, end))
            for s, e in chunks:
                if (
                    kind == "body"
                    and out
                    and out[-1][2] == "body"
                    and self.norm_len(out[-1][0], out[-1][1]) < self.min_chars
                    and self.norm_len(out[-1][0], e) <= self.max_chars
                ):
                    out[-1] = (out[-1][0], e, "body")
                else:
                    out.append((s, e, kind))
        return out


def split_passages(doc: Document, *, min_chars: int = 100, max_chars: int = 350) -> list[Passage]:
    """Split a document into heading and body passages with exact offsets (see the module docstring).

    Args:
        doc: the document; offsets index ``doc.text``.
        min_chars: body passages shorter than this are merged with the next body passage when the result
            stays within ``max_chars``.
        max_chars: the most characters (of ``Passage.text``) a passage may have, unless it is a single
            sentence that is longer by itself.

    Returns:
        The passages in document order, not overlapping, with ids ``f"{doc.id}#{n}"``.
    """
    text = doc.text
    line_starts = [0] + [m.end() for m in _BREAK.finditer(text)]
    splitter = _Splitter(text, min_chars, max(1, max_chars))
    return [
        Passage(
            id=f"{doc.id}#{n}",
            doc_id=doc.id,
            title=doc.title,
            source=doc.source,
            text=normalize_whitespace(text[start:end]),
            char_start=start,
            char_end=end,
            line_start=bisect.bisect_right(line_starts, start),
            line_end=bisect.bisect_right(line_starts, end - 1),
            kind=kind,
        )
        for n, (start, end, kind) in enumerate(splitter.passages())
    ]
