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
import math
import pathlib
import re
from dataclasses import dataclass, field

__all__ = [
    "Document",
    "DocumentError",
    "FileResult",
    "Passage",
    "SourceScan",
    "load_documents",
    "read_file",
    "read_sources",
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
    format: str = "txt"
    pages: list[int] = field(default_factory=list)  # char offset of each page start (PDF)
    sections: list[list] = field(default_factory=list)  # [offset, level, heading] of each heading
    origin: str = "source"  # "source": from `qa build`; "added": `qa add` or an upload
    file: str | None = None  # the stored original, a name in the collection's files folder


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
    page_start: int | None = None  # 1-based pages of the first and last character (PDF); None otherwise
    page_end: int | None = None
    section: str | None = None  # heading path, e.g. "院况 > 床位" (Markdown, DOCX, HTML)


class DocumentError(Exception):
    """A source cannot be loaded. The message is one line and names the file."""


HEADING_MAX = 40  # characters of a heading or caption, after normalisation
STRUCTURED = ("md", "docx", "html")  # formats whose readers mark headings: the splitter does not guess them
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


@dataclass
class FileResult:
    """What became of one source file: the documents read from it, or why it was skipped."""

    path: str
    format: str = ""
    doc_ids: list[str] = field(default_factory=list)
    pages: int = 0
    reason: str = ""
    status: int = 0  # the HTTP status an upload of this file gets when skipped
    notes: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> bool:
        return not self.doc_ids


@dataclass
class SourceScan:
    """Every document read from the sources, and one :class:`FileResult` per file looked at."""

    documents: list[Document]
    files: list[FileResult]

    @property
    def skipped(self) -> list[FileResult]:
        return [f for f in self.files if f.skipped]


def _show(path: pathlib.Path) -> str:
    """The path as text that fits on one line."""
    return str(path).replace("\r", "\\r").replace("\n", "\\n")


def _files_of(path: pathlib.Path) -> list[pathlib.Path]:
    """Every file under a folder (hidden files and folders left out), sorted by relative path."""
    files = [
        p for p in path.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
    ]
    return sorted(files, key=lambda p: p.relative_to(path).as_posix())


def read_file(
    path: pathlib.Path, *, doc_id: str | None = None, source: str | None = None, origin: str = "source"
) -> list[Document]:
    """Read one file with the reader its suffix names.

    Args:
        path: the file.
        doc_id: the document id (default: the file's stem; JSONL records keep their own ids).
        source: the file name to record (default: ``path.name``), e.g. an upload's own name.
        origin: ``"source"`` (from ``qa build``) or ``"added"`` (``qa add``, uploads).

    Raises:
        Skip: an unsupported type, or a file the reader cannot index; ``reason`` says why in one line.
    """
    from .extracted import Skip
    from .readers import reader_for

    name = source or path.name
    reader = reader_for(pathlib.Path(name))
    if reader is None:
        raise Skip(f"unsupported type {pathlib.Path(name).suffix or '(no extension)'}", 415)
    if hasattr(reader, "read_records"):
        extracted = reader.read_records(path)
    else:
        extracted = [reader.read(path)]
    stem = doc_id or pathlib.Path(name).stem
    raw_hash = None
    documents = []
    for ex in extracted:
        if not ex.text.strip():
            if ex.doc_id is None:
                raise Skip("empty: no text")
            continue  # an empty JSONL record has nothing to index
        if ex.doc_id is not None:
            digest = hashlib.sha256(ex.text.encode("utf-8", "surrogatepass")).hexdigest()
            this_id, this_source = ex.doc_id, f"{name}#{ex.doc_id}"
        else:
            if raw_hash is None:
                raw_hash = hashlib.sha256(path.read_bytes()).hexdigest()
            digest, this_id, this_source = raw_hash, stem, name
        documents.append(Document(
            id=this_id, title=ex.title or _derive_title(ex.text, this_id), source=this_source, text=ex.text,
            encoding=ex.encoding, sha256=digest, format=ex.format, pages=list(ex.pages),
            sections=[[a, b, c] for a, b, c in ex.sections], origin=origin,
        ))
    if not documents:
        raise Skip("empty: no text")
    return documents


def read_sources(sources: list[pathlib.Path], *, origin: str = "source") -> SourceScan:
    """Read every file of the sources; a file that cannot be indexed is reported, never fatal.

    Args:
        sources: each a folder (every file inside, recursively, sorted by relative path; hidden files and
            folders left out) or a single file of any supported type (see :mod:`qa.ingest.readers`).
        origin: recorded on every document (see :func:`read_file`).

    Returns:
        The documents in the order of ``sources`` and one result per file: indexed, or skipped with the
        reason (unsupported type, empty, binary or undecodable, encrypted or damaged PDF, no text layer,
        duplicate document id).

    Raises:
        DocumentError: a source that does not exist (the one error that stops a build: a typo).
    """
    from .extracted import Skip

    documents: list[Document] = []
    files: list[FileResult] = []
    seen: dict[str, str] = {}
    for source in sources:
        path = pathlib.Path(source)
        if path.is_dir():
            paths = _files_of(path)
        elif path.is_file():
            paths = [path]
        else:
            raise DocumentError(f"no such file or folder: {_show(path)}")
        for file in paths:
            result = FileResult(_show(file))
            try:
                docs = read_file(file, origin=origin)
            except Skip as skip:
                result.reason, result.status = skip.reason, skip.status
                files.append(result)
                continue
            for doc in docs:
                if doc.id in seen:
                    result.notes.append(f"duplicate document id {doc.id!r} left out (first in {seen[doc.id]})")
                    continue
                seen[doc.id] = result.path
                documents.append(doc)
                result.doc_ids.append(doc.id)
                result.format, result.pages = doc.format, result.pages + len(doc.pages)
            if not result.doc_ids:
                result.reason, result.status = result.notes.pop(0) if result.notes else "no documents", 409
            files.append(result)
    return SourceScan(documents, files)


def load_documents(sources: list[pathlib.Path]) -> list[Document]:
    """Load documents from folders and files, strictly: the first file that cannot be read stops it.

    The build uses :func:`read_sources`, which reports such files and goes on; this is for scripts that
    want all or nothing.

    Raises:
        DocumentError: a missing source, or a file that was skipped (the message names it and says why).
    """
    scan = read_sources(sources)
    for result in scan.files:
        if result.skipped:
            raise DocumentError(f"cannot read {result.path}: {result.reason}")
    return scan.documents


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
    def __init__(self, text: str, min_chars: int, max_chars: int, headings: set[int] | None = None) -> None:
        self.text = text
        self.min_chars = min_chars
        self.max_chars = max_chars
        self.heading_max = min(HEADING_MAX, max_chars)
        self.headings = headings  # where the known headings start (structured formats); None: guess them

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
                if self.headings is not None and (first.start in self.headings or nxt.start in self.headings):
                    break
                if self.heading_shaped(first.start, end, lines) and self.text[nxt.start] not in _CONT_START:
                    break
                end, lines, j = nxt.end, lines + nxt.lines, j + 1
            paragraphs.append((first.start, end, self.kind(first, end, lines, j - i)))
            i = j
        return paragraphs

    def kind(self, first: _Unit, end: int, lines: int, n_units: int) -> str:
        start = first.start
        if self.headings is not None:  # a structured document says which lines are headings: no guessing
            return "heading" if start in self.headings and self.norm_len(start, end) <= self.max_chars else "body"
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

    def passages(self, merge_headings: bool = True) -> list[tuple[int, int, str]]:
        """Passages ``(start, end, kind)``. With ``merge_headings``, a run of headings and captions (headline,
        subtitle, byline) becomes the start of the next body paragraph's first sentence, so packing sizes it
        with its text; a run is a passage of its own only when it would pass ``max_chars`` with that
        sentence, and one at the very end joins the passage before when that fits. A passage that starts with a heading
        is never merged into the one before it."""
        out: list[tuple[int, int, str]] = []
        pending: tuple[int, int] | None = None
        self.body_start: dict[int, int] = {}  # passage start -> where its text after the joined headings starts
        for start, end, kind in self.paragraphs():
            if kind == "heading" and merge_headings:
                if pending and self.norm_len(pending[0], end) > self.max_chars:
                    out.append((pending[0], pending[1], "heading"))
                    pending = None
                pending = (pending[0] if pending else start, end)
                continue
            if kind == "heading":
                out.append((start, end, kind))
                continue
            spans = sentence_spans(self.text, start, end)
            headed = pending is not None
            if pending is not None and spans and self.norm_len(pending[0], spans[0][1]) > self.max_chars:
                out.append((pending[0], pending[1], "heading"))  # too long to join even the first sentence
                pending, headed = None, False
            if pending is not None:
                self.body_start[pending[0]] = spans[0][0] if spans else start
                spans = [(pending[0], spans[0][1]), *spans[1:]] if spans else [(pending[0], end)]
                pending = None
            for n, (s, e) in enumerate(self.pack(spans)):
                if (
                    not (headed and n == 0)
                    and out
                    and out[-1][2] == "body"
                    and self.norm_len(out[-1][0], out[-1][1]) < self.min_chars
                    and self.norm_len(out[-1][0], e) <= self.max_chars
                ):
                    out[-1] = (out[-1][0], e, "body")
                else:
                    out.append((s, e, "body"))
        if pending is not None:
            if out and out[-1][2] == "body" and self.norm_len(out[-1][0], pending[1]) <= self.max_chars:
                out[-1] = (out[-1][0], pending[1], "body")
            else:
                out.append((pending[0], pending[1], "heading"))
        return out


def split_passages(
    doc: Document, *, min_chars: int = 100, max_chars: int = 350, merge_headings: bool = True
) -> list[Passage]:
    """Split a document into passages with exact offsets (see the module docstring).

    Args:
        doc: the document; offsets index ``doc.text``.
        min_chars: body passages shorter than this are merged with the next body passage when the result
            stays within ``max_chars``.
        max_chars: the most characters (of ``Passage.text``) a passage may have, unless it is a single
            sentence that is longer by itself (or a passage that headings joined).
        merge_headings: headings and captions join the next passage instead of standing alone.

    Returns:
        The passages in document order, not overlapping, with ids ``f"{doc.id}#{n}"``, each with its pages
        (when the document has pages) and its section path (when it has headings).
    """
    text = doc.text
    line_starts = [0] + [m.end() for m in _BREAK.finditer(text)]
    headings = {int(offset) for offset, _, _ in doc.sections} if doc.format in STRUCTURED else None
    splitter = _Splitter(text, min_chars, max(1, max_chars), headings)
    pages = list(doc.pages)
    out = []
    spans = splitter.passages(merge_headings)
    for n, (start, end, kind) in enumerate(spans):
        out.append(Passage(
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
            page_start=bisect.bisect_right(pages, start) if pages else None,
            page_end=bisect.bisect_right(pages, end - 1) if pages else None,
            section=section_path(doc.sections, end - 1 if kind == "heading" else splitter.body_start.get(start, start)),
        ))
    return out


def section_path(sections: list, offset: int) -> str | None:
    """The heading path in force at ``offset`` (``"院况 > 床位"``), or None before any heading.

    A passage that headings joined is placed where its own text starts, so its path ends with them.
    """
    stack: list[tuple[int, str]] = []
    for start, level, heading in sections:
        if start > offset:
            break
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, heading))
    return " > ".join(h for _, h in stack) or None
