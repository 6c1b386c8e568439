"""How long a change to the collection takes, end to end: upload (POST), replace (PUT) and delete (DELETE)
one document through the real app on the seeds index, until the answer to a question about it reflects
the change (the route reloads the service before it answers, so the next question sees it).

Each document is new text (nothing cached), about one page; the other five documents come from the
embedding cache.

    python -m bench.collection [--rounds 5]      # writes bench/results/collection.json, prints a table
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from ._common import RESULTS, SEEDS, machine

TOKEN = "bench-token"


def _text(n: int) -> bytes:
    rows = [f"第{i}条：医院第{n}号院区新设第{i}病区，床位{20 + i}张，由第{i}护理组负责日常护理。" for i in range(12)]
    body = "".join(rows)
    return f"第{n}号院区简介\n\n{body}\n\n本院区编号{time.time_ns()}。\n".encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from embeddings import load_embedder
    from qa.index.build import build_index
    from qa.serve.app import create_app
    from qa.settings import Settings

    settings = Settings()
    embedder = load_embedder(settings.model, cache_dir=settings.cache_dir, backend=settings.backend)
    timings: dict[str, list[float]] = {"POST (add)": [], "PUT (replace)": [], "DELETE": [], "first question after": []}
    embedded: list[int] = []
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        build_index([SEEDS], index_dir, embedder, cache_dir=settings.cache_dir)
        app_settings = Settings(_env_file=None, index_dir=index_dir, admin_token=TOKEN, reload_interval_s=0,
                                cache_size=0, cache_dir=settings.cache_dir)
        app = create_app(app_settings, embedder=embedder, watch=False)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        with TestClient(app) as client:
            for n in range(args.rounds):
                started = time.perf_counter()
                upload = {"file": (f"院区{n}.txt", _text(n), "text/plain")}
                r = client.post("/api/documents", files=upload, headers=auth)
                timings["POST (add)"].append(time.perf_counter() - started)
                assert r.status_code == 201, r.text
                embedded.append(r.json()["embedded"])
                started = time.perf_counter()
                reply = client.post("/api/ask", json={"question": f"第{n}号院区第3病区有多少张床位？"}).json()
                timings["first question after"].append(time.perf_counter() - started)
                assert any(p["doc_id"] == f"院区{n}" for p in reply["passages"]), reply
                started = time.perf_counter()
                r = client.put(f"/api/documents/院区{n}", files={"file": ("x.txt", _text(n + 100), "text/plain")},
                               headers=auth)
                timings["PUT (replace)"].append(time.perf_counter() - started)
                assert r.status_code == 200, r.text
                started = time.perf_counter()
                r = client.delete(f"/api/documents/院区{n}", headers=auth)
                timings["DELETE"].append(time.perf_counter() - started)
                assert r.status_code == 200, r.text
    figures = {k: {"median_s": round(statistics.median(v), 2), "max_s": round(max(v), 2), "n": len(v)}
               for k, v in timings.items()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "collection.json").write_text(json.dumps({"machine": machine(), "results": figures,
                                                         "embedded_per_add": embedded}, indent=2), encoding="utf-8")
    print(f"sentence units embedded per upload: {embedded}")
    print("| change | median | max |")
    print("|---|---:|---:|")
    for k, v in figures.items():
        print(f"| {k} | {v['median_s']:.2f} s | {v['max_s']:.2f} s |")


if __name__ == "__main__":
    main()
