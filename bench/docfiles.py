"""Real PDF, DOCX, HTML and Markdown files made from the seed articles (for the PDF-reader benchmark and tests).

PDFs come from Debian's Chromium printing an HTML page (Playwright's ``page.pdf()``, CJK font
fonts-wqy-microhei), so they have a real text layer laid out by a real engine: lines wrap where the page
is full, and a two-column layout puts text side by side. DOCX files come from python-docx, HTML pages carry
navigation, scripts, styles and a footer around the article, Markdown has headings and a table.

Each article becomes blocks: its title (``h1``), then one block per blank-line-separated stretch of the
.txt, wrapped lines rejoined, where a short stretch without a sentence end is a heading (``h2``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
_ENDS = re.compile(r"[。！？；…”」）!?;]$")


@dataclass
class Article:
    """A seed article as a title and blocks (``("h2", text)`` or ``("p", text)``)."""

    doc_id: str
    title: str
    blocks: list[tuple[str, str]]


def article(path: Path) -> Article:
    """Read a seed .txt into blocks, wrapped lines rejoined."""
    from qa.ingest.documents import load_documents, normalize_whitespace

    [doc] = load_documents([path])
    blocks: list[tuple[str, str]] = []
    for raw in re.split(r"\n\s*\n", doc.text):
        text = normalize_whitespace(raw.lstrip("# "))
        if not text or text == doc.title.replace(" ", ""):
            continue
        kind = "h2" if len(text) <= 40 and not _ENDS.search(text) else "p"
        blocks.append((kind, text))
    return Article(doc.id, doc.title, blocks)


def articles(folder: Path) -> list[Article]:
    return [article(p) for p in sorted(folder.glob("*.txt"))]


def html_page(a: Article, *, boilerplate: bool = False, columns: int = 1) -> str:
    """The article as an HTML page; with ``boilerplate``, inside navigation, scripts, styles and a footer."""
    body = "\n".join(f"<{k}>{html.escape(t)}</{k}>" for k, t in a.blocks)
    style = (
        "body{font-family:'WenQuanYi Micro Hei',sans-serif;font-size:14px;line-height:1.6;margin:0}"
        f"article{{column-count:{columns};column-gap:2em}} h1{{font-size:22px}} h2{{font-size:16px}}"
    )
    if not boilerplate:
        return (f"<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>{html.escape(a.title)}"
                f"</title><style>{style}</style></head><body><article><h1>{html.escape(a.title)}</h1>\n{body}"
                "</article></body></html>")
    nav = "".join(f"<li><a href='/c/{i}'>{name}</a></li>" for i, name in enumerate(
        ["首页", "新闻中心", "医院概况", "科室导航", "专家介绍", "就医指南", "联系我们"]))
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(a.title)} - 健康报网</title>
<style>{style} .menu li{{display:inline}}</style>
<script>window.dataLayer=[];function track(){{console.log("统计代码：访问量加一");}}</script>
</head><body>
<header><div class="logo">健康报网</div><nav class="menu"><ul>{nav}</ul></nav>
<form class="search"><input name="q" placeholder="站内搜索"><button>搜索</button></form></header>
<aside class="sidebar"><h3>热点推荐</h3><ul><li><a href="/x/1">夏季养生小常识</a></li>
<li><a href="/x/2">专家提醒：秋冬季节注意防寒保暖，预防呼吸道疾病</a></li></ul></aside>
<main><article><h1>{html.escape(a.title)}</h1><p class="meta">来源：健康报 发布时间：2021-03-05</p>
{body}
</article></main>
<footer><p>版权所有 © 健康报网 京ICP备12345678号 地址：北京市海淀区某某路1号 电话：010-12345678</p>
<p><a href="/about">关于我们</a> | <a href="/ad">广告服务</a> | <a href="/privacy">隐私政策</a></p></footer>
<script>track();</script>
</body></html>
"""


def write_pdfs(items: Sequence[Article], folder: Path, *, columns: int = 1, browser=None) -> list[Path]:
    """Print each article to ``folder/<doc_id>.pdf`` with Chromium (A4, text layer, CJK font)."""
    from playwright.sync_api import sync_playwright

    folder.mkdir(parents=True, exist_ok=True)
    out = []

    def run(chromium) -> None:
        context = chromium.new_context()
        page = context.new_page()
        for a in items:
            page.set_content(html_page(a, columns=columns), wait_until="load")
            path = folder / f"{a.doc_id}.pdf"
            page.pdf(path=str(path), format="A4", margin={"top": "2cm", "bottom": "2cm", "left": "2cm",
                                                          "right": "2cm"})
            out.append(path)
        context.close()

    if browser is not None:
        run(browser)
        return out
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
                                              timeout=60_000)
        try:
            run(chromium)
        finally:
            chromium.close()
    return out


def write_docx(a: Article, path: Path) -> Path:
    """The article as a Word file: a Title, Heading 2 headings, body paragraphs and, when given, a table."""
    import docx

    document = docx.Document()
    document.add_heading(a.title, level=1)
    for kind, text in a.blocks:
        if kind == "h2":
            document.add_heading(text, level=2)
        else:
            document.add_paragraph(text)
    document.save(str(path))
    return path


def write_html(a: Article, path: Path) -> Path:
    path.write_text(html_page(a, boilerplate=True), encoding="utf-8")
    return path


def write_markdown(a: Article, path: Path, table: Iterable[Sequence[str]] | None = None) -> Path:
    lines = [f"# {a.title}", ""]
    for kind, text in a.blocks:
        lines += [f"## {text}" if kind == "h2" else text, ""]
    if table:
        rows = [list(r) for r in table]
        lines += ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        lines += ["| " + " | ".join(r) + " |" for r in rows[1:]] + [""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
