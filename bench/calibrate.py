"""Calibrate the "found / not found" decision on labelled questions and write ``qa/calibration.json``.

Positives (should be answered):
  * the answerable items of ``tests/data/seed_qa.jsonl`` against the seeds index;
  * a sample of XQuAD questions (Chinese and English) against the XQuAD index.
Negatives (should be refused):
  * the unanswerable items of ``seed_qa.jsonl`` (same hospitals, facts that are not there);
  * CMRC 2018 and XQuAD questions asked against the seeds index (other topics entirely).

The rule is ``dense >= dense_min or (coverage >= coverage_min and dense >= dense_with_coverage_min)``
over the best three passages (dense = best sentence cosine, coverage = idf-weighted share of the
question's keywords present; for English questions, the share of their dictionary-known words with a
Chinese rendering present), with separate thresholds for English questions, after the fixed
unknown-term rule (qa/terms.py), which refuses a Chinese question naming something, or counting
something, that the documents never mention. The grid search keeps rules that refuse at
least 99% of the off-topic negatives and among them answers the most positives (the worse of the
two positive groups first), then refuses the most seed unanswerables.

    .venv/bin/python -m bench.calibrate [--sample 300]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
from dataclasses import asdict
from pathlib import Path

import numpy as np

from embeddings import load_embedder
from qa.evaluation import load_queries, read_jsonl
from qa.index.store import build_index, load_index
from qa.search.retriever import CALIBRATION_FILE, Calibration, Retriever
from qa.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval"


def features(retriever: Retriever, questions: list[str]) -> np.ndarray:
    rows = []
    for q in questions:
        hits = retriever.search(q, 5)
        top = hits[:3]
        rows.append((max((h.dense for h in top), default=0.0), max((h.coverage for h in top), default=0.0),
                     float(bool(retriever.unknown_terms(q)))))
    return np.array(rows)


def refused(f: np.ndarray, d: float, c: float, dc: float) -> np.ndarray:  # noqa: D103
    return (f[:, 2] > 0) | ~((f[:, 0] >= d) | ((f[:, 1] >= c) & (f[:, 0] >= dc)))


def report(zh: dict, en: dict, names: dict, rules: tuple) -> None:
    """Print what ``rules`` (Chinese rule, English rule) answer and refuse in each group."""
    for lang, groups, rule in (("zh", zh, rules[0]), ("en", en, rules[1])):
        for kind in ("pos", "off"):
            for name, f in zip(names[kind][-len(groups[kind]):], groups[kind], strict=True):
                r = refused(f, *rule).mean()
                print(f"  {lang} {kind} {name:22s} {'answered' if kind == 'pos' else 'refused'} "
                      f"{1 - r if kind == 'pos' else r:.3f} (n={len(f)})")
        print(f"  {lang} hard unanswerable refused {int(refused(groups['hard'], *rule).sum())}/{len(groups['hard'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=int, default=300, help="benchmark questions per group")
    parser.add_argument("--write", action="store_true", help="write qa/calibration.json")
    args = parser.parse_args()
    rng = random.Random(13)
    settings = Settings()
    embedder = load_embedder(settings.model, cache_dir=settings.cache_dir)
    base = Calibration.load()

    def index_for(name: str, sources: list[Path]) -> Retriever:
        path = settings.cache_dir / "eval-indexes" / f"calibrate-{name}"
        build_index(sources, path, embedder, cache_dir=settings.cache_dir)
        return Retriever(embedder, load_index(path, embedder), base)

    seeds = index_for("seeds", [ROOT / "seeds"])
    xquad = index_for("xquad", [EVAL / "xquad_zh" / "corpus.jsonl"])
    seed_q = load_queries(ROOT / "tests" / "data" / "seed_qa.jsonl")
    xq_zh = rng.sample([q["text"] for q in read_jsonl(EVAL / "xquad_zh" / "queries.zh.jsonl")], args.sample)
    xq_en = rng.sample([q["text"] for q in read_jsonl(EVAL / "xquad_zh" / "queries.en.jsonl")], args.sample)
    cmrc = rng.sample([q["text"] for q in read_jsonl(EVAL / "cmrc2018_dev" / "queries.jsonl")], args.sample)

    seed_pos = [q for q in seed_q if q.answerable]
    seed_neg = [q for q in seed_q if not q.answerable]
    zh = {
        "pos": [features(seeds, [q.text for q in seed_pos if q.lang == "zh"]), features(xquad, xq_zh)],
        "off": [features(seeds, cmrc), features(seeds, xq_zh)],
        "hard": features(seeds, [q.text for q in seed_neg if q.lang == "zh"]),
    }
    en = {
        "pos": [features(seeds, [q.text for q in seed_pos if q.lang != "zh"]), features(xquad, xq_en)],
        "off": [features(seeds, xq_en)],
        "hard": features(seeds, [q.text for q in seed_neg if q.lang != "zh"]),
    }
    names = {"pos": ["seeds", "xquad"], "off": ["cmrc on seeds", "xquad on seeds"]}
    for lang, groups in (("zh", zh), ("en", en)):
        for kind in ("pos", "off"):
            for name, f in zip(names[kind][-len(groups[kind]):], groups[kind], strict=True):
                print(f"{lang} {kind} {name:22s} dense p5/p50/p95 {np.percentile(f[:, 0], [5, 50, 95]).round(3)}"
                      f"  coverage p5/p50/p95 {np.percentile(f[:, 1], [5, 50, 95]).round(2)}")
        hard = groups["hard"]
        print(f"{lang} hard unanswerable        dense {hard[:, 0].round(3)} coverage {hard[:, 1].round(2)}"
              f" unknown term {hard[:, 2].astype(bool)}")

    def search(groups, grid):
        off = np.vstack(groups["off"])
        best = None
        for d, c, dc in grid:
            if dc > d:
                continue
            if refused(off, d, c, dc).mean() < 0.99:
                continue
            answered = [1 - refused(g, d, c, dc).mean() for g in groups["pos"]]
            key = (round(min(answered), 3), float(np.mean(answered)), refused(groups["hard"], d, c, dc).sum())
            if best is None or key > best[0]:
                best = (key, (round(float(d), 3), round(float(c), 2), round(float(dc), 3)))
        if best is None:
            raise SystemExit("no rule meets the refusal constraints")
        return best[1]

    dense_grid = np.arange(0.70, 0.95, 0.005)
    d, c, dc = search(zh, itertools.product(dense_grid, np.arange(0.3, 1.01, 0.05), dense_grid))
    ed, ec, edc = search(en, itertools.product(dense_grid, np.arange(0.2, 1.01, 0.05), dense_grid))
    current = ((base.dense_min, base.coverage_min, base.dense_with_coverage_min),
               (base.cross_lingual_dense_min, base.cross_lingual_coverage_min,
                base.cross_lingual_dense_with_coverage_min))
    for title, rules in (("current (qa/calibration.json)", current), ("chosen", ((d, c, dc), (ed, ec, edc)))):
        print(f"\n{title}: Chinese {rules[0]}, English {rules[1]} (dense_min, coverage_min, dense_with_coverage_min)")
        report(zh, en, names, rules)
    if args.write:
        cal = asdict(base) | {"dense_min": d, "coverage_min": c, "dense_with_coverage_min": dc,
                              "cross_lingual_dense_min": ed, "cross_lingual_coverage_min": ec,
                              "cross_lingual_dense_with_coverage_min": edc}
        CALIBRATION_FILE.write_text(json.dumps(cal, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {CALIBRATION_FILE}")


if __name__ == "__main__":
    main()
