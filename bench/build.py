"""Build throughput: `qa build` (fresh embedding cache) against a naive sentence-transformers encode.

The corpus is the evaluation corpora together (``/work/shared/eval/*/corpus.jsonl``); by default the first
``--per-corpus`` records of each (the whole set, ~3,800 passages / ~21,000 sentence units, takes far longer
than ten minutes on two cores; ``--per-corpus 0`` uses everything).

Per round, side by side:
  * naive: ``SentenceTransformer(model_dir).encode(passage_texts, batch_size=32)`` over the same passages
    `qa build` makes (a subprocess; model loading not timed);
  * `qa build --source ... --index <tmp>` with a fresh ``QA_CACHE_DIR`` (the converted model is linked in,
    not re-converted), for each backend available (torch; onnx when the extra is installed). The build's
    own reported time (documents -> passages -> sentence units -> embeddings -> FAISS + BM25 -> swap,
    model loading excluded) gives passages/s and units/s. Note that `qa build` embeds sentence units
    (~5.5 per passage, each with the "passage: " prompt), not whole passages.

The headline is build passages/s over naive passages/s (target >= 1.5).

    .venv/bin/python -m bench.build [--per-corpus 40] [--rounds 1] [--backends torch,onnx]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

from ._common import (
    EVAL,
    ROOT,
    RssSampler,
    cache_dir_with_models,
    env_with,
    machine,
    median,
    qa_command,
    run,
    table,
    write_results,
)

TARGET = 1.5


def sample_corpora(dest: Path, per_corpus: int) -> list[Path]:
    """The first ``per_corpus`` records of each evaluation corpus (0: all), one file each."""
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for corpus in sorted(EVAL.glob("*/corpus.jsonl")):
        lines = [line for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
        chosen = lines if per_corpus <= 0 else lines[:per_corpus]
        path = dest / f"{corpus.parent.name}.jsonl"
        path.write_text("\n".join(chosen) + "\n", encoding="utf-8")
        out.append(path)
    if not out:
        raise SystemExit(f"no corpora under {EVAL}")
    return out


def corpus_stats(sources: list[Path]) -> dict:
    from qa.index.store import make_units
    from qa.ingest.documents import load_documents, split_passages

    docs = load_documents(sources)
    passages = [p for d in docs for p in split_passages(d)]
    units, texts = make_units({d.id: d for d in docs}, passages)
    return {"documents": len(docs), "passages": len(passages), "units": len(units),
            "passage_chars": sum(len(p.text) for p in passages), "unit_chars": sum(len(t) for t in texts)}


def naive_worker(sources: list[str]) -> None:
    """Child process: the naive baseline over the passages `qa build` would make."""
    from sentence_transformers import SentenceTransformer

    from embeddings.model import default_model_dir
    from qa.ingest.documents import load_documents, split_passages
    from qa.settings import Settings

    docs = load_documents([Path(s) for s in sources])
    texts = [p.text for d in docs for p in split_passages(d)]
    model = SentenceTransformer(str(default_model_dir(Settings(_env_file=None).cache_dir)), device="cpu")
    model.encode(texts[:4], batch_size=32)  # warm-up
    start = time.perf_counter()
    model.encode(texts, batch_size=32)
    print(json.dumps({"seconds": time.perf_counter() - start, "passages": len(texts)}), flush=True)


BUILT = re.compile(r"built .*?: (\d+) documents, (\d+) passages, (\d+) sentence units .*? in ([\d.]+)s")


def run_build(sources: list[Path], tmp: Path, backend: str, tag: str) -> dict:
    cache = cache_dir_with_models(tmp / f"cache-{tag}")
    env = env_with(QA_CACHE_DIR=cache, QA_BACKEND=backend)
    cmd = qa_command("build", *[a for s in sources for a in ("--source", str(s))], "--index", str(tmp / f"index-{tag}"))
    import subprocess

    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with RssSampler(proc.pid) as rss:
        out, err = proc.communicate(timeout=3600)
    wall = time.perf_counter() - start
    match = BUILT.search(out)
    if proc.returncode != 0 or not match:
        raise SystemExit(f"qa build failed ({proc.returncode}):\n{out[-2000:]}\n{err[-3000:]}")
    docs, passages, units, seconds = int(match[1]), int(match[2]), int(match[3]), float(match[4])
    return {"backend": backend, "documents": docs, "passages": passages, "units": units, "seconds": seconds,
            "wall_s": wall, "passages_per_s": passages / seconds, "units_per_s": units / seconds,
            "peak_rss_mib": rss.peak / 2**20}


def onnx_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-corpus", type=int, default=40, help="first N records of each corpus (0: all)")
    parser.add_argument("--rounds", type=int, default=1, help="repetitions of (naive, builds), interleaved")
    parser.add_argument("--backends", default="torch,onnx", help="backends to build with (onnx if installed)")
    parser.add_argument("--naive-worker", nargs="*", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive_worker is not None:
        naive_worker(args.naive_worker)
        return
    backends = [b for b in args.backends.split(",") if b and (b != "onnx" or onnx_available())]
    info = machine()
    results: dict = {"machine": info, "params": vars(args) | {"backends": backends}, "rounds": []}
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp_name:
        tmp = Path(tmp_name)
        sources = sample_corpora(tmp / "corpus", args.per_corpus)
        stats = corpus_stats(sources)
        results["corpus"] = stats | {"files": [s.name for s in sources]}
        print(f"corpus: {stats['documents']} documents, {stats['passages']} passages, {stats['units']} units",
              file=sys.stderr)
        if "onnx" in backends:  # export once, outside the timings
            run(qa_command("prepare"), env=env_with(QA_BACKEND="onnx"), timeout=1800)
        for r in range(args.rounds):
            naive_proc = run([sys.executable, "-m", "bench.build", "--naive-worker", *map(str, sources)], timeout=3600)
            naive = json.loads(naive_proc.stdout.strip().splitlines()[-1])
            naive["passages_per_s"] = naive["passages"] / naive["seconds"]
            print(f"round {r + 1}: naive {naive['passages_per_s']:.2f} passages/s", file=sys.stderr)
            builds = []
            for backend in backends:
                b = run_build(sources, tmp, backend, f"{backend}-{r}")
                b["ratio_to_naive"] = b["passages_per_s"] / naive["passages_per_s"]
                builds.append(b)
                print(f"round {r + 1}: qa build ({backend}) {b['passages_per_s']:.2f} passages/s, "
                      f"{b['units_per_s']:.1f} units/s, x{b['ratio_to_naive']:.2f} naive", file=sys.stderr)
            results["rounds"].append({"naive": naive, "builds": builds})
            write_results("build", results)

    summary = {}
    for backend in backends:
        ratios = [b["ratio_to_naive"] for rd in results["rounds"] for b in rd["builds"] if b["backend"] == backend]
        pps = [b["passages_per_s"] for rd in results["rounds"] for b in rd["builds"] if b["backend"] == backend]
        ups = [b["units_per_s"] for rd in results["rounds"] for b in rd["builds"] if b["backend"] == backend]
        summary[backend] = {"ratio_to_naive": median(ratios), "passages_per_s": median(pps),
                            "units_per_s": median(ups), "met": median(ratios) >= TARGET}
    summary["naive_passages_per_s"] = median([rd["naive"]["passages_per_s"] for rd in results["rounds"]])
    results["summary"] = summary
    path = write_results("build", results)

    print(f"## bench.build: {stats['documents']} documents, {stats['passages']} passages, {stats['units']} "
          f"sentence units ({info['cpus']} CPUs, {info['date']})\n")
    rows = []
    for i, rd in enumerate(results["rounds"], 1):
        n = rd["naive"]
        rows.append([i, "naive ST encode (passages)", round(n["seconds"], 1), round(n["passages_per_s"], 2), "",
                     "1.00", ""])
        for b in rd["builds"]:
            rows.append([i, f"qa build ({b['backend']})", round(b["seconds"], 1), round(b["passages_per_s"], 2),
                         round(b["units_per_s"], 1), f"{b['ratio_to_naive']:.2f}", round(b["peak_rss_mib"])])
    print(table(["round", "what", "seconds", "passages/s", "units/s", "x naive", "peak RSS MiB"], rows))
    print()
    print(table(["backend", "x naive (median)", "target", "met"],
                [[b, f"{s['ratio_to_naive']:.2f}", f">= {TARGET}", "yes" if s["met"] else "NO"]
                 for b, s in summary.items() if isinstance(s, dict)]))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
