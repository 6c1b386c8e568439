"""The five seed articles as PDF (Chromium print-to-PDF, CJK font), Word (python-docx), web pages (with
navigation, scripts and footer) and Markdown answer the seed questions as well as the .txt files do
(Recall@5 within 0.05); PDF citations carry the page the evidence is on; and through the real app every
passage's offsets reproduce its text from ``GET /api/documents/{id}``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.docfiles import articles, write_docx, write_html, write_markdown, write_pdfs
from qa import evaluation
from qa.index.build import build_index
from qa.index.store import load_index
from qa.search.retriever import Retriever

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_QA = Path(__file__).resolve().parent / "data" / "seed_qa.jsonl"
FORMATS = ("pdf", "docx", "html", "md")


def squeeze(text: str) -> str:
    return re.sub(r"\s", "", text)


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    """The seeds written once in every format, each format in a folder of its own."""
    root = tmp_path_factory.mktemp("formats")
    items = articles(SEEDS)
    folders = {fmt: root / fmt for fmt in FORMATS}
    for folder in folders.values():
        folder.mkdir()
    write_pdfs(items, folders["pdf"])
    for a in items:
        write_docx(a, folders["docx"] / f"{a.doc_id}.docx")
        write_html(a, folders["html"] / f"{a.doc_id}.html")
        write_markdown(a, folders["md"] / f"{a.doc_id}.md")
    return folders


@pytest.fixture(scope="module")
def indexes(made, tmp_path_factory, embedder, cache_dir) -> dict[str, object]:
    out = {}
    for fmt, folder in made.items():
        index_dir = tmp_path_factory.mktemp(f"index-{fmt}") / "index"
        report = build_index([folder], index_dir, embedder, cache_dir=cache_dir)
        assert report.documents == 5 and not [f for f in report.files if f.skipped], report.files
        out[fmt] = load_index(index_dir, embedder)
    return out


def recall_at_5(retriever: Retriever) -> float:
    queries = [q for q in evaluation.load_queries(SEED_QA) if q.answerable]
    rows = evaluation.run(retriever, queries, evaluation.HitRule({}))
    return sum(r.rank is not None and r.rank <= 5 for r in rows) / len(rows)


@pytest.fixture(scope="module")
def txt_recall(retriever) -> float:
    return recall_at_5(retriever)


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_answers_the_seed_questions_like_the_text(indexes, embedder, txt_recall, fmt):
    index = indexes[fmt]
    assert {d.format for d in index.documents.values()} == {fmt}
    recall = recall_at_5(Retriever(embedder, index))
    print(f"\nseed_qa R@5: txt {txt_recall:.3f}, {fmt} {recall:.3f}")
    assert recall >= txt_recall - 0.05


def test_pdf_citations_carry_the_page_of_their_evidence(indexes, embedder, made):
    import pypdfium2

    index = indexes["pdf"]
    retriever = Retriever(embedder, index)
    pages_text: dict[str, list[str]] = {}
    for doc_id in index.documents:
        pdf = pypdfium2.PdfDocument(str(made["pdf"] / f"{doc_id}.pdf"))
        pages_text[doc_id] = [squeeze(pdf[i].get_textpage().get_text_bounded()) for i in range(len(pdf))]
        pdf.close()
    checked = 0
    for q in evaluation.load_queries(SEED_QA):
        if not q.answerable:
            continue
        for hit in retriever.search(q.text, 5):
            p = hit.passage
            evidence = next((squeeze(e) for e in q.evidence if squeeze(e) in squeeze(p.text)), None)
            if evidence is None:
                continue
            on = [n for n, text in enumerate(pages_text[p.doc_id], start=1) if evidence in text]
            if not on:  # the evidence runs across a page break
                continue
            assert p.page_start <= on[0] <= p.page_end, (q.id, p.id, p.page_start, p.page_end, on)
            checked += 1
    assert checked >= 15  # most answerable seed questions were checked


@pytest.mark.parametrize("fmt", FORMATS)
def test_offsets_reproduce_passages_through_the_api(indexes, embedder, fmt):
    from conftest import make_settings
    from fastapi.testclient import TestClient

    from qa.serve.app import create_app

    index = indexes[fmt]
    app = create_app(make_settings(index.path), embedder=embedder, index=index, watch=False)
    with TestClient(app) as client:
        docs = {}
        for doc_id in index.documents:
            body = client.get(f"/api/documents/{doc_id}").json()
            docs[doc_id] = body
            assert body["format"] == fmt and body["has_file"] is True
            if fmt == "pdf":
                assert len(body["pages"]) >= 2 and body["pages"][0] == 0
        for p in index.passages:
            text = docs[p.doc_id]["text"]
            assert squeeze(text[p.char_start:p.char_end]) == squeeze(p.text), p.id
            if fmt == "pdf":
                starts = docs[p.doc_id]["pages"]
                assert starts[p.page_start - 1] <= p.char_start and (
                    p.page_end == len(starts) or p.char_end - 1 < starts[p.page_end])
        reply = client.post("/api/ask", json={"question": "荆州二医在封城期间接诊了多少发热患者？"}).json()
        top = reply["passages"][0]
        assert "近4000人次" in top["text"]
        if fmt == "pdf":
            assert top["page_start"] is not None
        else:
            assert top["page_start"] is None and top["section"]


@pytest.mark.parametrize("fmt", ("pdf", "md"))
def test_qa_ask_prints_the_page_or_the_section(indexes, embedder, monkeypatch, fmt):
    from click.testing import CliRunner

    from qa.cli.main import cli

    monkeypatch.setattr("qa.cli.main.load_model", lambda settings: embedder)
    result = CliRunner().invoke(cli, ["ask", "荆州二医在封城期间接诊了多少发热患者？", "--index",
                                      str(indexes[fmt].path)])
    assert result.exit_code == 0, result.output
    first = next(line for line in result.stdout.splitlines() if line.startswith("[1]"))
    if fmt == "pdf":
        assert re.search(r"\.pdf, page \d+(-\d+)?, lines \d+-\d+", first), first
    else:
        assert re.search(r"\.md, lines \d+-\d+ \(.+\)", first), first
