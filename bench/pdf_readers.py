"""Which PDF library reads Chinese PDFs best: pypdf vs pdfplumber vs pypdfium2, reading order and speed.

The five seed articles are printed by Chromium (bench/docfiles.py) in one column and in two columns (text
side by side, the harder case for reading order). For each library and layout:

* **order**: the share of the article's sentences (whitespace removed, ≥ 8 characters) found in the extracted
  text (whitespace removed) *in the article's order* (the longest chain of sentences found at increasing
  positions, over all sentences): 1.0 = every sentence present, whole and in order;
* **chars**: the share of the article's non-whitespace characters the extraction has (a library that drops or
  doubles text shows here);
* **ms/page**: wall time to open and extract every page, best of 3.

    python -m bench.pdf_readers            # writes bench/results/pdf_readers.json and prints a table
"""

from __future__ import annotations

import bisect
import json
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ._common import RESULTS, SEEDS, machine
from .docfiles import articles, write_pdfs

_WS = re.compile(r"\s+")


def _pypdf(path: Path) -> list[str]:
    import pypdf

    return [page.extract_text() or "" for page in pypdf.PdfReader(str(path)).pages]


def _pdfplumber(path: Path) -> list[str]:
    import pdfplumber

    with pdfplumber.open(str(path)) as pdf:
        return [page.extract_text() or "" for page in pdf.pages]


def _pypdfium2(path: Path) -> list[str]:
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(path))
    try:
        return [pdf[i].get_textpage().get_text_bounded() for i in range(len(pdf))]
    finally:
        pdf.close()


LIBRARIES: dict[str, Callable[[Path], list[str]]] = {
    "pypdf": _pypdf, "pdfplumber": _pdfplumber, "pypdfium2": _pypdfium2,
}


def _sentences(blocks: list[tuple[str, str]]) -> list[str]:
    out = []
    for _, text in blocks:
        out += [s for s in re.split(r"(?<=[。！？；])", _WS.sub("", text)) if len(s) >= 8]
    return out


def order_score(sentences: list[str], extracted: str) -> float:
    """Longest chain of sentences found at increasing positions in ``extracted``, over all sentences."""
    flat = _WS.sub("", extracted)
    positions = [flat.find(s) for s in sentences]
    tails: list[int] = []  # longest increasing subsequence of the positions found
    for p in positions:
        if p < 0:
            continue
        i = bisect.bisect_left(tails, p)
        tails[i:i + 1] = [p]
    return len(tails) / max(1, len(sentences))


def measure(columns: int, folder: Path) -> dict:
    items = articles(SEEDS)
    pdfs = write_pdfs(items, folder / f"c{columns}", columns=columns)
    results = {}
    for name, extract in LIBRARIES.items():
        orders, chars, seconds, pages = [], [], 0.0, 0
        for a, pdf in zip(items, pdfs, strict=True):
            best = float("inf")
            for _ in range(3):
                started = time.perf_counter()
                texts = extract(pdf)
                best = min(best, time.perf_counter() - started)
            seconds += best
            pages += len(texts)
            text = "\n".join(texts)
            orders.append(order_score(_sentences(a.blocks), text))
            want = len(_WS.sub("", a.title + "".join(t for _, t in a.blocks)))
            chars.append(len(_WS.sub("", text)) / want)
        results[name] = {
            "order": round(sum(orders) / len(orders), 3), "order_min": round(min(orders), 3),
            "chars": round(sum(chars) / len(chars), 3), "ms_per_page": round(1000 * seconds / pages, 1),
            "pages": pages,
        }
    return results


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        figures = {f"{c} column{'s' if c > 1 else ''}": measure(c, Path(tmp)) for c in (1, 2)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pdf_readers.json").write_text(
        json.dumps({"machine": machine(), "results": figures}, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    print("| layout | library | order (mean / worst) | chars | ms/page |")
    print("|---|---|---:|---:|---:|")
    for layout, rows in figures.items():
        for name, r in rows.items():
            print(f"| {layout} | {name} | {r['order']:.3f} / {r['order_min']:.3f} | {r['chars']:.3f} | "
                  f"{r['ms_per_page']:.1f} |")


if __name__ == "__main__":
    main()
