"""Saved web pages: the main content only (trafilatura drops navigation, scripts, styles, sidebars and
footers), as Markdown, so headings become sections and tables row lines like a .md file."""

from __future__ import annotations

import logging
from pathlib import Path

from ..extracted import ExtractedDocument, Skip
from ._text import decode, read_bytes
from .markdown import from_markdown

MAX_HTML_BYTES = 20 * 2**20
logging.getLogger("trafilatura").setLevel(logging.ERROR)


class HtmlReader:
    name = "html"
    suffixes = (".html", ".htm")

    def read(self, path: Path) -> ExtractedDocument:
        import trafilatura

        raw = read_bytes(path)
        if not raw.strip():
            raise Skip("empty file")
        if len(raw) > MAX_HTML_BYTES:
            raise Skip(f"web page over {MAX_HTML_BYTES // 2**20} MiB", 413)
        text, encoding = decode(raw)
        if "<" not in text:
            raise Skip("not a web page: no HTML markup", 415)
        body = trafilatura.extract(_without_boilerplate(text), output_format="markdown", include_tables=True,
                                   include_comments=False, include_images=False, include_links=False,
                                   favor_recall=True, deduplicate=False)
        if not body or not body.strip():
            raise Skip("no main text found in the web page")
        metadata = trafilatura.extract_metadata(text)
        doc = from_markdown(body.strip() + "\n", encoding, self.name)
        title = (metadata.title if metadata and metadata.title else None) or doc.title
        doc.title = title.strip() if title else None
        return doc


BOILERPLATE = ("//nav", "//footer", "//aside", "//script", "//style", "//noscript", "//form", "//template",
               "//header[not(ancestor::article) and not(ancestor::main)]")  # an article's own header stays


def _without_boilerplate(html: str) -> str:
    """The page with the elements HTML marks as not main content taken out first (trafilatura's heuristics
    keep a short page's navigation bar, favouring recall)."""
    import lxml.html

    try:
        tree = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return html
    for element in tree.xpath("|".join(BOILERPLATE)):
        if element.getparent() is not None:
            element.drop_tree()
    return lxml.html.tostring(tree, encoding="unicode")
