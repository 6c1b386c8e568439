"""Peak resident memory of `qa serve` (seeds index, after some questions) and of `qa build` (large corpus).

RSS of the process tree is sampled every 0.1 s with psutil. For the server: start-up peak, then after
``--questions`` questions (answer cache off) the steady RSS and USS/PSS (what a second worker would add).
For the build: the corpus of bench.build (first ``--per-corpus`` records of each evaluation corpus) with a
fresh embedding cache, per backend.

Workers (``--workers 1,2,3``): `qa serve --workers N` after questions to every worker; per worker process its
RSS, USS (its own pages) and PSS (shared pages split between the sharers: model files and the memory-mapped
index); what each extra worker adds is the growth of the tree's summed PSS per added worker.

    .venv/bin/python -m bench.memory [--per-corpus 40] [--backends torch,onnx] [--workers 1,2,3]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
import time
from pathlib import Path

from ._common import (
    ROOT,
    RssSampler,
    Server,
    build_seed_index,
    cache_dir_with_models,
    env_with,
    load_seed_questions,
    machine,
    qa_command,
    run,
    table,
    write_results,
)
from .build import corpus_stats, onnx_available, sample_corpora

MIB = 2**20


def serve_memory(index_dir: Path, backend: str, questions: list[str], n: int) -> dict:
    import psutil

    env = env_with(QA_CACHE_SIZE=0, QA_RELOAD_INTERVAL_S=0, QA_BACKEND=backend)
    server = Server(index_dir, env)
    server_started = time.perf_counter()
    with server:
        startup_s = time.perf_counter() - server_started
        with RssSampler(server.proc.pid) as sampler:
            for q in (questions * (n // len(questions) + 1))[:n]:
                server.ask(q)
            time.sleep(0.3)
        full = psutil.Process(server.proc.pid).memory_full_info()
        return {"backend": backend, "questions": n, "startup_s": startup_s, "peak_rss_mib": sampler.peak / MIB,
                "rss_after_mib": full.rss / MIB, "uss_after_mib": full.uss / MIB, "pss_after_mib": full.pss / MIB}


def _worker_processes(pid: int) -> list:
    import psutil

    parent = psutil.Process(pid)
    return [c for c in parent.children(recursive=True)
            if "resource_tracker" not in " ".join(c.cmdline()) and c.memory_info().rss > 100 * MIB]


def workers_memory(index_dir: Path, backend: str, workers: int, questions: list[str], n: int) -> dict:
    """`qa serve --workers N`: memory per worker once every worker has loaded and answered."""
    import psutil

    env = env_with(QA_CACHE_SIZE=0, QA_RELOAD_INTERVAL_S=0, QA_BACKEND=backend, QA_WORKERS=workers)
    with Server(index_dir, env) as server:
        deadline = time.monotonic() + 600
        while server.log_text().count("loaded index") < workers and time.monotonic() < deadline:
            time.sleep(0.5)
        for q in (questions * (n * workers // len(questions) + 1))[: n * workers]:
            server.ask(q)  # new connections: the kernel spreads them over the workers
        time.sleep(0.5)
        procs = [server.proc] if workers == 1 else _worker_processes(server.proc.pid)
        rows = []
        for p in procs:
            full = psutil.Process(p.pid).memory_full_info()
            rows.append({"pid": p.pid, "rss_mib": full.rss / MIB, "uss_mib": full.uss / MIB, "pss_mib": full.pss / MIB})
        parent = psutil.Process(server.proc.pid).memory_full_info()
        total_pss = sum(r["pss_mib"] for r in rows) + (parent.pss / MIB if workers > 1 else 0.0)
        return {"backend": backend, "workers": workers, "processes": rows, "supervisor_pss_mib":
                parent.pss / MIB if workers > 1 else 0.0, "total_pss_mib": total_pss,
                "total_rss_mib": sum(r["rss_mib"] for r in rows)}


def build_memory(sources: list[Path], tmp: Path, backend: str) -> dict:
    cache = cache_dir_with_models(tmp / f"cache-{backend}")
    env = env_with(QA_CACHE_DIR=cache, QA_BACKEND=backend)
    cmd = qa_command("build", *[a for s in sources for a in ("--source", str(s))], "--index", str(tmp / f"i-{backend}"))
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with RssSampler(proc.pid) as sampler:
        out, err = proc.communicate(timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"qa build failed:\n{out[-2000:]}\n{err[-3000:]}")
    seconds = re.search(r" in ([\d.]+)s", out)
    index_mib = sum(p.stat().st_size for p in (tmp / f"i-{backend}").resolve().rglob("*") if p.is_file()) / MIB
    return {"backend": backend, "peak_rss_mib": sampler.peak / MIB, "seconds": float(seconds[1]) if seconds else None,
            "index_dir_mib": index_mib, "samples": sampler.samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--per-corpus", type=int, default=40, help="first N records of each corpus (0: all)")
    parser.add_argument("--backends", default="torch,onnx")
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--workers", default="1,2,3", help="worker counts to measure (empty: skip)")
    args = parser.parse_args()
    worker_counts = [int(w) for w in args.workers.split(",") if w]
    backends = [b for b in args.backends.split(",") if b and (b != "onnx" or onnx_available())]
    info = machine()
    results: dict = {"machine": info, "params": vars(args) | {"backends": backends}, "serve": [], "build": [],
                     "workers": []}
    questions = load_seed_questions()
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp_name:
        tmp = Path(tmp_name)
        for backend in backends:
            index_dir = tmp / f"seeds-{backend}"
            build_seed_index(index_dir, env_with(QA_BACKEND=backend))
            results["serve"].append(serve_memory(index_dir, backend, questions, args.questions))
            write_results("memory", results)
            for workers in worker_counts:
                results["workers"].append(workers_memory(index_dir, backend, workers, questions, 5))
                write_results("memory", results)
        if not args.skip_build:
            sources = sample_corpora(tmp / "corpus", args.per_corpus)
            results["corpus"] = corpus_stats(sources)
            if "onnx" in backends:
                run(qa_command("prepare"), env=env_with(QA_BACKEND="onnx"), timeout=1800)
            for backend in backends:
                results["build"].append(build_memory(sources, tmp, backend))
                write_results("memory", results)
    path = write_results("memory", results)
    print(f"## bench.memory ({info['cpus']} CPUs, {info['memory_gib']} GiB, {info['date']})\n")
    print(table(["qa serve (seeds)", "questions", "peak RSS MiB", "RSS after MiB", "USS MiB", "PSS MiB"],
                [[s["backend"], s["questions"], round(s["peak_rss_mib"]), round(s["rss_after_mib"]),
                  round(s["uss_after_mib"]), round(s["pss_after_mib"])] for s in results["serve"]]))
    if results["workers"]:
        rows = []
        for w in results["workers"]:
            one = next((x for x in results["workers"] if x["backend"] == w["backend"] and x["workers"] == 1), None)
            extra = (w["total_pss_mib"] - one["total_pss_mib"]) / (w["workers"] - 1) if one and w["workers"] > 1 \
                else None
            rows.append([w["backend"], w["workers"], round(w["total_rss_mib"]), round(w["total_pss_mib"]),
                         ", ".join(f"{p['uss_mib']:.0f}" for p in w["processes"]),
                         round(extra) if extra is not None else "-"])
        print()
        print(table(["qa serve --workers", "N", "sum of RSS MiB", "sum of PSS MiB", "USS per worker MiB",
                     "PSS added per extra worker MiB"], rows))
    if results["build"]:
        c = results["corpus"]
        print(f"\nqa build: {c['documents']} documents, {c['passages']} passages, {c['units']} units\n")
        print(table(["qa build", "peak RSS MiB", "seconds", "index dir MiB"],
                    [[b["backend"], round(b["peak_rss_mib"]), b["seconds"], round(b["index_dir_mib"], 1)]
                     for b in results["build"]]))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
