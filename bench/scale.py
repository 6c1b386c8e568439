"""Vector search at scale: exact vs HNSW vs IVF on 1,000,000 clustered 384-dim unit vectors.

Synthetic but shaped like sentence embeddings: ``--clusters`` gaussian clusters with Zipf-like sizes and a
per-cluster spread drawn so a member's cosine to its centre is about 0.75-0.85; queries are fresh draws from
the same mixture (not rows of the index). For each index: build time, file size, resident memory, recall@10
against exact search and p50/p95 latency of single queries (``1 thread`` and the default thread count).
HNSW is swept over efSearch, IVF over nprobe, and the smallest setting reaching recall@10 >= 0.95 is reported.
Finally two processes load the saved files through ``VectorIndex.load`` and report RSS/USS/PSS, to see
which index types FAISS memory-maps (shared page cache) and which it copies into each process.

    .venv/bin/python -m bench.scale                 # 1M rows, several minutes, ~5 GB of RAM at peak
    .venv/bin/python -m bench.scale --n 200000      # quicker

With ``--corpus N`` it measures the whole product instead: a synthetic Chinese corpus of about N passages,
the real build (stage by stage; vectors from a stand-in, not the model), the index on disk and the real
``qa serve`` with FAISS and with Milvus Lite side by side (memory, p50/p99 per search stage).

    nice -n 10 .venv/bin/python -m bench.scale --corpus 100000 --stores faiss,milvus
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

from ._common import (
    EVAL,
    PY,
    ROOT,
    SEEDS,
    env_with,
    free_port,
    load_seed_questions,
    machine,
    percentile,
    table,
    write_results,
)

TARGET_RECALL = 0.95
TARGET_P50_MS = 5.0


def make_data(n: int, nq: int, dim: int, clusters: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` rows and ``nq`` queries from one gaussian mixture on the unit sphere."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    # a shared direction makes all vectors mutually similar (~0.3 cosine), as real embeddings are
    common = rng.standard_normal(dim).astype(np.float32)
    centres += 0.7 * common / np.linalg.norm(common) * np.sqrt(dim)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    weights = 1.0 / np.arange(1, clusters + 1) ** 0.7
    weights /= weights.sum()
    target_cos = rng.uniform(0.75, 0.85, clusters)
    sigma = (np.sqrt(1 / target_cos**2 - 1) / np.sqrt(dim)).astype(np.float32)

    def draw(count: int) -> np.ndarray:
        out = np.empty((count, dim), np.float32)
        for start in range(0, count, 100_000):
            m = min(100_000, count - start)
            which = rng.choice(clusters, m, p=weights)
            block = rng.standard_normal((m, dim), dtype=np.float32) * sigma[which, None]
            block += centres[which]
            block /= np.linalg.norm(block, axis=1, keepdims=True)
            out[start : start + m] = block
        return out

    return draw(n), draw(nq)


def rss_bytes() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def latency_ms(index, queries: np.ndarray, k: int, threads: int, limit: int) -> dict[str, float]:
    import faiss

    faiss.omp_set_num_threads(threads)
    times = []
    for q in queries[:limit]:
        start = time.perf_counter()
        index.search(q[None, :], k)
        times.append((time.perf_counter() - start) * 1000)
    return {"p50": percentile(times, 50), "p95": percentile(times, 95), "n": len(times)}


def recall_at(ids: np.ndarray, truth: np.ndarray, k: int) -> float:
    hits = sum(len(set(a[:k].tolist()) & set(b[:k].tolist())) for a, b in zip(ids, truth, strict=True))
    return hits / (len(truth) * k)


def file_mib(path: Path) -> float:
    return path.stat().st_size / 2**20


def load_worker(path: str, flags: str, queries: str, hold: float) -> None:
    """Child process: load ``path`` the way :class:`VectorIndex` does, search, report memory, wait."""
    import faiss
    import psutil

    from embeddings.index import VectorIndex

    folder = Path(path).parent
    before = psutil.Process().memory_full_info()
    start = time.perf_counter()
    if flags == "vectorindex":
        index = VectorIndex.load(folder, json.loads((folder / "params.json").read_text())).index
    else:
        index = faiss.read_index(path, int(flags))
    load_s = time.perf_counter() - start
    q = np.load(queries)[:20]  # enough to touch every page of a flat index, the probed lists of an IVF one
    index.search(q, 10)
    after = psutil.Process().memory_full_info()
    print(json.dumps({"load_s": load_s, "rss_mib": (after.rss - before.rss) / 2**20,
                      "uss_mib": (after.uss - before.uss) / 2**20, "pss_mib": (after.pss - before.pss) / 2**20}),
          flush=True)
    time.sleep(hold)  # let the sibling load while this one still holds its pages


def two_loaders(path: Path, flags: str, queries: Path) -> list[dict]:
    """Start two loaders of the same file at once; each reports its memory while both are alive."""
    cmd = [PY, "-m", "bench.scale", "--load-worker", str(path), "--flags", flags, "--worker-queries", str(queries)]
    first = subprocess.Popen([*cmd, "--hold", "900"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:  # the first holds its pages until the second has measured, then is ended by its pid
        line1 = first.stdout.readline()
        second = subprocess.Popen([*cmd, "--hold", "0"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        line2, _ = second.communicate(timeout=600)
    finally:
        first.terminate()
        first.wait(timeout=30)
    return [json.loads(line1), json.loads(line2.strip().splitlines()[0])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--clusters", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--hnsw", default="32:80", help="M:efConstruction pairs, comma-separated")
    parser.add_argument("--ef-search", default="16,32,48,64,96,128,192,256")
    parser.add_argument("--ivf", default="1024,4096", help="nlist values, comma-separated")
    parser.add_argument("--nprobe", default="4,8,16,24,32,48,64,96,128")
    parser.add_argument("--exact-timing-queries", type=int, default=50, help="exact search is slow: time fewer")
    parser.add_argument("--tmp", type=Path, default=None, help="where index files go [a temporary folder]")
    parser.add_argument("--load-worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--flags", default="0", help=argparse.SUPPRESS)
    parser.add_argument("--worker-queries", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--hold", type=float, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=int, default=0, help="measure the product on a corpus of N passages")
    parser.add_argument("--stores", default="faiss,milvus", help="with --corpus: vector stores, comma-separated")
    parser.add_argument("--questions", type=int, default=200, help="with --corpus: questions asked of qa serve")
    args = parser.parse_args()
    if args.load_worker:
        load_worker(args.load_worker, args.flags, args.worker_queries, args.hold)
        return
    if args.corpus:
        corpus_main(args)
        return

    import faiss

    default_threads = faiss.omp_get_max_threads()
    info = machine()
    results: dict = {"machine": info, "params": vars(args) | {"tmp": None}, "indexes": []}
    tmp_ctx = tempfile.TemporaryDirectory(prefix="bench-scale-", dir=args.tmp)
    tmp = Path(tmp_ctx.name)
    k = 10
    t0 = time.perf_counter()
    data, queries = make_data(args.n, args.queries, args.dim, args.clusters, args.seed)
    np.save(tmp / "queries.npy", queries[:200])
    print(f"data: {args.n:,} x {args.dim} in {time.perf_counter() - t0:.0f}s "
          f"({data.nbytes / 2**20:.0f} MiB)", file=sys.stderr)
    sample = data[np.random.default_rng(1).choice(args.n, 2000, replace=False)]
    sims = sample[:1000] @ sample[1000:].T
    results["data"] = {"mean_cosine_random_pairs": float(sims.mean()),
                       "data_mib": data.nbytes / 2**20}

    rows = []
    flag_sets = {
        "0 (read whole)": "0",
        "IO_FLAG_MMAP|READ_ONLY": str(faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY),
        "IO_FLAG_MMAP_IFC|READ_ONLY": str(faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY),
        "VectorIndex.load": "vectorindex",
    }
    sharing: list[dict] = []
    results["mmap_sharing"] = sharing

    def record(entry: dict, folder: Path) -> None:
        """Keep the figures, then see how two processes loading the saved file share its pages."""
        results["indexes"].append(entry)
        for flag_name, flags in flag_sets.items():
            try:
                pair = two_loaders(folder / "vectors.faiss", flags, tmp / "queries.npy")
            except Exception as exc:  # a flag a type cannot take: record it and go on
                sharing.append({"index": entry["index"], "flags": flag_name, "error": str(exc)[:200]})
                continue
            sharing.append({"index": entry["index"], "flags": flag_name, "first": pair[0], "second": pair[1]})
            print(f"  load {entry['index']} {flag_name}: second process RSS {pair[1]['rss_mib']:.0f} MiB, "
                  f"USS {pair[1]['uss_mib']:.0f} MiB", file=sys.stderr)
        write_results("scale", results)

    def sweep_knob(index, knob: str, values: str, apply) -> tuple[list[dict], dict]:
        """Recall@10 and latency for each comma-separated value of a search knob (``apply(index, value)``),
        stopping once recall reaches 0.995; the chosen point is the first at ``TARGET_RECALL``."""
        points = []
        for value in (int(x) for x in values.split(",")):
            apply(index, value)
            faiss.omp_set_num_threads(default_threads)
            _, ids = index.search(queries, k)
            point = {knob: value, "recall@10": recall_at(ids, truth, k),
                     "latency_1_thread_ms": latency_ms(index, queries, k, 1, len(queries)),
                     "latency_default_threads_ms": latency_ms(index, queries, k, default_threads, len(queries))}
            points.append(point)
            print(f"  {knob}={value}: recall@10 {point['recall@10']:.4f} "
                  f"p50 {point['latency_1_thread_ms']['p50']:.2f} ms", file=sys.stderr)
            if point["recall@10"] >= 0.995:
                break
        faiss.omp_set_num_threads(default_threads)
        return points, next((p for p in points if p["recall@10"] >= TARGET_RECALL), points[-1])

    # exact
    start = time.perf_counter()
    flat = faiss.IndexFlatIP(args.dim)
    flat.add(data)
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    _, truth = flat.search(queries, k)
    batch_s = time.perf_counter() - start
    exact_dir = tmp / "flat"
    exact_dir.mkdir()
    faiss.write_index(flat, str(exact_dir / "vectors.faiss"))
    (exact_dir / "params.json").write_text(json.dumps({"type": "flat"}))
    entry = {"index": "flat (exact)", "params": {}, "build_s": build_s,
             "file_mib": file_mib(exact_dir / "vectors.faiss"), "memory_mib": flat.ntotal * args.dim * 4 / 2**20,
             "recall@10": 1.0, "batch_1000_s": batch_s,
             "latency_1_thread_ms": latency_ms(flat, queries, k, 1, args.exact_timing_queries),
             "latency_default_threads_ms": latency_ms(flat, queries, k, default_threads, args.exact_timing_queries)}
    faiss.omp_set_num_threads(default_threads)
    record(entry, exact_dir)
    print(f"exact: {entry['latency_1_thread_ms']['p50']:.1f} ms/query (1 thread)", file=sys.stderr)
    del flat
    gc.collect()

    # IVF (flat lists)
    for nlist in (int(x) for x in args.ivf.split(",") if x):
        before = rss_bytes()
        start = time.perf_counter()
        quantizer = faiss.IndexFlatIP(args.dim)
        index = faiss.IndexIVFFlat(quantizer, args.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        train = data[np.random.default_rng(2).choice(args.n, min(args.n, 40 * nlist), replace=False)]
        index.train(train)
        train_s = time.perf_counter() - start
        index.add(data)
        build_s = time.perf_counter() - start
        memory = (rss_bytes() - before) / 2**20
        folder = tmp / f"ivf{nlist}"
        folder.mkdir()
        faiss.write_index(index, str(folder / "vectors.faiss"))
        print(f"IVF nlist={nlist}: trained in {train_s:.0f}s, built in {build_s:.0f}s", file=sys.stderr)
        sweep, chosen = sweep_knob(index, "nprobe", args.nprobe, lambda ix, v: setattr(ix, "nprobe", v))
        (folder / "params.json").write_text(json.dumps({"type": "ivf", "nprobe": chosen["nprobe"]}))
        record({"index": f"IVF-Flat nlist={nlist}", "params": {"nlist": nlist, "nprobe": chosen["nprobe"]},
                "build_s": build_s, "train_s": train_s, "file_mib": file_mib(folder / "vectors.faiss"),
                "memory_mib": memory, "recall@10": chosen["recall@10"],
                "latency_1_thread_ms": chosen["latency_1_thread_ms"],
                "latency_default_threads_ms": chosen["latency_default_threads_ms"], "sweep": sweep},
               folder)
        del index, quantizer
        gc.collect()

    # HNSW
    for pair in [p for p in args.hnsw.split(",") if p]:
        m, efc = (int(x) for x in pair.split(":"))
        before = rss_bytes()
        start = time.perf_counter()
        print(f"HNSW M={m} efC={efc}: building (slow: random access over {data.nbytes / 2**30:.1f} GiB)",
              file=sys.stderr)
        index = faiss.IndexHNSWFlat(args.dim, m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = efc
        index.add(data)
        build_s = time.perf_counter() - start
        memory = (rss_bytes() - before) / 2**20
        folder = tmp / f"hnsw{m}-{efc}"
        folder.mkdir()
        faiss.write_index(index, str(folder / "vectors.faiss"))
        print(f"HNSW M={m} efC={efc}: built in {build_s:.0f}s", file=sys.stderr)
        sweep, chosen = sweep_knob(index, "efSearch", args.ef_search,
                                   lambda ix, v: setattr(ix.hnsw, "efSearch", v))
        (folder / "params.json").write_text(json.dumps({"type": "hnsw", "efSearch": chosen["efSearch"]}))
        record({"index": f"HNSW M={m}", "params": {"M": m, "efConstruction": efc, "efSearch": chosen["efSearch"]},
                "build_s": build_s, "file_mib": file_mib(folder / "vectors.faiss"), "memory_mib": memory,
                "recall@10": chosen["recall@10"], "latency_1_thread_ms": chosen["latency_1_thread_ms"],
                "latency_default_threads_ms": chosen["latency_default_threads_ms"], "sweep": sweep},
               folder)
        del index
        gc.collect()

    del data
    gc.collect()

    results["mmap_sharing"] = sharing
    results["total_s"] = time.perf_counter() - t0
    path = write_results("scale", results)
    tmp_ctx.cleanup()

    headers = ["index", "params", "build s", "file MiB", "memory MiB", "recall@10", "p50 ms (1 thr)",
               "p95 ms (1 thr)", f"p50 ms ({default_threads} thr)"]
    for e in results["indexes"]:
        rows.append([e["index"], " ".join(f"{a}={b}" for a, b in e["params"].items()), round(e["build_s"], 1),
                     round(e["file_mib"]), round(e["memory_mib"]), round(e["recall@10"], 4),
                     round(e["latency_1_thread_ms"]["p50"], 2), round(e["latency_1_thread_ms"]["p95"], 2),
                     round(e["latency_default_threads_ms"]["p50"], 2)])
    print(f"## bench.scale: {args.n:,} x {args.dim} clustered vectors, {args.queries} queries "
          f"({info['cpus']} CPUs, {info['date']})\n")
    print(table(headers, rows))
    print("\n### sweeps\n")
    for e in results["indexes"]:
        for p in e.get("sweep", []):
            knob = "efSearch" if "efSearch" in p else "nprobe"
            print(f"- {e['index']} {knob}={p[knob]}: recall@10 {p['recall@10']:.4f}, "
                  f"p50 {p['latency_1_thread_ms']['p50']:.2f} ms (1 thread), "
                  f"{p['latency_default_threads_ms']['p50']:.2f} ms ({default_threads} threads)")
    print("\n### two processes loading the same file\n")
    print(table(["index", "flags", "load s", "RSS MiB (2nd)", "USS MiB (2nd)", "PSS MiB (2nd)"],
                [[s["index"], s["flags"], *( [round(s["second"]["load_s"], 2), round(s["second"]["rss_mib"]),
                  round(s["second"]["uss_mib"]), round(s["second"]["pss_mib"])] if "second" in s
                  else ["error", s.get("error", ""), "", ""])] for s in sharing]))
    print(f"\nwrote {path}")


# --- the whole product at corpus scale: `--corpus N` ----------------------------------------------------------
# A synthetic corpus of N passages (sentences of the seeds and the public Chinese sets recombined into
# documents of ~10 passages), vectors from a cheap stand-in instead of the model, then the real `build_index`
# (stage by stage), the index on disk, and the real `qa serve` (real model for the questions) with FAISS
# and with Milvus Lite, side by side: resident memory, p50/p99 of each search stage and of the whole answer.

_SENTENCE = re.compile(r"[^。！？!?]*[。！？!?]")


def sentence_pool(limit_chars: int = 30_000_000) -> list[str]:
    """Chinese sentences from the seeds and the public sets beside the checkout (realistic length and words)."""
    texts = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    for name in ("cmrc2018_dev", "drcd_dev", "xquad_zh"):
        path = EVAL / name / "corpus.jsonl"
        if path.is_file():
            texts += [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line]
    pool, total = [], 0
    for text in texts:
        for s in _SENTENCE.findall(text.replace("\n", "")):
            s = s.strip()
            if 8 <= len(s) <= 200:
                pool.append(s)
                total += len(s)
        if total > limit_chars:
            break
    return pool


def make_corpus(path: Path, passages: int, seed: int) -> dict[str, int]:
    """Write documents of ~10 paragraphs (1-4 sentences each, 100-350 characters) to a .jsonl file."""
    rng = np.random.default_rng(seed)
    pool = sentence_pool()
    lengths = np.array([len(s) for s in pool])
    docs = chars = paragraphs = 0
    with path.open("w", encoding="utf-8") as fh:
        while paragraphs < passages:
            paras = []
            for _ in range(10):
                picked: list[str] = []
                size = 0
                target = int(rng.integers(100, 330))
                while size < target:
                    i = int(rng.integers(len(pool)))
                    picked.append(pool[i])
                    size += int(lengths[i])
                paras.append("".join(picked))
            text = "\n\n".join(paras)
            fh.write(json.dumps({"id": f"d{docs:07d}", "title": paras[0][:14], "text": text}, ensure_ascii=False)
                     + "\n")
            docs += 1
            paragraphs += len(paras)
            chars += len(text)
    return {"documents": docs, "characters": chars, "sentence_pool": len(pool)}


class StandInEmbedder:
    """Vectors from the clustered mixture of :func:`make_data` keyed by each text's CRC32: no model, ~1 µs a text.
    It claims the bundled model's name and dimension so that `qa serve` (the real model) accepts the index."""

    def __init__(self, name: str, dim: int = 384, clusters: int = 2000, seed: int = 7) -> None:
        self.name, self.dim, self.fingerprint = name, dim, f"stand-in-{dim}-{clusters}-{seed}"
        rng = np.random.default_rng(seed)
        centres = rng.standard_normal((clusters, dim)).astype(np.float32)
        common = rng.standard_normal(dim).astype(np.float32)
        centres += 0.7 * common / np.linalg.norm(common) * np.sqrt(dim)
        self.centres = centres / np.linalg.norm(centres, axis=1, keepdims=True)
        self.sigma = (np.sqrt(1 / rng.uniform(0.75, 0.85, clusters) ** 2 - 1) / np.sqrt(dim)).astype(np.float32)

    def _vectors(self, texts) -> np.ndarray:
        keys = np.array([zlib.crc32(t.encode("utf-8")) for t in texts], dtype=np.uint64)
        which = (keys % len(self.centres)).astype(np.int64)
        rng = np.random.default_rng(int(keys.sum() % (2**32)))
        out = rng.standard_normal((len(texts), self.dim), dtype=np.float32) * self.sigma[which, None]
        out += self.centres[which]
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def embed_queries(self, texts) -> np.ndarray:
        return self._vectors(list(texts))

    def embed_passages(self, texts, *, batch_size: int = 32, progress=None) -> np.ndarray:
        if progress is not None:
            progress(len(texts))
        return self._vectors(list(texts))


def du_mib(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20 if path.exists() else 0.0


def timed_build(corpus: Path, index_dir: Path, embedder, cache_dir: Path, store: dict) -> dict:
    """`build_index` with each stage timed (the module's own functions wrapped, then restored)."""
    import importlib

    module = importlib.import_module("qa.index.build" if importlib.util.find_spec("qa.index.build")
                                     else "qa.index.store")
    stages: dict[str, float] = {}
    originals = {}

    def wrap(owner, name: str, label: str) -> None:
        fn = getattr(owner, name)
        originals[(owner, name)] = fn

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                stages[label] = stages.get(label, 0.0) + time.perf_counter() - start

        setattr(owner, name, timed)

    wrap(module, "make_units", "sentence units")
    wrap(module, "embed_with_cache", "embedding (stand-in) + cache")
    wrap(module.KeywordIndex, "build", "BM25 index")
    wrap(module, "build_store", "vector store")
    rss0 = rss_bytes()
    start = time.perf_counter()
    try:
        report = module.build_index([corpus], index_dir, embedder, cache_dir=cache_dir, vector_store=store,
                                    force=True)
    finally:
        for (owner, name), fn in originals.items():
            setattr(owner, name, fn)
    total = time.perf_counter() - start
    stages["documents, passages, files (rest)"] = total - sum(stages.values())
    return {"seconds": total, "stages_s": stages, "passages": report.passages, "units": report.units,
            "documents": report.documents, "rss_growth_mib": (rss_bytes() - rss0) / 2**20}


def serve_and_ask(index_dir: Path, env: dict, questions: list[str], port: int, limit_s: float = 1800) -> dict:
    """Start `qa serve`, wait for it, ask every question once (answer cache off), report memory and latency."""
    import httpx
    import psutil

    cmd = [PY, "-m", "qa", "serve", "--index", str(index_dir), "--host", "127.0.0.1", "--port", str(port)]
    log = open(index_dir.parent / f"serve-{port}.log", "w")  # noqa: SIM115 - closed below
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=log)
    out: dict = {}
    try:
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=120) as http:
            deadline = time.time() + limit_s
            while time.time() < deadline:
                try:
                    if http.get("/api/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None:
                    raise SystemExit(f"qa serve exited with {proc.returncode}; see {log.name}")
                time.sleep(1)
            out["start_s"] = time.perf_counter() - started
            mem = psutil.Process(proc.pid).memory_full_info()
            out["rss_ready_mib"], out["uss_ready_mib"] = mem.rss / 2**20, mem.uss / 2**20
            took, stages = [], {}
            for q in questions:
                r = http.post("/api/ask", json={"question": q, "top_k": 5})
                if r.status_code != 200:
                    out.setdefault("errors", []).append([r.status_code, r.text[:200]])
                    continue
                body = r.json()
                took.append(body["took_ms"])
                for stage, ms in (body.get("timings_ms") or {}).items():
                    stages.setdefault(stage, []).append(ms)
            mem = psutil.Process(proc.pid).memory_full_info()
            out["rss_after_mib"], out["uss_after_mib"] = mem.rss / 2**20, mem.uss / 2**20
            out["pss_after_mib"] = getattr(mem, "pss", 0) / 2**20
            out["answer_ms"] = {"p50": percentile(took, 50), "p99": percentile(took, 99), "n": len(took)}
            out["stage_ms"] = {s: {"p50": percentile(v, 50), "p99": percentile(v, 99)} for s, v in stages.items()}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        log.close()
    return out


_KEYWORD_LOADER = """
import sys, psutil, bm25s
from pathlib import Path
before = psutil.Process().memory_info().rss
bm25 = bm25s.BM25.load(str(Path(sys.argv[1]) / "keywords"), mmap=sys.argv[2] == "1", show_progress=False, verbosity=0)
loaded = psutil.Process().memory_info().rss
for q in (["医院", "发热", "患者"], ["荆州", "卒中", "中心"], ["中西", "医结", "结合"]):
    bm25.get_scores([t for t in q if t in bm25.vocab_dict])
after = psutil.Process().memory_full_info()
print((loaded - before) / 2**20, (after.rss - before) / 2**20)
"""


def keyword_memory(folder: Path) -> dict:
    """Memory a process gains loading the BM25 index read whole vs memory-mapped (three questions scored)."""
    out = {}
    for label, flag in (("read whole", "0"), ("memory-mapped", "1")):
        proc = subprocess.run([PY, "-c", _KEYWORD_LOADER, str(folder), flag], cwd=ROOT, capture_output=True,
                              text=True, timeout=600)
        loaded, scored = (float(x) for x in proc.stdout.split()) if proc.returncode == 0 else (float("nan"),) * 2
        out[label] = {"rss_after_load_mib": loaded, "rss_after_3_questions_mib": scored}
    return out


def corpus_main(args) -> None:
    from qa.index.store import load_index
    from qa.settings import Settings

    info = machine()
    results: dict = {"machine": info, "params": {k: (str(v) if isinstance(v, Path) else v)
                                                  for k, v in vars(args).items()}, "stores": {}}
    tmp_ctx = tempfile.TemporaryDirectory(prefix="bench-corpus-", dir=args.tmp)
    tmp = Path(tmp_ctx.name)
    t0 = time.perf_counter()
    corpus = tmp / "corpus.jsonl"
    results["corpus"] = make_corpus(corpus, args.corpus, args.seed) | {"file_mib": du_mib(corpus)}
    results["corpus"]["make_s"] = time.perf_counter() - t0
    print(f"corpus: {results['corpus']}", file=sys.stderr)
    model_dir = ROOT / ".cache" / "models"
    conversion = next(model_dir.glob("*/qa_conversion.json"), None)
    name = json.loads(conversion.read_text())["model"] if conversion else "intfloat/multilingual-e5-small"
    embedder = StandInEmbedder(name)
    cache = tmp / "cache"
    cache.mkdir()
    (cache / "models").symlink_to(model_dir.resolve(), target_is_directory=True)
    questions = (load_seed_questions() * 10)[: args.questions]
    for store_name in [s for s in args.stores.split(",") if s]:
        config = {"backend": store_name}
        env = env_with(QA_CACHE_DIR=cache, QA_CACHE_SIZE=0, QA_RELOAD_INTERVAL_S=0, QA_VECTOR_STORE=store_name)
        if store_name == "milvus":
            config["uri"] = str(tmp / "milvus.db")
            env["QA_MILVUS_URI"] = config["uri"]
        index_dir = tmp / f"index-{store_name}"
        entry: dict = {}
        print(f"{store_name}: building", file=sys.stderr)
        entry["build"] = timed_build(corpus, index_dir, embedder, cache, config)
        print(f"{store_name}: built {entry['build']}", file=sys.stderr)
        real = index_dir.resolve()
        entry["disk_mib"] = {p.name: du_mib(p) for p in sorted(real.iterdir())}
        entry["disk_mib"]["index folder"] = du_mib(real)
        if store_name == "milvus":
            entry["disk_mib"]["milvus.db (outside the folder)"] = du_mib(Path(config["uri"]))
        entry["embedding_cache_mib"] = du_mib(cache / "embeddings.sqlite")
        entry["keyword_memory"] = keyword_memory(real)
        gc.collect()
        rss0 = rss_bytes()
        start = time.perf_counter()
        settings_env = {"QA_VECTOR_STORE": store_name, "QA_MILVUS_URI": config.get("uri", "")}
        saved = {k: os.environ.get(k) for k in settings_env}
        os.environ.update(settings_env)
        try:
            loaded = load_index(index_dir)
            entry["load_index"] = {"s": time.perf_counter() - start, "rss_growth_mib": (rss_bytes() - rss0) / 2**20}
            del loaded
        finally:
            for k, v in saved.items():
                os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        gc.collect()
        if store_name == "milvus":  # Milvus Lite locks its file: let the server open it
            from embeddings.stores.milvus import release

            release(config["uri"])
        print(f"{store_name}: serving", file=sys.stderr)
        entry["serve"] = serve_and_ask(index_dir, env, questions, free_port())
        print(f"{store_name}: {entry['serve']}", file=sys.stderr)
        results["stores"][store_name] = entry
        write_results(f"scale-corpus-{args.corpus}", results)
    results["total_s"] = time.perf_counter() - t0
    path = write_results(f"scale-corpus-{args.corpus}", results)
    tmp_ctx.cleanup()
    _ = Settings
    rows = []
    for store_name, e in results["stores"].items():
        b, s = e["build"], e["serve"]
        rows.append([store_name, b["passages"], b["units"], round(b["seconds"]),
                     round(b["stages_s"].get("vector store", 0)), round(b["stages_s"].get("BM25 index", 0)),
                     round(e["disk_mib"]["index folder"] + e["disk_mib"].get("milvus.db (outside the folder)", 0)),
                     round(s["rss_after_mib"]), round(s["stage_ms"].get("dense", {}).get("p50", float("nan")), 1),
                     round(s["stage_ms"].get("dense", {}).get("p99", float("nan")), 1),
                     round(s["stage_ms"].get("keyword", {}).get("p50", float("nan")), 1),
                     round(s["answer_ms"]["p50"], 1), round(s["answer_ms"]["p99"], 1)])
    print(f"## bench.scale --corpus {args.corpus:,} ({info['cpus']} CPUs, {info['date']})\n")
    print(table(["store", "passages", "units", "build s", "vector store s", "BM25 s", "on disk MiB",
                 "serve RSS MiB", "dense p50 ms", "dense p99 ms", "keyword p50 ms", "answer p50 ms",
                 "answer p99 ms"], rows))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
