"""`qa build --ray` on a real two-node Ray cluster (`ray start --head` plus `ray start --address`, one CPU
each), with the real model on both workers: a build killed part-way resumes from the embedding cache, the
manifest records Ray and its nodes, and every vector equals the local build's (cosine >= 0.999).

Ray's servers listen on every interface, so the cluster and the builds run in a network namespace of their
own (``unshare -n``: only a loopback device); this file is also the script that runs in there
(``python tests/test_ray.py --inside DIR``). The nodes are ended by their process groups afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
NODE_IP = "127.0.0.2"  # Ray turns 127.0.0.1 into the machine's outward address; any other loopback it keeps
PORT = 6399
FLUSH = 256  # the build commits the cache every 256 units (qa.index embed_with_cache)


def _wait_nodes(address: str, want: int, limit_s: float = 120) -> int:
    code = ("import ray,sys; ray.init(address=sys.argv[1], log_to_driver=False); "
            "print(sum(1 for n in ray.nodes() if n['Alive']))")
    deadline, seen = time.time() + limit_s, 0
    while time.time() < deadline:
        out = subprocess.run([sys.executable, "-c", code, address], capture_output=True, text=True, timeout=60)
        seen = int(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 and out.stdout.strip() else 0
        if seen >= want:
            return seen
        time.sleep(1)
    return seen


def _cached(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(str(db), timeout=5) as con:
            return int(con.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])
    except sqlite3.Error:
        return 0


def inside(work: Path) -> None:
    """In the namespace: start the cluster, kill one `qa build --ray` part-way, run another to the end."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "QA_CACHE_DIR": str(work / "cache"),
           "QA_INDEX_DIR": str(work / "index")}
    ray = str(BIN / "ray")
    common = ["--num-cpus", "1", "--node-ip-address", NODE_IP, "--object-store-memory", str(80 * 2**20),
              "--disable-usage-stats", "--block"]
    address = f"{NODE_IP}:{PORT}"
    nodes: list[subprocess.Popen] = []
    result: dict = {}
    log = (work / "ray-nodes.log").open("w")
    try:
        nodes.append(subprocess.Popen([ray, "start", "--head", "--port", str(PORT), "--include-dashboard", "false",
                                       *common], env=env, stdout=log, stderr=log, start_new_session=True))
        result["head_nodes"] = _wait_nodes(address, 1)
        nodes.append(subprocess.Popen([ray, "start", "--address", address, *common], env=env, stdout=log,
                                      stderr=log, start_new_session=True))
        result["nodes"] = _wait_nodes(address, 2)
        qa = [str(BIN / "qa"), "build", "--source", str(work / "docs")]
        db = work / "cache" / "embeddings.sqlite"
        killed = subprocess.Popen([*qa, "--ray", address], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        deadline = time.time() + 400
        while time.time() < deadline and killed.poll() is None and _cached(db) < FLUSH:
            time.sleep(0.2)
        result["cached_at_kill"] = _cached(db)
        killed.send_signal(signal.SIGKILL)
        killed.communicate(timeout=60)
        result["killed_rc"] = killed.returncode
        resumed = subprocess.run([*qa, "--ray", "auto"], env=env, capture_output=True, text=True, timeout=500)
        result |= {"resumed_rc": resumed.returncode, "resumed_out": resumed.stdout,
                   "resumed_err": resumed.stderr[-3000:]}
    finally:
        for proc in nodes:  # `ray start --block` ends the node's processes when it is told to stop
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in nodes:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        log.close()
        (work / "result.json").write_text(json.dumps(result), encoding="utf-8")


@pytest.mark.slow
def test_ray_build_on_two_nodes_resumes_and_matches_the_local_vectors(tmp_path, cache_dir):
    """On the torch backend (fp32): the default onnx backend quantises activations per batch (dynamic int8), so
    its vectors move with the batch they were encoded in (Ray's chunks against a local build: cosine >= 0.995
    measured), while fp32 vectors do not."""
    pytest.importorskip("ray", reason="the ray extra (make test installs it)")
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        pytest.skip("needs root, unshare and ip for a private network namespace")
    from qa.index.store import load_index

    work = tmp_path
    shutil.copytree(ROOT / "seeds", work / "docs")  # the seeds: ~460 units, two cache chunks
    (work / "cache").mkdir()
    (work / "cache" / "models").symlink_to((cache_dir / "models").resolve())  # the converted model; a fresh cache
    started = time.time()
    run = subprocess.run(["unshare", "-n", sys.executable, __file__, "--inside", str(work)], capture_output=True,
                         text=True, timeout=900, env={**os.environ, "QA_BACKEND": "torch"})
    result = json.loads((work / "result.json").read_text(encoding="utf-8"))
    print(f"ray two-node run: {time.time() - started:.0f}s; {json.dumps(result)[:600]}")
    assert run.returncode == 0, run.stderr[-2000:]
    assert result["nodes"] == 2
    assert result["killed_rc"] == -signal.SIGKILL and FLUSH <= result["cached_at_kill"]
    assert result["resumed_rc"] == 0, result["resumed_err"]

    manifest = json.loads((work / "index" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["embedding"]["engine"] == "ray"
    assert manifest["embedding"]["nodes"] == 2 and manifest["embedding"]["nodes_used"] == 2
    assert manifest["embedding"]["workers"] == 2
    units = manifest["units"]
    assert 0 < manifest["embedded"] <= units - result["cached_at_kill"]  # resumed: the killed run's chunks reused
    assert f"{units - manifest['embedded']} from cache" in result["resumed_out"]

    from embeddings import load_embedder
    from qa.index.build import build_index

    embedder = load_embedder("default", cache_dir=cache_dir, backend="torch")
    index = load_index(work / "index", embedder)
    ray_vectors = index.vectors.reconstruct_all()
    build_index([ROOT / "seeds"], tmp_path / "local" / "index", embedder, cache_dir=cache_dir)
    local = load_index(tmp_path / "local" / "index", embedder)  # the same seeds built locally
    assert len(local.vectors) == len(ray_vectors) == units
    local_vectors = local.vectors.reconstruct_all()
    cosine = np.sum(ray_vectors * local_vectors, axis=1)
    assert cosine.min() >= 0.999, (cosine.min(), int(np.argmin(cosine)))


def test_unreachable_ray_address_is_one_line_before_the_model_loads(tmp_path):
    pytest.importorskip("ray", reason="the ray extra (make test installs it)")
    started = time.time()
    out = subprocess.run([str(BIN / "qa"), "build", "--source", str(ROOT / "seeds"), "--ray", "127.0.0.3:1"],
                         env={**os.environ, "QA_INDEX_DIR": str(tmp_path / "index")}, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 1
    assert out.stderr.strip().count("\n") == 0 and "no Ray cluster answers at 127.0.0.3:1" in out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "index").exists()
    assert time.time() - started < 60


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--inside", type=Path, required=True)
    inside(parser.parse_args().inside)
