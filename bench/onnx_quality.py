"""Retrieval quality of the ONNX int8 backend against torch: `qa eval` with QA_BACKEND=torch and =onnx.

Runs every set, per backend, into a separate index directory per backend (their model fingerprints differ),
kept under ``.cache/eval-indexes/backend-*`` so a re-run reuses them:
  * ``qa eval --queries tests/data/seed_qa.jsonl`` (seeds corpus);
  * ``qa eval --corpus xquad_zh/corpus.jsonl --queries xquad_zh/queries.zh.jsonl`` and ``queries.en.jsonl``;
  * CMRC 2018 dev and DRCD dev (traditional Chinese).
Hybrid and dense-only legs are both reported. Target: Recall@5 of onnx within 1 point of torch on every set.

    .venv/bin/python -m bench.onnx_quality                       # every set (~1-2 h on 2 busy cores)
    .venv/bin/python -m bench.onnx_quality --sets seed_qa,cmrc   # a selection (names match by prefix)
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from ._common import EVAL, ROOT, env_with, machine, qa_command, run, table, write_results

SETS = {
    "seed_qa": (None, ROOT / "tests" / "data" / "seed_qa.jsonl"),
    "xquad_zh (zh questions)": (EVAL / "xquad_zh" / "corpus.jsonl", EVAL / "xquad_zh" / "queries.zh.jsonl"),
    "xquad_zh (en questions)": (EVAL / "xquad_zh" / "corpus.jsonl", EVAL / "xquad_zh" / "queries.en.jsonl"),
    "cmrc2018_dev": (EVAL / "cmrc2018_dev" / "corpus.jsonl", EVAL / "cmrc2018_dev" / "queries.jsonl"),
    "drcd_dev": (EVAL / "drcd_dev" / "corpus.jsonl", EVAL / "drcd_dev" / "queries.jsonl"),
}
INDEXES = ROOT / ".cache" / "eval-indexes"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--legs", default="hybrid,dense")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--sets", default="", help="comma-separated name prefixes (default: every set)")
    args = parser.parse_args()
    wanted = [w.strip() for w in args.sets.split(",") if w.strip()]
    sets = {name: paths for name, paths in SETS.items() if not wanted or any(name.startswith(w) for w in wanted)}
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise SystemExit("the onnx extra is not installed: .venv/bin/pip install -e '.[onnx]'") from None
    info = machine()
    results: dict = {"machine": info, "params": vars(args), "runs": []}
    for name, (corpus, queries) in sets.items():
        for backend in ("torch", "onnx"):
            index = INDEXES / f"backend-{backend}-{'seeds' if corpus is None else corpus.parent.name}"
            cmd = qa_command("eval", "--queries", str(queries), "--index", str(index), "--legs", args.legs, "--json")
            if corpus is not None:
                cmd += ["--corpus", str(corpus)]
            if args.limit:
                cmd += ["--limit", str(args.limit)]
            load = os.getloadavg()[0]
            proc = run(cmd, env=env_with(QA_BACKEND=backend), timeout=4 * 3600)
            summary = json.loads(proc.stdout[proc.stdout.index("{"):])
            results["runs"].append({"set": name, "backend": backend, "summary": summary,
                                    "loadavg": [load, os.getloadavg()[0]]})
            print(f"{name} {backend}: done", file=sys.stderr)
            write_results("onnx_quality", results)

    legs = [leg for leg in args.legs.split(",") if leg]

    def legs_of(summary: dict) -> dict:
        return summary if len(legs) > 1 else {legs[0]: summary}

    rows, deltas = [], []
    for name in sets:
        by = {r["backend"]: legs_of(r["summary"]) for r in results["runs"] if r["set"] == name}
        for leg in legs:
            t, o = by["torch"][leg]["all"], by["onnx"][leg]["all"]
            rows.append([name, leg, t["n"]] + [f"{t[k]:.3f} / {o[k]:.3f}" for k in ("R@1", "R@5", "R@10", "MRR@10")])
            deltas.append({"set": name, "leg": leg, "torch": t["R@5"], "onnx": o["R@5"],
                           "delta_points": 100 * (o["R@5"] - t["R@5"])})
    results["recall5_deltas"] = deltas
    results["target_met"] = all(d["delta_points"] >= -1.0 for d in deltas if d["leg"] == "hybrid")
    path = write_results("onnx_quality", results)
    print(f"## bench.onnx_quality: torch / onnx int8 ({info['date']})\n")
    print(table(["set", "leg", "n", "R@1 torch / onnx", "R@5 torch / onnx", "R@10 torch / onnx",
                 "MRR@10 torch / onnx"], rows))
    print()
    print(table(["set", "leg", "R@5 delta (points)"], [[d["set"], d["leg"], f"{d['delta_points']:+.1f}"]
                                                      for d in deltas]))
    print(f"\nR@5 within 1 point of torch (hybrid): {'yes' if results['target_met'] else 'NO'}")
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
