"""Run the benchmarks one after another (never two at once: they would measure each other).

    .venv/bin/python -m bench.run_all                 # latency, threads, build, memory, scale (~35 min)
    .venv/bin/python -m bench.run_all latency build   # a selection

bench.onnx_quality (needs the onnx extra), bench.load, bench.decision, bench.sentences and bench.conversation
are run on their own.
"""

from __future__ import annotations

import subprocess
import sys

from ._common import ROOT

DEFAULT = ["latency", "threads", "build", "memory", "scale"]


def main() -> None:
    names = sys.argv[1:] or DEFAULT
    failed = []
    for name in names:
        print(f"\n# bench.{name}\n", flush=True)
        if subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=ROOT).returncode != 0:
            failed.append(name)
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
