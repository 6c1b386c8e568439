"""`qa serve` as a user runs it: errors a user can fix in one line before the model loads; then a real
two-worker server on 127.0.0.1: both workers answer and hot-reload a rebuilt index, /metrics adds the
workers up, the HTTP layer answers unparseable requests in the JSON error shape, a stalled body times out,
SIGTERM ends it in bounded time; and /api/health turns ok=false when the served index is deleted."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, SEEDS, make_settings
from fastapi.testclient import TestClient

pytestmark = pytest.mark.slow

QA = [sys.executable, "-m", "qa"]
HOST = "127.0.0.1"
START_TIMEOUT = 300.0
QUESTION = "荆州二医在封城期间接诊了多少发热患者？"


def qa_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "PROMETHEUS_"))}
    env.update({"QA_CACHE_DIR": str(ROOT / ".cache"), "PYTHONUNBUFFERED": "1", **extra})
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def serve_fails(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    started = time.monotonic()
    proc = subprocess.run([*QA, "serve", *args], capture_output=True, text=True, env=qa_env(), cwd=ROOT,
                          timeout=timeout)
    proc.elapsed = time.monotonic() - started  # type: ignore[attr-defined]
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == "", "nothing printed as if it were serving"
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


@pytest.mark.parametrize("port", ["99999", "-1", "65536"])
def test_a_bad_port_is_one_line(port):
    proc = serve_fails("--port", port)
    assert "out of range" in proc.stderr


def test_a_port_in_use_is_one_line_before_the_model_loads(tmp_path):
    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = serve_fails("--index", str(tmp_path / "index"), "--port", str(port))
    assert f"port {port}" in proc.stderr and "in use" in proc.stderr
    assert proc.elapsed < 20, "the model is not loaded first (loading it alone takes longer)"  # type: ignore


def test_an_index_path_that_is_a_file_is_one_line(tmp_path):
    not_a_dir = tmp_path / "index"
    not_a_dir.write_text("x")
    proc = serve_fails("--index", str(not_a_dir), "--port", str(free_port()))
    assert "is a file" in proc.stderr
    assert not_a_dir.read_text() == "x"


def test_a_host_that_is_not_ours_is_one_line():
    proc = serve_fails("--host", "203.0.113.7", "--port", str(free_port()))
    assert "not an address of this machine" in proc.stderr


def test_the_listening_socket_gives_connections_tcp_nodelay():
    """uvicorn serves on asyncio, which sets TCP_NODELAY only on sockets whose proto says TCP: with proto 0
    every keep-alive reply (headers, then body) waited ~40 ms for the client's delayed ACK."""
    import asyncio

    from qa.serve.server import bind

    sock = bind(HOST, 0)
    sock.listen()
    seen: list[int] = []

    async def main() -> None:
        async def handle(reader, writer):  # noqa: ANN001
            seen.append(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(handle, sock=sock)
        async with server:
            _, writer = await asyncio.open_connection(HOST, sock.getsockname()[1])
            for _ in range(100):
                if seen:
                    break
                await asyncio.sleep(0.02)
            writer.close()

    asyncio.run(main())
    assert seen and seen[0] != 0


# ------------------------------------------------------------------------------ /api/health, in-process


def test_health_turns_false_when_the_served_index_is_deleted(embedder, cache_dir, tmp_path):
    from qa.index.build import build_index
    from qa.serve.app import create_app

    index_dir = tmp_path / "index"
    build_index([SEEDS], index_dir, embedder, cache_dir=cache_dir)
    app = create_app(make_settings(index_dir), embedder=embedder, watch=False)
    with TestClient(app) as c:
        health = c.get("/api/health").json()
        assert health["ok"] is True and health["error"] is None and health["version"]
        build = index_dir.resolve()
        shutil.rmtree(build)
        gone = c.get("/api/health").json()
        assert gone["ok"] is False and "rebuild" in gone["error"] and str(index_dir) in gone["error"]
        assert gone["passages"] == health["passages"]  # still answering from memory meanwhile
        index_dir.unlink()
        assert c.get("/api/health").json()["ok"] is False


# ---------------------------------------------------------------------------------- the real server


def log_lines(path: Path) -> list[dict]:
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def loads_by_worker(path: Path) -> dict[int, list[str]]:
    by: dict[int, list[str]] = {}
    for line in log_lines(path):
        match = re.match(r"loaded index (\S+)", line.get("message", ""))
        if match:
            by.setdefault(line["worker"], []).append(Path(match.group(1)).name)
    return by


def wait_until(predicate, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout:.0f}s; server log:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


def raw_request(port: int, data: bytes, timeout: float = 30) -> bytes:
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def parse_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict((k.lower(), v.strip()) for k, v in (line.split(":", 1) for line in lines[1:]))
    return status, headers, body


def test_two_workers_share_the_index_reload_it_and_stop_on_sigterm(embedder, cache_dir, copy_seeds, tmp_path):
    from qa.index.build import build_index

    index_dir = tmp_path / "index"
    build_index([copy_seeds], index_dir, embedder, cache_dir=cache_dir)
    first_build = index_dir.resolve().name
    port = free_port()
    log = tmp_path / "serve.log"
    env = qa_env(QA_RELOAD_INTERVAL_S="0.5", QA_CACHE_SIZE="0", QA_BODY_TIMEOUT_S="2", QA_SHUTDOWN_TIMEOUT_S="5")
    with log.open("w") as fh:
        proc = subprocess.Popen([*QA, "serve", "--index", str(index_dir), "--host", HOST, "--port", str(port),
                                 "--workers", "2"], stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
                                start_new_session=True)
    base = f"http://{HOST}:{port}"
    try:
        wait_until(lambda: len(loads_by_worker(log)) == 2, START_TIMEOUT, "two workers did not load the index", log)
        workers = set(loads_by_worker(log))
        assert os.getpid() not in workers and proc.pid not in workers
        assert log.read_text().startswith(f"serving on http://{HOST}:{port}/")

        wait_until(lambda: _ok(base), 60, "the server did not answer", log)
        for _ in range(6):  # new connections, so either worker may take each
            response = httpx.post(f"{base}/api/ask", json={"question": QUESTION}, timeout=60)
            assert response.status_code == 200 and response.json()["found"] is True

        # a rebuild (one document changed) is picked up by every worker by itself
        doc = next(copy_seeds.glob("004_*.txt"))
        doc.write_text(doc.read_text(encoding="utf-8") + "\n\n2023年5月20日，医院举办首届职工乒乓球赛。\n",
                       encoding="utf-8")
        build_index([copy_seeds], index_dir, embedder, cache_dir=cache_dir)
        second_build = index_dir.resolve().name
        assert second_build != first_build
        wait_until(lambda: all(b[-1] == second_build for b in loads_by_worker(log).values()), 120,
                   "not every worker reloaded the rebuilt index", log)

        # metrics are the workers' together (prometheus multiprocess mode): 2 loads each
        metrics = httpx.get(f"{base}/metrics", timeout=30).text
        reloads = re.search(r'^qa_index_reloads_total\{result="ok"\} (\S+)$', metrics, re.M)
        assert reloads and float(reloads.group(1)) == 4.0, metrics[:2000]
        asks = re.search(r'^qa_http_requests_total\{method="POST",route="/api/ask",status="200"\} (\S+)$',
                         metrics, re.M)
        assert asks and float(asks.group(1)) == 6.0

        # what the HTTP layer cannot parse is still answered in the one JSON error shape
        huge = b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 40_000 + b"\r\n\r\n"
        status, headers, body = parse_response(raw_request(port, huge))
        assert status == 431 and headers["content-type"] == "application/json"
        assert json.loads(body) == {"ok": False, "status": 431, "error": json.loads(body)["error"]}
        status, headers, body = parse_response(raw_request(port, b"NOT HTTP AT ALL\r\n\r\n"))
        assert status == 400 and json.loads(body)["status"] == 400
        head = httpx.head(f"{base}/", timeout=30)
        assert head.status_code == 200 and head.content == b""

        # a client that stalls mid-body, then SIGTERM: the body times out (408) and the server exits
        stalled = socket.create_connection((HOST, port), timeout=30)
        stalled.sendall(b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 200\r\n\r\n{\"question\": \"")
        time.sleep(0.5)
        stopped_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        reply = stalled.recv(65536)
        stalled.close()
        assert parse_response(reply)[0] == 408
        proc.wait(timeout=30)
        assert time.monotonic() - stopped_at < 20
        assert "Traceback" not in log.read_text() and "leaked" not in log.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)


def _ok(base: str) -> bool:
    try:
        return httpx.get(f"{base}/api/health", timeout=5).json().get("ok") is True
    except (httpx.HTTPError, ValueError):
        return False


def test_check_only_checks(tmp_path):
    """`qa serve --check` (what `make run` runs first): exit 0 and silence when the port is free."""
    proc = subprocess.run([*QA, "serve", "--check", "--index", str(tmp_path / "index"), "--port", str(free_port())],
                          capture_output=True, text=True, env=qa_env(), cwd=ROOT, timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen()
        failed = serve_fails("--check", "--port", str(busy.getsockname()[1]))
    assert "in use" in failed.stderr
