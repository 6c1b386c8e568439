"""Loading documents and wrap-aware passage splitting, on the real seed articles and small fixtures."""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import re
from pathlib import Path

import pytest

from qa.ingest.documents import (
    Document,
    DocumentError,
    Passage,
    load_documents,
    normalize_whitespace,
    read_sources,
    sentence_spans,
    split_passages,
)

SEEDS = Path(__file__).parent.parent / "seeds"
MIN_CHARS, MAX_CHARS = 100, 350
SENTENCE_END = re.compile(r"(?:[。！？；…⋯]|[!?;])[”’」』）》】〉〕\"')\]]*$")

SEED_TITLES = {
    "000_769629a9341062f1": "抢抓机遇乘势而上 同心筑梦共创未来",
    "001_fb1151e4e454f8fb": "扬帆新征程 一起向未来",
    "002_3a274bbbdd8f06d7": "党旗高扬映征程 白衣执甲践初心",
    "003_05d70a71f3258940": "深耕细作 生动答卷",
    "004_418b4fb8ab4a92f7": "红旗漫卷绘新篇",
}


def squeeze(text: str) -> str:
    return re.sub(r"\s", "", text)


def line_of(text: str, offset: int) -> int:
    return len(re.findall(r"\r\n|\r|\n", text[:offset])) + 1


def make_doc(text: str, doc_id: str = "t") -> Document:
    return Document(id=doc_id, title=doc_id, source=f"{doc_id}.txt", text=text, encoding="utf-8", sha256="")


@pytest.fixture(scope="module")
def seed_docs() -> list[Document]:
    return load_documents([SEEDS])


@pytest.fixture(scope="module")
def seed_passages(seed_docs: list[Document]) -> dict[str, list[Passage]]:
    return {doc.id: split_passages(doc) for doc in seed_docs}


def by_id(docs: list[Document], doc_id: str) -> Document:
    return next(doc for doc in docs if doc.id == doc_id)


# ------------------------------------------------------------------------------------------ seeds


def test_seed_documents_have_stable_ids_sources_and_hashes(seed_docs: list[Document]) -> None:
    files = sorted(SEEDS.glob("*.txt"))
    assert len(files) == 5
    assert [doc.id for doc in seed_docs] == [f.stem for f in files]
    assert [doc.source for doc in seed_docs] == [f.name for f in files]
    for doc, file in zip(seed_docs, files, strict=True):
        raw = file.read_bytes()
        assert doc.encoding == "utf-8"
        assert doc.sha256 == hashlib.sha256(raw).hexdigest()
        assert doc.text == raw.decode("utf-8")
    assert [doc.id for doc in load_documents([SEEDS])] == [doc.id for doc in seed_docs]


def test_seed_titles(seed_docs: list[Document]) -> None:
    assert {doc.id: doc.title for doc in seed_docs} == SEED_TITLES


def test_seed_passages_map_back_exactly(seed_docs: list[Document], seed_passages: dict[str, list[Passage]]) -> None:
    for doc in seed_docs:
        previous_end = 0
        for n, p in enumerate(seed_passages[doc.id]):
            piece = doc.text[p.char_start : p.char_end]
            assert p.id == f"{doc.id}#{n}" and p.doc_id == doc.id
            assert (p.title, p.source) == (doc.title, doc.source)
            assert p.kind in ("body", "heading")
            assert piece and not piece[0].isspace() and not piece[-1].isspace(), p.id
            assert squeeze(piece) == squeeze(p.text), p.id
            assert p.text == normalize_whitespace(piece)
            assert "\n" not in p.text
            assert p.char_start >= previous_end, f"{p.id} overlaps or is out of order"
            previous_end = p.char_end
            assert p.line_start == line_of(doc.text, p.char_start), p.id
            assert p.line_end == line_of(doc.text, p.char_end - 1), p.id


def test_seed_passages_cover_all_text(seed_docs: list[Document], seed_passages: dict[str, list[Passage]]) -> None:
    """Nothing is lost: outside the passages there is only whitespace and markdown '#' marks."""
    for doc in seed_docs:
        rest, pos = [], 0
        for p in seed_passages[doc.id]:
            rest.append(doc.text[pos : p.char_start])
            pos = p.char_end
        rest.append(doc.text[pos:])
        assert set(squeeze("".join(rest))) <= {"#"}, doc.id


def test_no_passage_boundary_inside_a_sentence(
    seed_docs: list[Document], seed_passages: dict[str, list[Passage]]
) -> None:
    """When a body passage is followed by another body passage, it ends with a sentence end.

    So body text is only ever cut at sentence ends; a body passage may end without one only right
    before a heading or at the end of the document (all of the seeds' body passages do end a sentence).
    Checked on the passages before headings join them (joining only moves heading boundaries).
    """
    for doc in seed_docs:
        passages = split_passages(doc, merge_headings=False)
        for p, q in itertools.pairwise(passages):
            if p.kind == "body" and q.kind == "body":
                assert SENTENCE_END.search(p.text), f"{p.id} ends mid-sentence: …{p.text[-20:]}"
        assert all(SENTENCE_END.search(p.text) for p in passages if p.kind == "body")


def test_passage_lengths(seed_docs: list[Document], seed_passages: dict[str, list[Passage]]) -> None:
    """Body passages stay within max_chars unless they are one over-long sentence; short ones couldn't merge."""
    over_long = []
    for doc in seed_docs:
        passages = seed_passages[doc.id]
        for p in passages:
            if len(p.text) > MAX_CHARS:
                assert p.kind == "body" and len(sentence_spans(doc.text, p.char_start, p.char_end)) == 1, p.id
                over_long.append(p.id)
        headings = {p.char_start for p in split_passages(doc, merge_headings=False) if p.kind == "heading"}
        for p, q in itertools.pairwise(passages):
            if p.kind == q.kind == "body" and len(p.text) < MIN_CHARS and q.char_start not in headings:
                assert len(normalize_whitespace(doc.text[p.char_start : q.char_end])) > MAX_CHARS, p.id
    assert over_long == []  # the seeds have no sentence longer than 350 characters
    body = [len(p.text) for ps in seed_passages.values() for p in ps if p.kind == "body"]
    assert sum(MIN_CHARS <= n <= MAX_CHARS for n in body) >= 0.85 * len(body)


def test_headings_join_the_next_passage(seed_docs: list[Document]) -> None:
    """Headings, bylines and captions are not passages of their own: each joins the passage after it."""
    for doc in seed_docs:
        alone = [p for p in split_passages(doc, merge_headings=False) if p.kind == "heading"]
        merged = split_passages(doc)
        left = [p for p in merged if p.kind == "heading"]
        # a run of headings stays a passage only where it cannot join: at the very end, when too long to fit
        assert alone and all(p is merged[-1] and len(merged[-2].text) + len(p.text) > MAX_CHARS for p in left)
        for heading in alone:  # every heading is inside exactly one merged passage, at its start or inside it
            holders = [p for p in merged if p.char_start <= heading.char_start and heading.char_end <= p.char_end]
            assert len(holders) == 1, heading.text
    texts = [p.text for ps in [split_passages(d) for d in seed_docs] for p in ps]
    headline = next(t for t in texts if "抢抓机遇乘势而上同心筑梦共创未来" in t)
    assert "——荆州二医统筹推进疫情防控和医院高质量发展纪实" in headline
    assert not any(t == "开展微创手术，减轻患者痛苦。" for t in texts)


def test_headings_alone_when_asked(seed_passages: dict[str, list[Passage]], seed_docs: list[Document]) -> None:
    """The old splitting is still there behind merge_headings=False (bench.headings measures both)."""
    headings = {p.text for d in seed_docs for p in split_passages(d, merge_headings=False) if p.kind == "heading"}
    expected = {"抢抓机遇乘势而上同心筑梦共创未来", "开展微创手术，减轻患者痛苦。", "红旗漫卷绘新篇", "党建照初心"}
    assert expected <= headings
    assert all(len(h) <= 40 for h in headings)


def test_fever_clinic_sentence_is_whole_with_its_line_numbers(
    seed_docs: list[Document], seed_passages: dict[str, list[Passage]]
) -> None:
    doc = by_id(seed_docs, "000_769629a9341062f1")
    lines = (SEEDS / "000_769629a9341062f1.txt").read_text(encoding="utf-8").split("\n")
    assert lines[34].startswith("至2020年3月16日18时，在荆州封城的52天里，")  # line 35
    assert lines[35] == ""  # a blank line inside the sentence
    assert lines[36].startswith("荆州二医累计接诊发热患者近4000人次")  # line 37
    assert lines[40] == "0感染”的目标。"  # line 41: the sentence ends here

    [p] = [p for p in seed_passages[doc.id] if "荆州二医累计接诊发热患者近4000人次" in p.text]
    assert "至2020年3月16日18时，在荆州封城的52天里，荆州二医累计接诊发热患者近4000人次" in p.text
    assert p.kind == "body"
    assert (p.line_start, p.line_end) == (35, 41)
    sentences = [normalize_whitespace(doc.text[s:e]) for s, e in sentence_spans(doc.text, p.char_start, p.char_end)]
    assert sentences == [
        "至2020年3月16日18时，在荆州封城的52天里，荆州二医累计接诊发热患者近4000人次，先后组织专家会诊400余人次，"
        "收治确诊及疑似患者83例，实现了“治愈病人0复阳、0死亡率、0例轻症转重症、医护人员0感染”的目标。"
    ]


def test_blank_line_inside_a_sentence_does_not_split_it(seed_passages: dict[str, list[Passage]]) -> None:
    texts = [p.text for p in seed_passages["000_769629a9341062f1"]]
    assert any("坚持求新、求变、求进、求突破，推进医院改革转型高质量发展。" in t for t in texts)
    texts = [p.text for p in seed_passages["002_3a274bbbdd8f06d7"]]
    assert any(t.startswith("一直以来，医疗质量是医院的一项重要考核指标") for t in texts)


def test_spaced_heading_is_rejoined(seed_passages: dict[str, list[Passage]]) -> None:
    texts = [p.text for p in seed_passages["003_05d70a71f3258940"]]
    assert any("这一年，他们围绕年度“1126计划”，以党的建设统领高质量发展" in t for t in texts)
    assert not any("这 一" in t or "年 度" in t for t in texts)
    assert normalize_whitespace("这 一 年 ，他 们 围 绕 年 度") == "这一年，他们围绕年度"


# ------------------------------------------------------------------------------------- text rules


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "至2020年3月16日18时，在荆州封城的52天里，\n\n荆州二医累计",
            "至2020年3月16日18时，在荆州封城的52天里，荆州二医累计",
        ),
        ("推进医院\n\n改革转型", "推进医院改革转型"),
        ("COVID-19\nIgM 和 IgG", "COVID-19 IgM和IgG"),
        ("将 2022\n年服务", "将2022年服务"),
        ("hello \t\n  world", "hello world"),
        ("  前后空白\r\n", "前后空白"),
        ("a , b", "a , b"),
        ("", ""),
    ],
)
def test_normalize_whitespace(raw: str, expected: str) -> None:
    assert normalize_whitespace(raw) == expected


def test_sentence_spans() -> None:
    text = "  你好。“再见！”他说；Hi! ok? ……在这里。3.5 and a;b\n尾巴 "
    pieces = [text[s:e] for s, e in sentence_spans(text)]
    assert pieces == ["你好。", "“再见！”", "他说；", "Hi!", "ok?", "……在这里。", "3.5 and a;b\n尾巴"]
    start = text.index("“")
    assert [text[s:e] for s, e in sentence_spans(text, start, start + 6)] == ["“再见！”", "他"]
    assert sentence_spans("") == [] and sentence_spans("  \n ") == []
    assert sentence_spans("好。 ……") == [(0, 5)]  # a trailing punctuation-only piece joins the last sentence


def test_over_long_sentence_is_kept_whole() -> None:
    long_sentence = "很长的句子，" * 80 + "到此结束。"
    doc = make_doc("开头一句话说明情况。" * 5 + long_sentence + "结尾。" * 3)
    passages = split_passages(doc)
    assert [p.text for p in passages if len(p.text) > MAX_CHARS] == [long_sentence]


def test_long_paragraph_is_packed_at_sentence_ends() -> None:
    sentences = [f"第{i}句话讲述了一件事情，并且给出了相应的细节和数字{i * 7}。" for i in range(40)]
    doc = make_doc("".join(sentences))
    passages = split_passages(doc)
    assert len(passages) > 1
    assert "".join(p.text for p in passages) == "".join(sentences)
    assert all(MIN_CHARS <= len(p.text) <= MAX_CHARS and SENTENCE_END.search(p.text) for p in passages)


def test_short_paragraphs_merge_but_never_with_headings() -> None:
    doc = make_doc("小标题\n\n第一段很短。只有两句。\n\n第二段也很短，\n换了一行。\n\n另一个标题\n\n第三段。有两句。")
    assert [(p.kind, p.text) for p in split_passages(doc)] == [
        ("body", "小标题第一段很短。只有两句。第二段也很短，换了一行。"),
        ("body", "另一个标题第三段。有两句。"),
    ]
    assert [(p.kind, p.text) for p in split_passages(doc, merge_headings=False)] == [
        ("heading", "小标题"),
        ("body", "第一段很短。只有两句。第二段也很短，换了一行。"),
        ("heading", "另一个标题"),
        ("body", "第三段。有两句。"),
    ]


def test_captions_are_headings() -> None:
    doc = make_doc(
        "正文第一段讲了一件事。\n又讲了一件事。\n\n开展微创手术，减轻患者痛苦。\n\n▲医护人员身穿隔离\n服，准备奔赴防控一线。\n"
    )
    assert [(p.kind, p.text) for p in split_passages(doc, merge_headings=False)] == [
        ("body", "正文第一段讲了一件事。又讲了一件事。"),
        ("heading", "开展微创手术，减轻患者痛苦。"),
        ("heading", "▲医护人员身穿隔离服，准备奔赴防控一线。"),
    ]
    # joined: captions at the end join the passage before them
    assert [p.text for p in split_passages(doc)] == [
        "正文第一段讲了一件事。又讲了一件事。开展微创手术，减轻患者痛苦。▲医护人员身穿隔离服，准备奔赴防控一线。"
    ]


def test_crlf_and_lf_give_the_same_passages(seed_docs: list[Document]) -> None:
    doc = by_id(seed_docs, "001_fb1151e4e454f8fb")
    crlf = make_doc(doc.text.replace("\n", "\r\n"))
    lf, cr = split_passages(doc), split_passages(crlf)
    assert [(p.text, p.line_start, p.line_end, p.kind) for p in lf] == [
        (p.text, p.line_start, p.line_end, p.kind) for p in cr
    ]
    for p in cr:
        assert squeeze(crlf.text[p.char_start : p.char_end]) == squeeze(p.text)


def test_empty_and_blank_documents_have_no_passages() -> None:
    assert split_passages(make_doc("")) == []
    assert split_passages(make_doc(" \n\r\n\t\u3000\n")) == []


# ---------------------------------------------------------------------------------------- loading


def test_utf8_bom_file(tmp_path: Path) -> None:
    raw = "\ufeff# 标题\n\n正文第一句。".encode()
    (tmp_path / "bom.md").write_bytes(raw)
    [doc] = load_documents([tmp_path / "bom.md"])
    assert (doc.id, doc.source, doc.encoding, doc.title) == ("bom", "bom.md", "utf-8-sig", "标题")
    assert doc.text == "标题\n\n正文第一句。"  # a Markdown heading without its # marks (it is a section)
    assert doc.sha256 == hashlib.sha256(raw).hexdigest()
    assert [(p.text, p.char_start, p.section) for p in split_passages(doc)] == [("标题正文第一句。", 0, "标题")]


def test_gb18030_file(tmp_path: Path) -> None:
    text = "长城简介\n\n长城是中国古代的军事防御工程，全长两万多千米。\n它东起山海关，西至嘉峪关。\r\n"
    (tmp_path / "gbk.txt").write_bytes(text.encode("gb18030"))
    [doc] = load_documents([tmp_path])
    assert (doc.encoding, doc.text, doc.title) == ("gb18030", text, "长城简介")
    assert [p.text for p in split_passages(doc)] == [
        "长城简介长城是中国古代的军事防御工程，全长两万多千米。它东起山海关，西至嘉峪关。",
    ]


@pytest.mark.parametrize(
    "raw",
    [
        random.Random(7).randbytes(4096),
        b"\x00\x01\x02\x03\x1b" * 40 + "中文".encode("gb18030"),  # decodes as GB18030, but is not text
    ],
)
def test_binary_file_is_skipped_with_a_one_line_reason(tmp_path: Path, raw: bytes) -> None:
    (tmp_path / "blob.txt").write_bytes(raw)
    (tmp_path / "ok.txt").write_text("好的内容。", encoding="utf-8")
    scan = read_sources([tmp_path])
    assert [d.id for d in scan.documents] == ["ok"]
    [skipped] = scan.skipped
    assert skipped.path.endswith("blob.txt") and "binary or undecodable" in skipped.reason
    assert "\n" not in skipped.reason
    with pytest.raises(DocumentError) as info:  # the strict loader stops at it, naming the file
        load_documents([tmp_path])
    assert "blob.txt" in str(info.value) and "\n" not in str(info.value)


def test_empty_files_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.md").write_text(" \n\t\u3000\n", encoding="utf-8")
    scan = read_sources([tmp_path])
    assert scan.documents == []
    assert sorted((Path(f.path).name, f.reason) for f in scan.files) == [
        ("blank.md", "empty: only whitespace"), ("empty.txt", "empty file")
    ]


def test_folder_is_read_recursively_in_relative_path_order(tmp_path: Path) -> None:
    for name in ["b/2.txt", "a/1.txt", "a.md", "c.TXT", "notes.rst", ".hidden.txt", ".git/x.txt"]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{name}的内容。", encoding="utf-8")
    scan = read_sources([tmp_path])
    assert [doc.source for doc in scan.documents] == ["a.md", "1.txt", "2.txt", "c.TXT"]
    assert [doc.id for doc in scan.documents] == ["a", "1", "2", "c"]
    assert [(Path(f.path).name, f.reason) for f in scan.skipped] == [("notes.rst", "unsupported type .rst")]


def test_title_fallbacks(tmp_path: Path) -> None:
    long_line = "这是一段没有标题的正文，" * 10 + "结束。"
    (tmp_path / "plain.txt").write_text(long_line, encoding="utf-8")
    (tmp_path / "doubled.txt").write_text("深耕细作深耕细作 生动答卷生动答卷\n———副标题\n正文。", encoding="utf-8")
    titles = {doc.id: doc.title for doc in load_documents([tmp_path])}
    assert titles == {"plain": long_line[:60], "doubled": "深耕细作 生动答卷"}


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8"
    )
    return path


def test_jsonl_records_are_documents(tmp_path: Path) -> None:
    long_text = "".join(f"第{i}句讲的是长城的历史与修建过程中的故事，内容相当丰富。" for i in range(30))
    corpus = write_jsonl(
        tmp_path / "corpus.jsonl",
        [
            {"id": "DEV_0", "title": "长城", "text": "长城是古代的防御工程。"},
            "",
            {"id": 7, "text": long_text},
        ],
    )
    docs = load_documents([corpus])
    assert [(d.id, d.title, d.source, d.encoding) for d in docs] == [
        ("DEV_0", "长城", "corpus.jsonl#DEV_0", "utf-8"),
        ("7", "7", "corpus.jsonl#7", "utf-8"),
    ]
    assert docs[0].sha256 == hashlib.sha256("长城是古代的防御工程。".encode()).hexdigest()
    passages = split_passages(docs[1])
    assert len(passages) > 2 and [p.id for p in passages][:2] == ["7#0", "7#1"]
    assert all(len(p.text) <= MAX_CHARS and SENTENCE_END.search(p.text) for p in passages)
    assert "".join(p.text for p in passages) == long_text


@pytest.mark.parametrize(
    ("row", "error"),
    [
        ("{not json", "line 2: invalid JSON"),
        ('["a list"]', "line 2: expected a JSON object"),
        ({"title": "无编号", "text": "正文。"}, "line 2: record has no 'id'"),
        ({"id": "x", "title": "无正文"}, "line 2: record has no 'text'"),
    ],
)
def test_bad_jsonl_is_skipped_naming_the_line(tmp_path: Path, row: object, error: str) -> None:
    corpus = write_jsonl(tmp_path / "corpus.jsonl", [{"id": "ok", "text": "第一条。"}, row])
    [result] = read_sources([corpus]).files
    assert result.skipped and result.reason.startswith(error), result.reason
    with pytest.raises(DocumentError, match=re.escape(error)) as info:
        load_documents([corpus])
    assert "corpus.jsonl" in str(info.value) and "\n" not in str(info.value)


def test_duplicate_ids_across_sources(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "000_769629a9341062f1.txt").write_text("同名。", encoding="utf-8")
    scan = read_sources([SEEDS, tmp_path])
    assert len(scan.documents) == 5
    [dup] = scan.skipped
    assert "duplicate document id '000_769629a9341062f1'" in dup.reason
    assert dup.path.endswith("sub/000_769629a9341062f1.txt")


def test_bad_sources(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="no such file or folder"):
        read_sources([tmp_path / "missing"])
    (tmp_path / "paper.pdf").write_bytes(b"%PDF-1.7")
    [result] = read_sources([tmp_path / "paper.pdf"]).files
    assert result.skipped and result.reason.startswith("damaged PDF"), result.reason
