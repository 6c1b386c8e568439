"""End-to-end latency of `qa serve` under load, against the bare cost of encoding the question.

Builds the seeds index (`qa build --source seeds --index <tmp>`), starts `qa serve` on 127.0.0.1 and a free
port with ``QA_CACHE_SIZE=0`` (every request does the full work), and drives ``POST /api/ask`` with `wrk`
(Debian package ``wrk``; installed with apt-get when missing) at 1, 4 and 16 connections for ``--duration``
seconds each, rotating over the questions of ``tests/data/seed_qa.jsonl``. wrk's latency distribution gives
p50/p90/p99 and requests/s; non-2xx answers, socket errors and timeouts are counted.

In the same run, the bare model cost is measured in-process: ``embed_queries([q])`` for the same questions
at 1 thread and at every core, interleaved; the encoder's *best* setting is the lower median. The headline
ratio is p50(c=1) / that best median: what the HTTP stack, retrieval and answer extraction add on top of
the model at its best. It is also measured paired (one HTTP request, then one bare encode per thread
setting, alternating, so both see the same machine load).

Every load level runs twice, side by side: with the shipped thread rule (``QA_ADAPTIVE_THREADS=1``: every
core for a question alone on idle cores, ``QA_QUERY_THREADS`` under load; qa/serve/threads.py) and with
a fixed ``QA_QUERY_THREADS`` (``QA_ADAPTIVE_THREADS=0``), so c=16 throughput can be compared.

Finally a second server with the default answer cache answers one repeated question (cache-hit path).
Every figure records the machine's load average and CPU pressure (it is shared).

    .venv/bin/python -m bench.latency [--duration 20] [--levels 1,4,16] [--backend torch|onnx]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ._common import (
    Server,
    build_seed_index,
    ensure_tool,
    env_with,
    load_seed_questions,
    machine,
    median,
    percentile,
    table,
    write_results,
)

LUA = r"""
-- POST /api/ask, rotating over the bodies in BODIES (one JSON body a line)
local bodies = {}
for line in io.lines(os.getenv("BENCH_BODIES")) do bodies[#bodies + 1] = line end
local counter = 0
local threads = {}
local bad = 0
local statuses = {}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function setup(thread)
  thread:set("offset", #threads * 7)
  table.insert(threads, thread)
end

function init(args)
  counter = offset or 0
end

function request()
  counter = counter + 1
  return wrk.format(nil, "/api/ask", nil, bodies[(counter % #bodies) + 1])
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    bad = bad + 1
    statuses[status] = (statuses[status] or 0) + 1
    if bad == 1 then io.stderr:write("BENCH_FIRST_ERROR " .. status .. " " .. string.sub(body, 1, 300) .. "\n") end
  end
end

function done(summary, latency, requests)
  local non2xx = 0
  for _, t in ipairs(threads) do non2xx = non2xx + (t:get("bad") or 0) end
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, ' ..
    '"timeout": %d, "non2xx": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout, non2xx, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
"""


def run_wrk(wrk: str, url: str, script: Path, bodies: Path, connections: int, duration: int) -> dict:
    threads = min(connections, 2)
    cmd = [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "30s", "--latency",
           "-s", str(script), url]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 120,
                          env=dict(os.environ, BENCH_BODIES=str(bodies)))
    first_error = re.findall(r"BENCH_FIRST_ERROR (.*)", proc.stderr)
    match = re.search(r"BENCH_JSON (\{.*\})", proc.stdout)
    if proc.returncode != 0 or not match:
        raise SystemExit(f"wrk failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    data = json.loads(match.group(1))
    seconds = data["duration_us"] / 1e6
    errors = data["connect"] + data["read"] + data["write"] + data["timeout"]
    return {
        "connections": connections, "threads": threads, "duration_s": seconds, "requests": data["requests"],
        "rps": data["requests"] / seconds if seconds else 0.0, "p50_ms": data["p50_us"] / 1000,
        "p90_ms": data["p90_us"] / 1000, "p99_ms": data["p99_us"] / 1000, "max_ms": data["max_us"] / 1000,
        "mean_ms": data["mean_us"] / 1000, "non2xx": max(data["non2xx"], data["status"]), "socket_errors": errors,
        "wrk_output": proc.stdout[-1500:], "first_errors": first_error[:4],
    }


def drain(level: dict) -> None:
    """wrk abandons its in-flight requests when a level ends; the server still answers them. Let it finish,
    or the next level starts with those still holding the gate (and is shed with 503)."""
    time.sleep(min(30.0, 2.0 + 3 * level["max_ms"] / 1000))


def bare_encode(embedder, questions: list[str], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        for q in questions:
            start = time.perf_counter()
            embedder.embed_queries([q])
            times.append((time.perf_counter() - start) * 1000)
    return times


def paired(server, embedders: dict, questions: list[str], rounds: int) -> dict:
    """Alternate one HTTP request (c=1) and one bare encode of the same question per thread setting, so all
    see the same load; the ratio is against the faster setting."""
    http_ms: list[float] = []
    enc_ms: dict[int, list[float]] = {t: [] for t in embedders}
    for _ in range(rounds):
        for q in questions:
            start = time.perf_counter()
            server.ask(q)
            http_ms.append((time.perf_counter() - start) * 1000)
            for threads, embedder in embedders.items():
                start = time.perf_counter()
                embedder.embed_queries([q])
                enc_ms[threads].append((time.perf_counter() - start) * 1000)
    medians = {t: median(v) for t, v in enc_ms.items()}
    best = min(medians, key=medians.get)
    return {"http_p50_ms": median(http_ms), "http_p95_ms": percentile(http_ms, 95),
            "encode_median_ms_by_threads": medians, "best_threads": best, "encode_median_ms": medians[best],
            "n": len(http_ms), "ratio": median(http_ms) / medians[best], "pressure": pressure()}


def pressure() -> dict:
    from qa.serve.threads import cpu_pressure

    return {"loadavg_1m": os.getloadavg()[0], "cpu_pressure_avg10": cpu_pressure()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=20, help="seconds per concurrency level")
    parser.add_argument("--levels", default="1,4,16")
    parser.add_argument("--encode-rounds", type=int, default=3, help="passes over the questions per encode block")
    parser.add_argument("--cache-duration", type=int, default=10, help="seconds of the answer-cache hit run")
    parser.add_argument("--backend", default=None, help="QA_BACKEND for the server and the bare encoder "
                                                         "[default: the settings' default]")
    parser.add_argument("--max-queue", type=int, default=None,
                        help="QA_MAX_QUEUE for the load levels [the largest level, so c=16 queues instead of "
                             "being shed]; the default settings are also run at the largest level")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",") if x]
    wrk = ensure_tool("wrk", "wrk")
    info = machine()

    from embeddings import load_embedder
    from qa.settings import Settings

    questions = load_seed_questions()
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp_name:
        tmp = Path(tmp_name)
        index_dir = tmp / "index"
        build_seed_index(index_dir, env_with())
        bodies = tmp / "bodies.jsonl"
        bodies.write_text("".join(json.dumps({"question": q}, ensure_ascii=False) + "\n" for q in questions),
                          encoding="utf-8")
        one_body = tmp / "one.jsonl"
        one_body.write_text(json.dumps({"question": questions[0]}, ensure_ascii=False) + "\n", encoding="utf-8")
        script = tmp / "ask.lua"
        script.write_text(LUA, encoding="utf-8")

        settings = Settings(_env_file=None, **({"backend": args.backend} if args.backend else {}))
        from embeddings.model import cpu_count

        embedders = {t: load_embedder(settings.model, cache_dir=settings.cache_dir, backend=settings.backend,
                                      query_threads=t) for t in sorted({1, cpu_count()})}
        for embedder in embedders.values():
            bare_encode(embedder, questions[:5], 1)  # warm-up

        max_queue = args.max_queue if args.max_queue is not None else max(levels)
        base_env = {"QA_CACHE_SIZE": 0, "QA_RELOAD_INTERVAL_S": 0, "QA_BACKEND": settings.backend}
        levels_out = []
        encode_ms: dict[int, list[float]] = {t: [] for t in embedders}
        pair: dict = {}
        for rule, adaptive in (("adaptive", 1), ("fixed", 0)):
            env = env_with(QA_MAX_QUEUE=max_queue, QA_ADAPTIVE_THREADS=adaptive, **base_env)
            with Server(index_dir, env) as server:
                for q in questions[:5]:  # warm-up: first requests load lazy parts (jieba, tokenizer caches)
                    server.ask(q)
                if rule == "adaptive":
                    pair = paired(server, embedders, questions, args.encode_rounds)
                for c in levels:
                    print(f"wrk: {rule} threads, {c} connection(s), {args.duration}s ...", file=sys.stderr)
                    for t, embedder in embedders.items():
                        encode_ms[t] += bare_encode(embedder, questions, 1)
                    level = run_wrk(wrk, server.url, script, bodies, c, args.duration)
                    level.update(rule=rule, pressure=pressure())
                    levels_out.append(level)
                    drain(levels_out[-1])
        with Server(index_dir, env_with(**base_env)) as server:  # default queue
            server.ask(questions[0])
            shed = run_wrk(wrk, server.url, script, bodies, max(levels), args.duration)
            shed["settings"] = f"default QA_MAX_QUEUE={settings.max_queue}"
        cached = []
        with Server(index_dir, env_with(QA_RELOAD_INTERVAL_S=0, QA_BACKEND=settings.backend)) as server:  # cache
            server.ask(questions[0])
            for c in (1, 4):
                cached.append(run_wrk(wrk, server.url, script, one_body, c, args.cache_duration))
                drain(cached[-1])

    by_threads = {t: {"median_ms": median(v), "p95_ms": percentile(v, 95), "n": len(v)} for t, v in encode_ms.items()}
    best = min(by_threads, key=lambda t: by_threads[t]["median_ms"])
    enc = dict(by_threads[best], best_threads=best, by_threads=by_threads)
    adaptive = [lv for lv in levels_out if lv["rule"] == "adaptive"]
    fixed = [lv for lv in levels_out if lv["rule"] == "fixed"]
    c1 = next((lv for lv in adaptive if lv["connections"] == 1), adaptive[0])
    c16 = next((lv for lv in adaptive if lv["connections"] == 16), adaptive[-1])
    c16_fixed = next((lv for lv in fixed if lv["connections"] == 16), fixed[-1])
    ratio = c1["p50_ms"] / enc["median_ms"]
    throughput = c16["rps"] / c16_fixed["rps"] if c16_fixed["rps"] else float("nan")
    targets = {
        "p50_c1_over_best_encode (wrk c=1 vs encode blocks)": {"value": ratio, "target": "<= 1.25",
                                                                "met": ratio <= 1.25},
        "c16_rps_adaptive_over_fixed": {"value": throughput, "target": ">= 0.95", "met": throughput >= 0.95},
        "p50_c1_over_encode (paired, alternating)": {"value": pair["ratio"], "target": "<= 1.25",
                                                      "met": pair["ratio"] <= 1.25},
        "c16_errors": {"value": c16["non2xx"] + c16["socket_errors"], "target": "0",
                       "met": c16["non2xx"] + c16["socket_errors"] == 0},
        "c16_p99_over_p50": {"value": c16["p99_ms"] / c16["p50_ms"], "target": "< 10",
                             "met": c16["p99_ms"] / c16["p50_ms"] < 10},
    }
    results = {"machine": info, "params": vars(args) | {"questions": len(questions), "backend": settings.backend,
                                                         "query_threads": settings.query_threads,
                                                         "max_queue": max_queue,
                                                         "max_concurrency": settings.max_concurrency},
               "encode": enc, "paired": pair, "levels": levels_out, "default_queue": shed, "cache_hit": cached,
               "targets": targets}
    path = write_results("latency", results)

    print(f"## bench.latency: qa serve, seeds index, {len(questions)} questions, backend {settings.backend}, "
          f"QA_MAX_QUEUE={max_queue} ({info['cpus']} CPUs, {info['date']})\n")
    rows = [[f"c={lv['connections']}, {lv['rule']} threads", lv["requests"], round(lv["rps"], 1), lv["p50_ms"],
             lv["p90_ms"], lv["p99_ms"], lv["non2xx"], lv["socket_errors"],
             f"{lv['pressure']['loadavg_1m']:.1f} / {lv['pressure']['cpu_pressure_avg10']}"] for lv in levels_out]
    rows.append([f"c={shed['connections']}, {shed['settings']}", shed["requests"], round(shed["rps"], 1),
                 shed["p50_ms"], shed["p90_ms"], shed["p99_ms"], shed["non2xx"], shed["socket_errors"], ""])
    rows += [[f"cache hit c={lv['connections']}", lv["requests"], round(lv["rps"], 1), lv["p50_ms"], lv["p90_ms"],
              lv["p99_ms"], lv["non2xx"], lv["socket_errors"], ""] for lv in cached]
    print(table(["load", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms", "non-2xx", "socket errors",
                 "load avg / CPU pressure %"], rows))
    threads_text = ", ".join(f"{t} thread(s) {v['median_ms']:.1f} ms" for t, v in by_threads.items())
    print(f"\nbare embed_queries (in-process, medians before each level): {threads_text}; best {best}")
    paired_text = ", ".join(f"{t} thread(s) {v:.1f} ms" for t, v in pair["encode_median_ms_by_threads"].items())
    print(f"paired (HTTP request then bare encodes of the same question, n={pair['n']}): HTTP p50 "
          f"{pair['http_p50_ms']:.1f} ms, encode medians {paired_text}, ratio to the best {pair['ratio']:.2f}\n")
    print(table(["target", "value", "goal", "met"],
                [[k, round(v["value"], 3), v["target"], "yes" if v["met"] else "NO"] for k, v in targets.items()]))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
