"""Property tests: whatever the text, splitting never crashes and every offset maps back exactly."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from qa.ingest.documents import Document, normalize_whitespace, sentence_spans, split_passages

BREAKS = re.compile(r"\r\n|\r|\n")

# Characters that exercise the rules: CJK, sentence ends, closers, markers, markdown, odd whitespace, NUL.
SPECIAL = list("。！？；…，、：“”‘’（）《》「」!?;.,:'\"()#●▲□——- \t\u3000\u00a0\u2028\x85\x0c\x00aZ09")
LINE_ENDINGS = ["\n", "\r\n", "\r", "\n\n", "\r\n\r\n", "\n \n", "\n\r"]

cjk = st.characters(min_codepoint=0x4E00, max_codepoint=0x4E60)
mixed_char = st.one_of(cjk, st.sampled_from(SPECIAL), st.sampled_from(LINE_ENDINGS))
mixed_text = st.lists(mixed_char, max_size=800).map("".join)
any_text = st.text(max_size=400)  # arbitrary Unicode, controls included
lines_text = st.lists(st.text(alphabet=st.one_of(cjk, st.sampled_from(SPECIAL)), max_size=40), max_size=60).flatmap(
    lambda lines: st.lists(st.sampled_from(LINE_ENDINGS), min_size=len(lines), max_size=len(lines)).map(
        lambda ends: "".join(line + end for line, end in zip(lines, ends, strict=True))
    )
)
texts = st.one_of(mixed_text, any_text, lines_text)
sizes = st.tuples(st.integers(1, 200), st.integers(1, 400)).map(lambda t: (min(t), max(t)))


def squeeze(text: str) -> str:
    return re.sub(r"\s", "", text)


def check(text: str, min_chars: int = 100, max_chars: int = 350) -> None:
    doc = Document(id="d", title="t", source="d.txt", text=text, encoding="utf-8", sha256="")
    passages = split_passages(doc, min_chars=min_chars, max_chars=max_chars)
    line, counted = 1, 0  # line numbers counted independently, incrementally (\r\n, \r and \n are breaks)
    pos = 0
    outside = []
    for n, p in enumerate(passages):
        assert p.id == f"d#{n}" and p.kind in ("body", "heading")
        assert pos <= p.char_start < p.char_end <= len(text)
        outside.append(text[pos : p.char_start])
        pos = p.char_end
        piece = text[p.char_start : p.char_end]
        assert not piece[0].isspace() and not piece[-1].isspace()
        assert squeeze(piece) == squeeze(p.text)
        assert p.text == normalize_whitespace(piece)
        for offset, reported in ((p.char_start, p.line_start), (p.char_end - 1, p.line_end)):
            line, counted = line + len(BREAKS.findall(text, counted, offset)), offset
            assert reported == line
        if len(p.text) > max_chars:  # only a single over-long sentence may exceed max_chars
            assert p.kind == "body" and len(sentence_spans(text, p.char_start, p.char_end)) == 1
    outside.append(text[pos:])
    assert set(squeeze("".join(outside))) <= {"#"}  # nothing but markdown marks is left out


def check_sentences(text: str, start: int, end: int) -> None:
    spans = sentence_spans(text, start, end)
    lo, hi = max(0, min(start, len(text))), max(0, min(end, len(text)))
    pos = lo
    for s, e in spans:
        assert pos <= s < e <= max(lo, hi)
        assert not text[s].isspace() and not text[e - 1].isspace()
        assert squeeze(text[pos:s]) == ""  # sentences cover every non-whitespace character
        pos = e
    assert squeeze(text[pos : max(lo, hi)]) == ""


@settings(max_examples=200, deadline=None)
@given(texts, sizes)
def test_split_passages_maps_back(text: str, size: tuple[int, int]) -> None:
    check(text, *size)


@settings(max_examples=200, deadline=None)
@given(texts)
def test_split_passages_default_sizes(text: str) -> None:
    check(text)


@settings(max_examples=200, deadline=None)
@given(texts, st.integers(-5, 900), st.integers(-5, 900))
def test_sentence_spans_map_back(text: str, start: int, end: int) -> None:
    check_sentences(text, start, end)
    check_sentences(text, 0, len(text))


@settings(max_examples=200, deadline=None)
@given(texts)
def test_normalize_whitespace_only_touches_whitespace(text: str) -> None:
    out = normalize_whitespace(text)
    assert squeeze(out) == squeeze(text)
    assert out == out.strip() and "  " not in out and "\n" not in out


def test_edge_cases() -> None:
    huge = "字" * 100_000
    check(huge)
    [p] = split_passages(Document("d", "t", "d.txt", huge, "utf-8", ""))
    assert (p.char_start, p.char_end, p.line_start, p.line_end, p.kind) == (0, 100_000, 1, 1, "body")
    for text in [
        "",
        " ",
        "\x00",
        "\n\r\n\r",
        " \t\u3000\n \n",
        "a b " * 25_000,
        "好。" * 50_000,
        "，\n\n" * 20_000,
        "标题\n\n" * 10_000,
        "# \n#\n# 标题\n## ——副标题\n正文。",
        "一行\r二行\r\n三行\n\n四行。\r\r五行",
        "\x00\x01。\x00\n\n\x00",
    ]:
        check(text)
        check_sentences(text, 0, len(text))
