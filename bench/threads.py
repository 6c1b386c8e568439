"""Question-encoding latency with 1 vs 2 intra-op threads, idle and next to a CPU-burning process.

Chooses the server default ``QA_QUERY_THREADS`` by measurement. One model is loaded in-process; each round
encodes every question of ``tests/data/seed_qa.jsonl`` once per thread setting (interleaved, so drift
in the machine's load hits both alike), first with nothing else started, then with one busy-looping
process pinned to CPU 0 (a stand-in for a build, a second worker or a noisy neighbour on one core).
The burner stops itself after ``--max-seconds`` and is ended by its pid in any case.

    .venv/bin/python -m bench.threads [--rounds 5] [--backends torch,onnx]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from ._common import ROOT, load_seed_questions, machine, median, percentile, table, write_results

BURNER = """
import os, time
try:
    os.sched_setaffinity(0, {0})
except (AttributeError, OSError):
    pass
end = time.monotonic() + float(os.environ["BURN_SECONDS"])
x = 0
while time.monotonic() < end:
    x += 1
"""


def start_burner(seconds: float) -> subprocess.Popen:
    env = dict(os.environ, BURN_SECONDS=str(seconds))
    return subprocess.Popen([sys.executable, "-c", BURNER], env=env, cwd=ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="passes over the questions per condition")
    parser.add_argument("--settings", default="1,2", help="query_threads values to compare")
    parser.add_argument("--backends", default="torch,onnx", help="onnx only when the extra is installed")
    parser.add_argument("--max-seconds", type=float, default=600, help="the burner's own time limit")
    args = parser.parse_args()
    settings_list = [int(x) for x in args.settings.split(",") if x]

    from embeddings import load_embedder
    from qa.settings import Settings

    info = machine()
    cache_dir = Settings(_env_file=None).cache_dir
    embedders = {}
    for backend in [b for b in args.backends.split(",") if b]:
        if backend == "onnx":
            try:
                import onnxruntime  # noqa: F401
            except ImportError:
                continue
        embedders[backend] = load_embedder("default", cache_dir=cache_dir, backend=backend)
    questions = load_seed_questions()
    times: dict[tuple[str, str, int], list[float]] = {}

    def measure(condition: str) -> None:
        for _ in range(args.rounds):
            for backend, emb in embedders.items():
                for n in settings_list:
                    emb.query_threads = n
                    emb.embed_queries([questions[0]])  # settle the thread pool at this size
                    bucket = times.setdefault((backend, condition, n), [])
                    for q in questions:
                        start = time.perf_counter()
                        emb.embed_queries([q])
                        bucket.append((time.perf_counter() - start) * 1000)

    measure("idle")
    burner = start_burner(args.max_seconds)
    try:
        time.sleep(0.5)
        measure("one core busy")
    finally:
        burner.terminate()
        burner.wait(timeout=10)

    rows, stats = [], []
    for (backend, condition, n), values in times.items():
        s = {"backend": backend, "condition": condition, "query_threads": n, "p50_ms": median(values),
             "p95_ms": percentile(values, 95), "n": len(values)}
        stats.append(s)
        rows.append([backend, condition, n, round(s["p50_ms"], 1), round(s["p95_ms"], 1), s["n"]])

    recommendation = {}
    for backend in embedders:
        def p50(condition: str, n: int, backend: str = backend) -> float:
            return next(s["p50_ms"] for s in stats if (s["backend"], s["condition"], s["query_threads"]) ==
                        (backend, condition, n))

        best_idle = min(settings_list, key=lambda n: p50("idle", n))
        best_busy = min(settings_list, key=lambda n: p50("one core busy", n))
        # prefer what holds up under competition, unless it costs more than 25% when idle
        choice = best_busy if p50("idle", best_busy) <= 1.25 * p50("idle", best_idle) else best_idle
        recommendation[backend] = {"best_idle": best_idle, "best_busy": best_busy, "recommended": choice}
    results = {"machine": info, "params": vars(args), "stats": stats, "recommendation": recommendation}
    path = write_results("threads", results)
    print(f"## bench.threads: embed_queries latency, {len(questions)} questions x {args.rounds} rounds "
          f"({info['cpus']} CPUs, {info['date']})\n")
    print(table(["backend", "condition", "query_threads", "p50 ms", "p95 ms", "n"], rows))
    print()
    for backend, rec in recommendation.items():
        print(f"- {backend}: fastest idle {rec['best_idle']} thread(s), fastest with a busy core "
              f"{rec['best_busy']} -> recommended QA_QUERY_THREADS={rec['recommended']}")
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
