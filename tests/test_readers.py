"""The readers, one per format, on real files made here: text in five encodings, Markdown tables and headings,
Word files from python-docx, web pages with boilerplate, PDFs printed by Chromium (and made hostile with
pypdf), images and scanned pages read by RapidOCR. Each bad file gets one line saying why it is skipped."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest

from bench.docfiles import article, html_page, write_docx, write_html, write_markdown, write_pdfs
from qa.ingest.documents import read_file, read_sources, split_passages
from qa.ingest.extracted import Reader, RecordsReader, Skip
from qa.ingest.readers import READERS, reader_for, supported_suffixes

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SMALL = SEEDS / "004_418b4fb8ab4a92f7.txt"  # the shortest seed: 3 pages as a PDF
TEXT = "长城是中国古代的军事防御工程，全长两万多千米。它东起山海关，西至嘉峪关。"


def squeeze(text: str) -> str:
    return re.sub(r"\s", "", text)


def skip_reason(path: Path) -> Skip:
    with pytest.raises(Skip) as info:
        read_file(path)
    assert "\n" not in info.value.reason
    return info.value


# ------------------------------------------------------------------------------------ registry


def test_one_registration_list_claims_each_suffix_once():
    suffixes = supported_suffixes()
    assert len(suffixes) == len(set(suffixes))
    assert {".txt", ".md", ".jsonl", ".pdf", ".docx", ".html", ".htm", ".png", ".jpg"} <= set(suffixes)
    for reader in READERS:
        assert isinstance(reader, Reader | RecordsReader), reader
        assert all(s.startswith(".") and s == s.lower() for s in reader.suffixes)
    assert reader_for(Path("报告.PDF")).name == "pdf"
    assert reader_for(Path("notes.rst")) is None


def test_unknown_suffix_is_reported_not_dropped(tmp_path):
    (tmp_path / "notes.rst").write_text("内容。", encoding="utf-8")
    (tmp_path / "README").write_text("内容。", encoding="utf-8")
    scan = read_sources([tmp_path])
    assert sorted((Path(f.path).name, f.reason, f.status) for f in scan.files) == [
        ("README", "unsupported type (no extension)", 415), ("notes.rst", "unsupported type .rst", 415),
    ]


# ---------------------------------------------------------------------------------------- text


@pytest.mark.parametrize(
    "encoding,label",
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("utf-16", "utf-16"), ("gb18030", "gb18030"),
     ("big5", "big5")],
)
def test_text_encodings(tmp_path, encoding, label):
    traditional = "長城簡介\n\n長城是中國古代的軍事防禦工程，全長兩萬多千米。它東起山海關，西至嘉峪關。\n"
    text = traditional if encoding == "big5" else "长城简介\n\n" + TEXT + "\n"
    path = tmp_path / "doc.txt"
    path.write_bytes(text.encode(encoding))
    [doc] = read_file(path)
    assert (doc.encoding, doc.text, doc.format) == (label, text, "txt")


def test_gbk_news_text_is_detected(tmp_path):
    """A real seed article saved as GBK (what Windows Notepad in China writes) decodes exactly."""
    text = SMALL.read_text(encoding="utf-8")
    path = tmp_path / "gbk.txt"
    path.write_bytes(text.encode("gbk"))
    [doc] = read_file(path)
    assert doc.encoding == "gb18030" and doc.text == text


@pytest.mark.parametrize("raw", [bytes(range(256)) * 8, b"\x00\x01\x02\x03" * 100, b"\xff\xfe\x00\xd8"])
def test_binary_text_is_skipped(tmp_path, raw):
    path = tmp_path / "blob.txt"
    path.write_bytes(raw)
    assert skip_reason(path).reason.startswith("binary or undecodable")


# ------------------------------------------------------------------------------------ markdown


def test_markdown_tables_become_rows_and_headings_sections(tmp_path):
    path = tmp_path / "院况.md"
    path.write_text(
        "# 院况\n\n医院概况如下。\n\n## 床位\n\n| 科室 | 主任 | 床位数 |\n|---|---|---|\n| 骨科 | 张三 | 40 |\n"
        "| 内科 | 李四 | 55 |\n\n## 科研\n\n### 课题\n\n承担省级课题十项。\n", encoding="utf-8",
    )
    [doc] = read_file(path)
    assert "|" not in doc.text and "#" not in doc.text
    assert "骨科 主任 张三 床位数 40。\n内科 主任 李四 床位数 55。" in doc.text
    assert doc.title == "院况"
    assert [(level, title) for _, level, title in doc.sections] == [(1, "院况"), (2, "床位"), (2, "科研"), (3, "课题")]
    source_lines = path.read_text(encoding="utf-8").splitlines()
    assert len(doc.text.splitlines()) == len(source_lines) - 2  # the table's 4 lines became 2 rows
    passages = split_passages(doc)
    by_text = {p.text: p.section for p in passages}
    assert by_text == {
        "院况医院概况如下。": "院况",
        "床位骨科主任张三床位数40。内科主任李四床位数55。": "院况 > 床位",
        "科研课题承担省级课题十项。": "院况 > 科研 > 课题",
    }
    for p in passages:
        assert squeeze(doc.text[p.char_start:p.char_end]) == squeeze(p.text)


# ---------------------------------------------------------------------------------------- docx


def test_docx_paragraphs_headings_tables(tmp_path):
    import docx

    document = docx.Document()
    document.add_heading("医院简介", level=1)
    document.add_paragraph("医院始建于1950年。")
    document.add_heading("床位", level=2)
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate([["科室", "主任", "床位数"], ["骨科", "张三", "40"], ["内科", "李四", "55"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("全院共有床位九十五张。")
    path = tmp_path / "简介.docx"
    document.save(str(path))
    [doc] = read_file(path)
    assert doc.format == "docx" and doc.title == "医院简介"
    assert doc.text == ("医院简介\n\n医院始建于1950年。\n\n床位\n\n骨科 主任 张三 床位数 40。\n"
                        "内科 主任 李四 床位数 55。\n\n全院共有床位九十五张。")
    assert [(doc.text[o:o + len(t)], level) for o, level, t in doc.sections] == [("医院简介", 1), ("床位", 2)]
    sections = {p.text: p.section for p in split_passages(doc)}
    assert sections["床位骨科主任张三床位数40。内科主任李四床位数55。全院共有床位九十五张。"] == "医院简介 > 床位"


def test_seed_as_docx_keeps_every_sentence(tmp_path):
    a = article(SMALL)
    [doc] = read_file(write_docx(a, tmp_path / "seed.docx"))
    assert squeeze(doc.text) == squeeze(a.title + "".join(t for _, t in a.blocks))


def _zip_bomb(path: Path) -> Path:
    write_docx(article(SMALL), path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/media/bomb.bin", b"\x00" * (20 * 2**20))  # 20 MiB of zeros, ~20 KiB packed
    return path


def test_docx_zip_bomb_is_refused_before_reading(tmp_path):
    path = _zip_bomb(tmp_path / "bomb.docx")
    assert path.stat().st_size < 2**20
    skip = skip_reason(path)
    assert skip.status == 413 and "zip bomb" in skip.reason


@pytest.mark.parametrize("content", [b"PK\x03\x04 not really a zip", b"%PDF-1.7 pretending", "纯文本。".encode()])
def test_docx_whose_content_lies(tmp_path, content):
    path = tmp_path / "lie.docx"
    path.write_bytes(content)
    skip = skip_reason(path)
    assert skip.status == 415 and "not a Word file" in skip.reason


# ---------------------------------------------------------------------------------------- html


def test_html_main_content_only(tmp_path):
    a = article(SMALL)
    [doc] = read_file(write_html(a, tmp_path / "page.html"))
    assert doc.format == "html" and doc.title.startswith("红旗漫卷绘新篇")
    for boilerplate in ("首页", "新闻中心", "站内搜索", "热点推荐", "统计代码", "版权所有", "京ICP备", "隐私政策",
                        "dataLayer", "font-family"):
        assert boilerplate not in doc.text, boilerplate
    body = squeeze(doc.text)
    sentences = [s for _, t in a.blocks for s in re.split(r"(?<=。)", squeeze(t)) if len(s) >= 8]
    found = sum(s in body for s in sentences)
    assert found >= 0.95 * len(sentences), (found, len(sentences))
    assert any(level == 2 for _, level, _ in doc.sections)


def test_html_short_page_drops_its_navigation(tmp_path):
    """A page with one short paragraph: trafilatura alone keeps its nav bar (it favours recall)."""
    path = tmp_path / "short.html"
    path.write_text("<html><head><title>床位</title><style>p{color:red}</style></head><body>"
                    "<header><a href='/'>首页</a>|<a href='/n'>新闻</a></header>"
                    "<nav><a href='/c'>联系我们</a></nav><article><header><h1>床位调整</h1></header>"
                    "<p>本院骨科现有床位四十张，由张三主任负责。</p></article>"
                    "<footer>版权所有 隐私政策</footer><script>var dataLayer=[];</script></body></html>",
                    encoding="utf-8")
    [doc] = read_file(path)
    assert "骨科现有床位四十张" in doc.text and "床位调整" in doc.text
    for boilerplate in ("首页", "新闻", "联系我们", "版权所有", "dataLayer", "color:red"):
        assert boilerplate not in doc.text, boilerplate


def test_html_without_markup_is_refused(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(TEXT, encoding="utf-8")
    assert skip_reason(path).status == 415


# ----------------------------------------------------------------------------------------- pdf


@pytest.fixture(scope="module")
def seed_pdf(tmp_path_factory) -> Path:
    """The shortest seed printed by Chromium (3 A4 pages)."""
    folder = tmp_path_factory.mktemp("pdf")
    [path] = write_pdfs([article(SMALL)], folder)
    return path


@pytest.mark.slow
@pytest.mark.browser
def test_pdf_text_pages_and_order(seed_pdf):
    import pypdfium2

    [doc] = read_file(seed_pdf)
    a = article(SMALL)
    assert doc.format == "pdf" and doc.encoding == "pdf" and doc.title == a.title
    assert squeeze(doc.text) == squeeze(a.title + "".join(t for _, t in a.blocks))  # all of it, in order
    pdf = pypdfium2.PdfDocument(str(seed_pdf))
    assert len(doc.pages) == len(pdf) == 3 and doc.pages[0] == 0
    for n, start in enumerate(doc.pages):  # each page's own text starts where pages says
        page_text = pdf[n].get_textpage().get_text_bounded().strip()
        assert squeeze(doc.text[start:start + 40]) == squeeze(page_text)[:len(squeeze(doc.text[start:start + 40]))]
    for p in split_passages(doc):
        assert 1 <= p.page_start <= p.page_end <= 3
        first = squeeze(p.text)[:12]
        assert first in squeeze(pdf[p.page_start - 1].get_textpage().get_text_bounded()) or p.page_start < p.page_end
    pdf.close()


def _rewrite(raw: bytes, change) -> bytes:
    import pypdf

    writer = pypdf.PdfWriter(clone_from=io.BytesIO(raw))
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _broken_xref(raw: bytes) -> bytes:
    m = re.search(rb"startxref\s+(\d+)", raw)
    return raw[:m.start(1)] + str(int(m.group(1)) + 7).encode() + raw[m.end(1):]


def _with_js(writer) -> None:
    from pypdf.actions import JavaScript

    writer.add_open_action(JavaScript("app.alert('hello');"))


HOSTILE_PDFS = {
    "encrypted": (lambda raw: _rewrite(raw, lambda w: w.encrypt("secret")), 422, "encrypted PDF"),
    "javascript": (lambda raw: _rewrite(raw, _with_js), 422, "JavaScript"),
    "broken-xref": (_broken_xref, 422, "damaged PDF"),
    "truncated": (lambda raw: raw[: len(raw) // 2], 422, "damaged PDF"),
    "png-named-pdf": (lambda raw: b"\x89PNG\r\n\x1a\n" + bytes(64), 415, "not a PDF"),
    "empty": (lambda raw: b"", 422, "empty file"),
}


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("kind", sorted(HOSTILE_PDFS))
def test_hostile_pdfs_are_skipped_saying_why(seed_pdf, tmp_path, kind):
    make, status, says = HOSTILE_PDFS[kind]
    path = tmp_path / f"{kind}.pdf"
    path.write_bytes(make(seed_pdf.read_bytes()))
    skip = skip_reason(path)
    assert skip.status == status and says in skip.reason, skip.reason


@pytest.mark.slow
@pytest.mark.browser
def test_bytes_spelling_js_inside_a_stream_are_not_a_script(seed_pdf, tmp_path):
    """Compressed or encrypted stream bytes are random and spell ``/JS`` now and then (CI refused an encrypted
    copy as scripted once); a stream's body is data, not a PDF name, so only names outside streams count."""
    path = tmp_path / "attached.pdf"
    path.write_bytes(_rewrite(seed_pdf.read_bytes(), lambda w: w.add_attachment("note.txt", b"see /JS 1 Tf here")))
    assert b"/JS 1 Tf" in path.read_bytes()  # the attachment is stored uncompressed: the bytes are there
    [doc] = read_file(path)
    assert "红旗漫卷绘新篇" in doc.text


def _objstm_pdf(script: bool) -> bytes:
    """A one-page PDF 1.5 whose objects are packed in a compressed object stream (no /JS in its bytes outside
    streams); with ``script``, its page has an open action running JavaScript."""
    import zlib

    packed = {2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
              3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200]"
                 + (b" /AA << /O 5 0 R >>" if script else b"") + b" >>"}
    if script:
        packed[5] = b"<< /S /JavaScript /JS (app.alert(1);) >>"
    header, body = [], b""
    for number, obj in packed.items():
        header.append(f"{number} {len(body)}".encode())
        body += obj + b"\n"
    head = b" ".join(header) + b"\n"
    data = zlib.compress(head + body)
    out = b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n"
    offsets = {1: len(out)}
    out += b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    offsets[6] = len(out)
    out += (f"6 0 obj\n<< /Type /ObjStm /N {len(packed)} /First {len(head)} /Filter /FlateDecode "
            f"/Length {len(data)} >>\nstream\n").encode() + data + b"\nendstream\nendobj\n"
    offsets[7] = len(out)
    index = {number: i for i, number in enumerate(packed)}
    rows = [b"\x00\x00\x00\xff\xff"]
    for number in range(1, 8):
        if number in offsets:
            rows.append(b"\x01" + offsets[number].to_bytes(2, "big") + b"\x00\x00")
        elif number in packed:
            rows.append(b"\x02" + (6).to_bytes(2, "big") + index[number].to_bytes(2, "big"))
        else:
            rows.append(bytes(5))
    xref = b"".join(rows)
    out += (f"7 0 obj\n<< /Type /XRef /Size 8 /W [1 2 2] /Root 1 0 R /Length {len(xref)} >>\nstream\n").encode()
    return out + xref + f"\nendstream\nendobj\nstartxref\n{offsets[7]}\n%%EOF\n".encode()


def test_javascript_packed_in_an_object_stream_is_found(tmp_path):
    """The byte scan skips stream bodies, so a script packed in a compressed object stream is found by decoding
    the object streams: a page's open action here, which neither the catalog checks nor PDFium's document-level
    count see."""
    scripted, plain = tmp_path / "scripted.pdf", tmp_path / "plain.pdf"
    scripted.write_bytes(_objstm_pdf(script=True))
    plain.write_bytes(_objstm_pdf(script=False))
    assert b"/JS" not in re.sub(rb"stream\r?\n.*?endstream", b"", scripted.read_bytes(), flags=re.S)
    assert "JavaScript" in skip_reason(scripted).reason
    assert "JavaScript" not in skip_reason(plain).reason  # the same file without it: only no text to read


@pytest.mark.slow
@pytest.mark.browser
def test_owner_password_only_pdf_is_read(seed_pdf, tmp_path):
    path = tmp_path / "restricted.pdf"
    path.write_bytes(_rewrite(seed_pdf.read_bytes(), lambda w: w.encrypt(user_password="", owner_password="own")))
    [doc] = read_file(path)
    assert "红旗漫卷绘新篇" in doc.text


# ----------------------------------------------------------------------------------------- ocr


def _text_image(lines: list[str]):
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 32)
    image = Image.new("RGB", (1000, 80 + 70 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((30, 40 + 70 * i), line, font=font, fill="black")
    return image


OCR_LINES = ["荆州二医累计接诊发热患者近4000人次。", "骨科主任张三，床位数40张。"]


@pytest.mark.slow
def test_image_is_read_by_ocr(tmp_path):
    pytest.importorskip("rapidocr_onnxruntime", reason="the ocr extra (make installs it)")
    path = tmp_path / "scan.png"
    _text_image(OCR_LINES).save(path)
    [doc] = read_file(path)
    assert doc.format == "image" and doc.pages == [0]
    assert squeeze(doc.text) == squeeze("".join(OCR_LINES)).replace("，", "，")


@pytest.mark.slow
def test_scanned_pdf_page_is_read_by_ocr(tmp_path):
    pytest.importorskip("rapidocr_onnxruntime", reason="the ocr extra (make installs it)")
    path = tmp_path / "scanned.pdf"
    _text_image(OCR_LINES).save(path, "PDF", resolution=100.0)  # an image-only page: no text layer
    [doc] = read_file(path)
    assert "近4000人次" in doc.text and "张三" in doc.text


def test_without_ocr_a_scan_says_it_needs_ocr(tmp_path, monkeypatch):
    from qa.ingest.readers import ocr

    monkeypatch.setattr(ocr, "available", lambda: False)
    path = tmp_path / "scanned.pdf"
    _text_image(OCR_LINES).save(path, "PDF", resolution=100.0)
    assert skip_reason(path).reason.startswith("no text layer (needs OCR")
    image = tmp_path / "scan.png"
    _text_image(OCR_LINES).save(image)
    assert "needs OCR" in skip_reason(image).reason


def test_image_whose_content_lies(tmp_path):
    pytest.importorskip("rapidocr_onnxruntime", reason="the ocr extra (make installs it)")
    path = tmp_path / "photo.jpg"
    path.write_text(html_page(article(SMALL)), encoding="utf-8")
    assert skip_reason(path).status == 415


# ---------------------------------------------------------------------------------- markdown file


def test_markdown_seed_with_table(tmp_path):
    a = article(SMALL)
    path = write_markdown(a, tmp_path / "seed.md", table=[["科室", "主任"], ["骨科", "张三"]])
    [doc] = read_file(path)
    assert "骨科 主任 张三。" in doc.text
    assert doc.title == a.title
    assert any(p.section and p.section.startswith(a.title) for p in split_passages(doc))
