"""A bounded load test of `qa serve` (not a pytest test).

Starts `qa serve` on 127.0.0.1 (a free port) over an index of the seeds, then lets ``--clients`` threads
(32 by default) ask the seed questions (tests/data/seed_qa.jsonl) for ``--duration`` seconds (60 by
default, at most ``HARD_CAP_S``). Records every status code and latency, counts 503s (load shedding),
samples the server's resident memory (psutil) every second, prints a table and writes JSON to
bench/results/load.json.

The answer cache is off by default (every question goes through the model); ``--answer-cache`` turns it on.

    .venv/bin/python -m bench.load                      # 60 s, 32 clients, seeds index built in a tmp dir
    .venv/bin/python -m bench.load --duration 30 --index data/index
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil

from ._common import RESULTS, ROOT, free_port, load_seed_questions

QA = Path(sys.executable).with_name("qa")
HOST = "127.0.0.1"
HARD_CAP_S = 300.0
MAX_CLIENTS = 128
START_TIMEOUT_S = 300.0
REQUEST_TIMEOUT_S = 60.0


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def server_env(args) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update({"QA_CACHE_DIR": str(ROOT / ".cache"), "QA_RELOAD_INTERVAL_S": "0", "PYTHONUNBUFFERED": "1"})
    if not args.answer_cache:
        env["QA_CACHE_SIZE"] = "0"
    for name in ("max_concurrency", "max_queue", "queue_timeout_s", "query_threads"):
        value = getattr(args, name)
        if value is not None:
            env[f"QA_{name.upper()}"] = str(value)
    return env


def build_seeds_index(workdir: Path, env: dict[str, str]) -> Path:
    index = workdir / "index"
    print(f"building the seeds index in {index} ...", flush=True)
    subprocess.run([str(QA), "build", "--source", str(ROOT / "seeds"), "--index", str(index)], check=True,
                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    return index


def wait_ready(proc: subprocess.Popen, base: str, log: Path) -> dict:
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(base_url=base, timeout=5) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"qa serve exited ({proc.returncode}); log:\n{log.read_text()[-3000:]}")
            try:
                r = client.get("/api/health")
                if r.status_code == 200:
                    return r.json()
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
    raise SystemExit(f"qa serve did not come up in {START_TIMEOUT_S:.0f}s")


def rss_mb(proc: psutil.Process) -> float:
    total = proc.memory_info().rss
    for child in proc.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def run(args) -> dict:
    duration = min(float(args.duration), HARD_CAP_S)
    clients = max(1, min(int(args.clients), MAX_CLIENTS))
    env = server_env(args)
    qs = load_seed_questions()
    with tempfile.TemporaryDirectory(prefix="qa-load-") as tmp:
        workdir = Path(tmp)
        index = Path(args.index) if args.index else build_seeds_index(workdir, env)
        port = free_port()
        base = f"http://{HOST}:{port}"
        log = workdir / "serve.log"
        with log.open("w") as log_fh:
            server = subprocess.Popen(
                [str(QA), "serve", "--index", str(index), "--host", HOST, "--port", str(port)],
                stdout=log_fh, stderr=subprocess.STDOUT, env=env,
            )
            try:
                health = wait_ready(server, base, log)
                if not health.get("ok"):
                    raise SystemExit(f"the server has no index: {health.get('error')}")
                ps = psutil.Process(server.pid)
                rss_start = rss_mb(ps)
                print(f"server up on {base}: {health['documents']} documents, {health['passages']} passages; "
                      f"{clients} clients for {duration:.0f}s", flush=True)
                result = _drive(base, qs, clients, duration, ps)
                result["rss_start_mb"] = round(rss_start, 1)
                result["health"] = health
            finally:
                server.terminate()
                try:
                    server.wait(30)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait(30)
    result["config"] = {
        "clients": clients, "duration_s": duration, "answer_cache": bool(args.answer_cache),
        "max_concurrency": args.max_concurrency, "max_queue": args.max_queue,
        "queue_timeout_s": args.queue_timeout_s, "query_threads": args.query_threads,
        "questions": len(qs), "cpu_count": os.cpu_count(), "python": platform.python_version(),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    return result


def _drive(base: str, qs: list[str], clients: int, duration: float, ps: psutil.Process) -> dict:
    stop = threading.Event()
    lock = threading.Lock()
    records: list[tuple[float, int, float]] = []  # (start offset s, status or -1, latency s)
    errors: Counter[str] = Counter()
    rss: list[tuple[float, float]] = []
    started = time.monotonic()
    deadline = started + duration

    def client(n: int) -> None:
        i = n
        with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S) as http:
            while not stop.is_set() and time.monotonic() < deadline:
                question = qs[i % len(qs)]
                i += clients
                t0 = time.monotonic()
                try:
                    status = http.post("/api/ask", json={"question": question, "top_k": 5}).status_code
                except httpx.HTTPError as exc:
                    status = -1
                    with lock:
                        errors[type(exc).__name__] += 1
                t1 = time.monotonic()
                with lock:
                    records.append((t0 - started, status, t1 - t0))

    def sample_rss() -> None:
        while not stop.is_set() and time.monotonic() < deadline + REQUEST_TIMEOUT_S:
            try:
                rss.append((round(time.monotonic() - started, 1), round(rss_mb(ps), 1)))
            except psutil.Error:
                return
            stop.wait(1.0)

    sampler = threading.Thread(target=sample_rss, daemon=True)
    sampler.start()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        futures = [pool.submit(client, n) for n in range(clients)]
        hard_deadline = deadline + REQUEST_TIMEOUT_S + 30
        for f in futures:
            f.result(timeout=max(1.0, hard_deadline - time.monotonic()))
    stop.set()
    sampler.join(5)
    elapsed = time.monotonic() - started

    statuses = Counter(status for _, status, _ in records)
    ok = [lat * 1000 for _, status, lat in records if status == 200]
    shed = [lat * 1000 for _, status, lat in records if status == 503]
    every = [lat * 1000 for _, _, lat in records]

    def stats(values: list[float]) -> dict:
        return {
            "n": len(values),
            "p50_ms": _r(percentile(values, 50)), "p90_ms": _r(percentile(values, 90)),
            "p95_ms": _r(percentile(values, 95)), "p99_ms": _r(percentile(values, 99)),
            "max_ms": _r(max(values) if values else None),
            "mean_ms": _r(statistics.fmean(values) if values else None),
        }

    rss_values = [v for _, v in rss]
    return {
        "elapsed_s": round(elapsed, 1),
        "requests": len(records),
        "throughput_rps": round(len(records) / elapsed, 2) if elapsed else None,
        "ok_rps": round(len(ok) / elapsed, 2) if elapsed else None,
        "status_counts": {str(k): v for k, v in sorted(statuses.items())},
        "count_503": statuses.get(503, 0),
        "share_503": round(statuses.get(503, 0) / len(records), 4) if records else None,
        "client_errors": dict(errors),
        "latency_all": stats(every),
        "latency_200": stats(ok),
        "latency_503": stats(shed),
        "rss_mb": {"samples": rss, "min": _r(min(rss_values, default=None)), "max": _r(max(rss_values, default=None)),
                   "last": _r(rss_values[-1] if rss_values else None)},
    }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def print_table(result: dict) -> None:
    c = result["config"]
    print(f"\nqa serve under load: {c['clients']} clients, {result['elapsed_s']}s, answer cache "
          f"{'on' if c['answer_cache'] else 'off'}, {c['cpu_count']} CPUs (load avg at start {c['load_avg_at_start']})")
    print(f"requests {result['requests']}  ({result['throughput_rps']}/s; {result['ok_rps']}/s answered)")
    print("status   " + "  ".join(f"{k}: {v}" for k, v in result["status_counts"].items())
          + (f"  client errors: {result['client_errors']}" if result["client_errors"] else ""))
    print(f"{'latency':<10}{'n':>7}{'p50':>9}{'p90':>9}{'p95':>9}{'p99':>9}{'max':>9}   (ms)")
    for key in ("latency_all", "latency_200", "latency_503"):
        s = result[key]
        cells = "".join(f"{(s[f] if s[f] is not None else '-'):>9}" for f in ("p50_ms", "p90_ms", "p95_ms", "p99_ms",
                                                                             "max_ms"))
        print(f"{key.split('_')[1]:<10}{s['n']:>7}{cells}")
    m = result["rss_mb"]
    print(f"server RSS (MB): start {result['rss_start_mb']}, min {m['min']}, max {m['max']}, end {m['last']} "
          f"({len(m['samples'])} samples)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help=f"seconds of load (capped at {HARD_CAP_S:.0f})")
    parser.add_argument("--clients", type=int, default=32, help=f"concurrent clients (at most {MAX_CLIENTS})")
    parser.add_argument("--index", default=None, help="an index to serve [default: build the seeds in a tmp dir]")
    parser.add_argument("--answer-cache", action="store_true", help="leave the server's answer cache on")
    parser.add_argument("--max-concurrency", type=int, default=None, help="QA_MAX_CONCURRENCY for the server")
    parser.add_argument("--max-queue", type=int, default=None, help="QA_MAX_QUEUE for the server")
    parser.add_argument("--queue-timeout-s", type=float, default=None, help="QA_QUEUE_TIMEOUT_S for the server")
    parser.add_argument("--query-threads", type=int, default=None, help="QA_QUERY_THREADS for the server")
    parser.add_argument("--out", type=Path, default=RESULTS / "load.json")
    args = parser.parse_args(argv)
    result = run(args)
    print_table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
