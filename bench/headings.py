"""Headings and captions joined to the next passage vs standing alone: Recall@5 on the seeds and XQuAD zh.

Before this change every heading, byline and caption was a passage of its own, and fragments such as the
seeds' 结合医院市中西医 ranked first for some questions. Both ways are built side by side (same model, same
cache) and asked the same questions.

    python -m bench.headings [--sets seed_qa,xquad_zh]   # writes bench/results/headings.json, prints a table
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from unittest import mock

from qa import evaluation
from qa.index.build import build_index
from qa.index.store import load_index
from qa.ingest import documents
from qa.search.retriever import Retriever
from qa.settings import Settings

from ._common import EVAL, RESULTS, SEED_QA, SEEDS, machine

SETS = {
    "seed_qa": ([SEEDS], SEED_QA),
    "xquad_zh": ([EVAL / "xquad_zh" / "corpus.jsonl"], EVAL / "xquad_zh" / "queries.zh.jsonl"),
}


def measure(merge: bool, sources: list[Path], queries: Path, embedder, cache_dir: Path, tmp: Path) -> dict:
    original = documents.split_passages

    def split(doc, **kw):
        return original(doc, **{**kw, "merge_headings": merge})

    index_dir = tmp / f"{queries.stem}-{merge}"
    with mock.patch("qa.index.build.split_passages", split):
        build_index(sources, index_dir, embedder, cache_dir=cache_dir, force=True)
    index = load_index(index_dir, embedder)
    corpus = {}
    for path in sources:
        if path.suffix == ".jsonl":
            corpus.update({row["id"]: row["text"] for row in evaluation.read_jsonl(path)})
    rows = evaluation.run(Retriever(embedder, index), evaluation.load_queries(queries), evaluation.HitRule(corpus))
    summary = evaluation.summarize(rows)
    headings = sum(p.kind == "heading" for p in index.passages)
    return {"passages": len(index.passages), "heading_passages": headings, "summary": summary}


def main() -> None:
    import argparse

    from embeddings import load_embedder

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated: " + ", ".join(SETS))
    chosen = parser.parse_args().sets.split(",")

    settings = Settings()
    embedder = load_embedder(settings.model, cache_dir=settings.cache_dir, backend=settings.backend)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (sources, queries) in SETS.items():
            if name not in chosen or not all(p.exists() for p in [*sources, queries]):
                continue
            for merge in (False, True):
                results[f"{name} {'merged' if merge else 'alone'}"] = measure(
                    merge, sources, queries, embedder, settings.cache_dir, Path(tmp))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "headings.json").write_text(json.dumps({"machine": machine(), "results": results},
                                                      ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    for name, r in results.items():
        print(name, r["passages"], r["heading_passages"], json.dumps(r["summary"], ensure_ascii=False,
                                                                      default=str)[:400])


if __name__ == "__main__":
    main()
