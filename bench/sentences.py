"""Train and measure the answer-sentence ranker (qa/search/models/sentence.json + sentence.lgb.txt).

For every answerable question of the public sets (and the seed dev questions), the candidates are the
sentence units of its best passages (qa.search.sentences.candidates); a candidate is right when it contains
the gold answer (benchmark rule of shared/eval/evaluate.py; for the seed files, an evidence string). A
LightGBM lambdarank model is trained per question group. Reported: the share of questions whose chosen sentence
is right, hand-set score vs ranker, leave-one-group-out (trained without a group, measured on it).

    python -m bench.sentences            # collect (cached) and report
    python -m bench.sentences --write    # ... and write the shipped ranker
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict

import numpy as np

from embeddings import load_embedder
from qa.evaluation.benchmark import HitRule, load_queries, read_jsonl
from qa.search.answer import question_asks
from qa.search.sentences import FEATURES, MODEL_DIR, SENTENCE_FILE, candidates, hand_score
from qa.settings import Settings

from ._common import EVAL, SEED_QA, SEEDS
from .decision import SEED_DEV, QueryVectors, _index, code_stamp, mark, stamped

PARAMS = {"objective": "lambdarank", "metric": "ndcg", "ndcg_eval_at": [1], "learning_rate": 0.05, "num_leaves": 15,
          "min_data_in_leaf": 30, "feature_fraction": 0.9, "lambda_l2": 1.0, "verbose": -1, "seed": 7,
          "num_threads": 2}
ROUNDS = 300


def _collect(retriever, queries, rule: HitRule, vectors: QueryVectors, group: str) -> list[dict]:
    qvecs = vectors.get([retriever.dense_text(q.text) for q in queries])
    out = []
    for q, qvec in zip(queries, qvecs, strict=True):
        hits = retriever.search(q.text, 10, qvec=qvec)
        cands = candidates(retriever, q.text, hits, qvec, question_asks(retriever, q.text))
        if not cands:
            continue
        docs = retriever.index.documents
        labels = [int(rule.hit(q, docs[c.hit.passage.doc_id].text[c.start:c.end])) for c in cands]
        out.append({"group": group, "id": q.id, "lang": q.lang, "labels": labels,
                    "features": [[c.values[f] for f in FEATURES] for c in cands]})
    return out


def collect(settings: Settings, refresh: bool = False) -> list[dict]:
    """Every question's candidates, cached in .cache/decision/sentences.jsonl with the code stamp it was
    collected under (``refresh``, or other code, recomputes)."""
    path = settings.cache_dir / "decision" / "sentences.jsonl"
    stamp = code_stamp("reader", collectors=(QueryVectors, _index, _collect), data=SEED_DEV)
    if not refresh and stamped(path, stamp):
        return read_jsonl(path)
    embedder = load_embedder(settings.model, cache_dir=settings.cache_dir, backend=settings.backend)
    vectors = QueryVectors(embedder, settings.cache_dir / "decision")
    started = time.time()
    seeds = _index("seeds", None, [SEEDS], settings, embedder)
    dev = [q for path in SEED_DEV for q in load_queries(path)]
    queries = [q for q in load_queries(SEED_QA) + dev if q.answerable]
    rows = _collect(seeds, queries, HitRule({}), vectors, "seeds")
    for name, corpus, query_paths in (
        ("xquad", EVAL / "xquad_zh" / "corpus.jsonl",
         [EVAL / "xquad_zh" / "queries.zh.jsonl", EVAL / "xquad_zh" / "queries.en.jsonl"]),
        ("cmrc", EVAL / "cmrc2018_dev" / "corpus.jsonl", [EVAL / "cmrc2018_dev" / "queries.jsonl"]),
        ("drcd", EVAL / "drcd_dev" / "corpus.jsonl", [EVAL / "drcd_dev" / "queries.jsonl"]),
    ):
        corpus_rows = read_jsonl(corpus)
        retriever = _index(f"{name}-full", corpus_rows, [], settings, embedder)
        rule = HitRule({r["id"]: r["text"] for r in corpus_rows})
        for qp in query_paths:
            rows += _collect(retriever, load_queries(qp), rule, vectors, name)
        print(f"{name}: {len(rows)} questions ({time.time() - started:.0f}s)", file=sys.stderr)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    mark(path, stamp)
    return rows


def train(rows: list[dict]):
    import lightgbm

    rows = [r for r in rows if any(r["labels"])]
    x = np.array([f for r in rows for f in r["features"]], dtype=np.float64)
    y = [label for r in rows for label in r["labels"]]
    data = lightgbm.Dataset(x, label=y, group=[len(r["labels"]) for r in rows], feature_name=list(FEATURES),
                            categorical_feature=["kind_asked"], free_raw_data=False)
    return lightgbm.train(PARAMS, data, num_boost_round=ROUNDS)


def _hand(features: list[float]) -> float:
    from qa.search.sentences import Candidate

    return hand_score(Candidate(None, 0, 0, features[0], dict(zip(FEATURES, features, strict=True))))


def measure(rows: list[dict], booster=None) -> dict:
    """Share of questions whose chosen candidate contains the answer, per group (all questions with
    candidates count, also those none of whose candidates is right)."""
    by_group: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        feats = r["features"]
        if booster is not None:
            scores = booster.predict(np.array(feats, dtype=np.float64))
        else:
            scores = [_hand(f) for f in feats]
        by_group[r["group"]].append(r["labels"][int(np.argmax(scores))])
    return {g: {"n": len(v), "right": round(sum(v) / len(v), 4)} for g, v in sorted(by_group.items())}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--refresh", action="store_true")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    settings = Settings()
    rows = collect(settings, refresh=args.refresh)
    groups = sorted({r["group"] for r in rows})
    print(json.dumps({"questions": Counter(r["group"] for r in rows),
                      "ceiling (any candidate right)": {g: round(np.mean([any(r["labels"]) for r in rows
                                                                          if r["group"] == g]), 4)
                                                        for g in groups}}))
    report = {"hand-set": measure(rows)}
    held_out = {}
    for group in groups:
        train_rows = [r for r in rows if r["group"] != group]
        test_rows = [r for r in rows if r["group"] == group]
        if train_rows and test_rows:
            held_out.update(measure(test_rows, train(train_rows)))
    report["ranker, leave-one-group-out"] = held_out
    print(json.dumps(report, indent=1))
    if args.write:
        booster = train(rows)
        MODEL_DIR.mkdir(exist_ok=True)
        booster.save_model(str(MODEL_DIR / "sentence.lgb.txt"))
        meta = {"model_file": "sentence.lgb.txt", "features": list(FEATURES), "params": PARAMS, "rounds": ROUNDS,
                "recipe": "python -m bench.sentences --write", "backend": settings.backend,
                "trained_on": dict(Counter(r["group"] for r in rows)), **report}
        SENTENCE_FILE.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {SENTENCE_FILE}")


if __name__ == "__main__":
    main()
