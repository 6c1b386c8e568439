"""Shared helpers of the benchmarks: results files, markdown tables, the machine, subprocesses, RSS sampling."""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SEEDS = ROOT / "seeds"
SEED_QA = ROOT / "tests" / "data" / "seed_qa.jsonl"
EVAL = ROOT.parent / "shared" / "eval"
PY = sys.executable


def machine() -> dict[str, Any]:
    """What the figures were measured on, and how busy the machine was (other processes share it)."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for package in ("torch", "sentence-transformers", "transformers", "faiss-cpu", "onnxruntime", "numpy"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            continue
    cpu = ""
    try:
        cpu = next(
            (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
             if line.startswith("model name")), "",
        )
    except OSError:
        pass
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = os.cpu_count() or 1
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": affinity,
        "cpu": cpu,
        "memory_gib": round(_mem_total() / 2**30, 1),
        "python": platform.python_version(),
        "versions": versions,
        "loadavg_start": list(os.getloadavg()),
    }


def _mem_total() -> int:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except ImportError:  # pragma: no cover
        return 0


def write_results(name: str, data: dict[str, Any]) -> Path:
    """Write ``bench/results/<name>.json`` (load average at the end added) and return the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    data.setdefault("machine", {})["loadavg_end"] = list(os.getloadavg())
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown table."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 100 else f"{v:,.0f}"
        return str(v)

    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(out)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    data = sorted(values)
    k = (len(data) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def qa_command(*args: str) -> list[str]:
    """The `qa` CLI of this checkout, run by this interpreter."""
    return [PY, "-m", "qa", *args]


def env_with(**values: str | Path | int | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("QA_INDEX_DIR", None)
    for key, value in values.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = str(value)
    return env


def run(cmd: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 600, check: bool = True,
        cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run a command to completion (bounded by ``timeout``), capturing its output."""
    proc = subprocess.run(list(cmd), env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise SystemExit(
            f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
        )
    return proc


def cache_dir_with_models(folder: Path) -> Path:
    """A fresh QA_CACHE_DIR whose models/ is this checkout's converted model (a symbolic link: no copy)."""
    folder.mkdir(parents=True, exist_ok=True)
    models = ROOT / ".cache" / "models"
    if not models.is_dir():
        run(qa_command("prepare"), timeout=900)
    link = folder / "models"
    if not link.exists():
        link.symlink_to(models, target_is_directory=True)
    return folder


def build_seed_index(index_dir: Path, env: dict[str, str] | None = None) -> None:
    """`qa build --source seeds --index <index_dir>` (the repository's embedding cache makes it quick)."""
    run(qa_command("build", "--source", str(SEEDS), "--index", str(index_dir)), env=env, timeout=900)


def load_seed_questions() -> list[str]:
    rows = [json.loads(line) for line in SEED_QA.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r.get("question") or r.get("text") for r in rows]


class Server:
    """`qa serve` on 127.0.0.1 and a free port, started and stopped (by its own pid) as a context manager."""

    def __init__(self, index_dir: Path, env: dict[str, str], *, startup_s: float = 300) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.index_dir, self.env, self.startup_s = index_dir, env, startup_s
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        cmd = qa_command("serve", "--index", str(self.index_dir), "--host", "127.0.0.1", "--port", str(self.port))
        # stderr (one JSON line per request) into a file: a pipe nobody reads would fill and stall the server
        import tempfile

        self.log = tempfile.TemporaryFile(mode="w+", prefix="bench-serve-", suffix=".log")
        self.proc = subprocess.Popen(cmd, env=self.env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self.log,
                                     text=True, start_new_session=True)
        deadline = time.monotonic() + self.startup_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise SystemExit(f"qa serve exited ({self.proc.returncode}): {self.log.read()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/api/health", timeout=2) as resp:
                    if json.loads(resp.read()).get("ok"):
                        return self
            except OSError:
                pass
            time.sleep(0.5)
        self.stop()
        raise SystemExit(f"qa serve did not become healthy within {self.startup_s:.0f}s")

    def ask(self, question: str, timeout: float = 60) -> dict:
        body = json.dumps({"question": question}).encode()
        req = urllib.request.Request(self.url + "/api/ask", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)

    def log_text(self) -> str:
        """What the server wrote to stderr so far."""
        self.log.flush()
        self.log.seek(0)
        text = self.log.read()
        self.log.seek(0, 2)
        return text

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.log.close()


class RssSampler:
    """Samples the resident set size of a process and all its children every ``interval`` seconds, in a thread."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        import psutil

        self._root = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self.last = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def tree_rss(self) -> int:
        import psutil

        total = 0
        try:
            procs = [self._root, *self._root.children(recursive=True)]
        except psutil.Error:
            return 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                continue
        return total

    def _loop(self) -> None:
        while not self._stop.is_set():
            rss = self.tree_rss()
            if rss:
                self.last = rss
                self.peak = max(self.peak, rss)
                self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def ensure_tool(name: str, package: str) -> str:
    """The path of ``name``; installs Debian's ``package`` with apt-get when missing (we are root here)."""
    found = shutil.which(name)
    if found:
        return found
    print(f"{name} is not installed: installing the Debian package '{package}' with apt-get ...", file=sys.stderr)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env, timeout=600)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", package], check=True, env=env, timeout=600)
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"{name} is still missing after installing {package}")
    return found


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def seed_retriever(settings):
    """The model of ``settings`` and a retriever over the seeds, built (or reused) in the cache, warmed up."""
    from embeddings import load_embedder
    from qa.index.build import build_index
    from qa.index.store import load_index
    from qa.search.retriever import Retriever

    embedder = load_embedder(settings.model, cache_dir=settings.cache_dir, backend=settings.backend,
                             query_threads=settings.query_threads)
    index_dir = settings.cache_dir / "decision" / "indexes" / "seeds"
    build_index([SEEDS], index_dir, embedder, cache_dir=settings.cache_dir)
    retriever = Retriever(embedder, load_index(index_dir, embedder))
    retriever.warm_up()
    return retriever
