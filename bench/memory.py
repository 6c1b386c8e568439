"""Peak resident memory of `qa serve` (seeds index, after some questions) and of `qa build` (large corpus).

RSS of the process tree is sampled every 0.1 s with psutil. For the server: start-up peak, then after
``--questions`` questions (answer cache off) the steady RSS and USS/PSS (what a second worker would add).
For the build: the corpus of bench.build (first ``--per-corpus`` records of each evaluation corpus) with a
fresh embedding cache, per backend.

    .venv/bin/python -m bench.memory [--per-corpus 40] [--backends torch,onnx]
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
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if b and (b != "onnx" or onnx_available())]
    info = machine()
    results: dict = {"machine": info, "params": vars(args) | {"backends": backends}, "serve": [], "build": []}
    questions = load_seed_questions()
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp_name:
        tmp = Path(tmp_name)
        for backend in backends:
            index_dir = tmp / f"seeds-{backend}"
            build_seed_index(index_dir, env_with(QA_BACKEND=backend))
            results["serve"].append(serve_memory(index_dir, backend, questions, args.questions))
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
    if results["build"]:
        c = results["corpus"]
        print(f"\nqa build: {c['documents']} documents, {c['passages']} passages, {c['units']} units\n")
        print(table(["qa build", "peak RSS MiB", "seconds", "index dir MiB"],
                    [[b["backend"], round(b["peak_rss_mib"]), b["seconds"], round(b["index_dir_mib"], 1)]
                     for b in results["build"]]))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
