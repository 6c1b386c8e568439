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
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ._common import PY, ROOT, machine, percentile, table, write_results

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
    args = parser.parse_args()
    if args.load_worker:
        load_worker(args.load_worker, args.flags, args.worker_queries, args.hold)
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


if __name__ == "__main__":
    main()
