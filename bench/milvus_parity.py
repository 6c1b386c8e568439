"""Same answers from Milvus as from FAISS, and can Milvus's own BM25 serve the keyword leg?

For seed_qa and XQuAD (zh and en questions over the same corpus), each corpus is built twice with the real
model (one embedding cache, so the second build embeds nothing): FAISS and Milvus Lite. Every question is
encoded once and asked of both through the same retriever; Recall@1/@5 and how many top-5 lists are
identical are reported.

Then the keyword leg: a Milvus collection with a BM25 function over the passage text (the jieba tokenizer
that Milvus's "chinese" analyzer is built on; Milvus Lite has no "chinese" analyzer type and says so) is
searched with every question, and its Recall@1/@5 compared with our keyword leg alone (BM25 over folded
character bigrams) and its latency measured.

    nice -n 10 .venv/bin/python -m bench.milvus_parity            # ~15 min on two busy cores
    .venv/bin/python -m bench.milvus_parity --sets seed            # seed_qa only, ~2 min
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from ._common import EVAL, ROOT, SEED_QA, SEEDS, machine, percentile, table, write_results

SETS = {
    "seed": ([SEEDS], [SEED_QA]),
    "xquad": ([EVAL / "xquad_zh" / "corpus.jsonl"],
              [EVAL / "xquad_zh" / "queries.zh.jsonl", EVAL / "xquad_zh" / "queries.en.jsonl"]),
}


def recall(rows, k: int) -> float:
    rows = [r for r in rows if r.query.answerable]
    return sum(1 for r in rows if r.rank and r.rank <= k) / max(1, len(rows))


def milvus_bm25(passages, uri: str, name: str, analyzer: dict):
    """A Milvus collection of the passages with a BM25 function; returns (client, collection)."""
    from pymilvus import DataType, Function, FunctionType

    from embeddings.stores.milvus import client, collection_name

    milvus = client(uri)
    collection = collection_name(name)
    if milvus.has_collection(collection):
        milvus.drop_collection(collection)
    schema = milvus.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("text", DataType.VARCHAR, max_length=65535, enable_analyzer=True, analyzer_params=analyzer)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                                 output_field_names=["sparse"]))
    index = milvus.prepare_index_params()
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    milvus.create_collection(collection, schema=schema, index_params=index)
    for start in range(0, len(passages), 2000):
        block = passages[start : start + 2000]
        milvus.insert(collection, [{"id": start + i, "text": p.text} for i, p in enumerate(block)])
    milvus.flush(collection)
    milvus.load_collection(collection)
    return milvus, collection


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="seed,xquad")
    args = parser.parse_args()

    from embeddings import load_embedder
    from qa import evaluation
    from qa.index.store import load_index
    from qa.search.retriever import Retriever
    from qa.settings import Settings

    try:
        from qa.index.build import build_index
    except ImportError:  # before the index package was split
        from qa.index.build import build_index

    settings = Settings()
    embedder = load_embedder(settings.model, cache_dir=settings.cache_dir, backend=settings.backend)
    tmp_ctx = tempfile.TemporaryDirectory(prefix="bench-milvus-")
    tmp = Path(tmp_ctx.name)
    uri = str(tmp / "milvus.db")
    results: dict = {"machine": machine(), "sets": {}}
    rows_out, bm25_rows = [], []
    for set_name in [s for s in args.sets.split(",") if s]:
        sources, query_files = SETS[set_name]
        corpus = {}
        for path in sources:
            if path.suffix == ".jsonl":
                corpus.update({row["id"]: row["text"] for row in evaluation.read_jsonl(path)})
        rule = evaluation.HitRule(corpus)
        indexes = {}
        for store in ("faiss", "milvus"):
            config = {"backend": store, "uri": uri} if store == "milvus" else {"backend": "faiss"}
            index_dir = tmp / f"{set_name}-{store}"
            started = time.perf_counter()
            build_index(sources, index_dir, embedder, cache_dir=settings.cache_dir, vector_store=config)
            print(f"{set_name} {store}: built in {time.perf_counter() - started:.0f}s", file=sys.stderr)
            if store == "milvus":
                import os

                os.environ["QA_VECTOR_STORE"], os.environ["QA_MILVUS_URI"] = "milvus", uri
            indexes[store] = load_index(index_dir, embedder)
        passages = indexes["faiss"].passages
        analyzer = {"tokenizer": "jieba"}
        try:
            milvus, collection = milvus_bm25(passages, uri, f"bm25_{set_name}", analyzer)
        except Exception as exc:  # recorded, not fatal: the finding is that it is unavailable
            milvus, collection = None, None
            results.setdefault("bm25_errors", []).append(f"{set_name}: {exc}")
        try:
            milvus_bm25(passages[:2], uri, f"bm25_probe_{set_name}", {"type": "chinese"})
            results["chinese_analyzer"] = "accepted"
        except Exception as exc:
            results["chinese_analyzer"] = str(exc).strip().splitlines()[0][:300]
        for qfile in query_files:
            queries = evaluation.load_queries(qfile)
            label = f"{set_name} {qfile.stem}"
            started = time.perf_counter()
            qvecs = embedder.embed_queries([q.text for q in queries])
            print(f"{label}: {len(queries)} questions encoded in {time.perf_counter() - started:.0f}s",
                  file=sys.stderr)
            entry: dict = {"questions": len(queries)}
            tops = {}
            for store, index in indexes.items():
                retriever = Retriever(embedder, index)
                rows = evaluation.run(retriever, queries, rule, k=10, qvecs=qvecs)
                entry[store] = {"R@1": recall(rows, 1), "R@5": recall(rows, 5),
                                "p50_ms": percentile([r.latency_s * 1000 for r in rows], 50)}
                tops[store] = [r.top for r in rows]
                if store == "faiss":
                    keyword_rows = evaluation.run(retriever, queries, rule, legs="keyword", k=10, qvecs=qvecs)
                    entry["keyword_leg"] = {"R@1": recall(keyword_rows, 1), "R@5": recall(keyword_rows, 5)}
            entry["same_top3"] = sum(a == b for a, b in zip(tops["faiss"], tops["milvus"], strict=True))
            if milvus is not None:
                ranks, times = [], []
                for q in queries:
                    started = time.perf_counter()
                    hits = milvus.search(collection, data=[q.text], anns_field="sparse", limit=10,
                                         output_fields=["id"])[0]
                    times.append((time.perf_counter() - started) * 1000)
                    texts = [passages[int(h["id"])].text for h in hits]
                    ranks.append(next((i for i, t in enumerate(texts, 1) if rule.hit(q, t)), None))
                answerable = [r for r, q in zip(ranks, queries, strict=True) if q.answerable]
                entry["milvus_bm25"] = {
                    "R@1": sum(1 for r in answerable if r and r <= 1) / max(1, len(answerable)),
                    "R@5": sum(1 for r in answerable if r and r <= 5) / max(1, len(answerable)),
                    "p50_ms": percentile(times, 50), "p99_ms": percentile(times, 99),
                }
            results["sets"][label] = entry
            write_results("milvus_parity", results)
            rows_out.append([label, len(queries), round(entry["faiss"]["R@1"], 3), round(entry["milvus"]["R@1"], 3),
                             round(entry["faiss"]["R@5"], 3), round(entry["milvus"]["R@5"], 3),
                             f"{entry['same_top3']}/{len(queries)}", round(entry["faiss"]["p50_ms"], 1),
                             round(entry["milvus"]["p50_ms"], 1)])
            if "milvus_bm25" in entry:
                bm25_rows.append([label, round(entry["keyword_leg"]["R@1"], 3), round(entry["keyword_leg"]["R@5"], 3),
                                  round(entry["milvus_bm25"]["R@1"], 3), round(entry["milvus_bm25"]["R@5"], 3),
                                  round(entry["milvus_bm25"]["p50_ms"], 1)])
    path = write_results("milvus_parity", results)
    tmp_ctx.cleanup()
    print("## FAISS vs Milvus Lite, hybrid retrieval, same question vectors\n")
    print(table(["set", "questions", "R@1 FAISS", "R@1 Milvus", "R@5 FAISS", "R@5 Milvus", "same top 3",
                 "p50 ms FAISS", "p50 ms Milvus"], rows_out))
    print("\n## keyword leg alone: ours (BM25, folded bigrams) vs Milvus BM25 (jieba analyzer)\n")
    print(table(["set", "R@1 ours", "R@5 ours", "R@1 Milvus BM25", "R@5 Milvus BM25", "Milvus BM25 p50 ms"],
                bm25_rows))
    print(f"\nMilvus Lite, analyzer type 'chinese': {results.get('chinese_analyzer')}")
    print(f"\nwrote {path}")
    _ = ROOT


if __name__ == "__main__":
    main()
