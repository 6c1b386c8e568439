"""Reliability with a real server: `qa serve` in a subprocess on 127.0.0.1, real `qa build` subprocesses.

* hot reload under load: a client keeps asking while the index is rebuilt twice; every answer is a 200,
  the served build changes without a restart, and every answer comes wholly from one build;
* a corrupt index: the server still starts, answers 503 with how to rebuild, and reports ok=false;
* a build killed with SIGKILL part-way: the old index keeps serving, and the next build resumes from the
  embedding cache.

Every wait is bounded; nothing is timed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_QA = Path(__file__).resolve().parent / "data" / "seed_qa.jsonl"
QA = Path(sys.executable).with_name("qa")
REPO_CACHE = ROOT / ".cache"
HOST = "127.0.0.1"
START_TIMEOUT = 300.0  # the server loads the model; the machine may be busy
BUILD_TIMEOUT = 540.0
CLIENT_LIMIT = 300.0  # the asking client stops after this long whatever happens

CHANGED_DOC = "004_418b4fb8ab4a92f7"
NEW_PARAGRAPH = (
    "\n\n2023年5月20日，医院举办首届“杏林杯”职工乒乓球友谊赛，共有312名职工报名参赛，"
    "比赛历时3天，最终内科代表队获得团体冠军，外科代表队获得亚军。\n"
)
NEW_QUESTION = "首届杏林杯职工乒乓球友谊赛有多少名职工参赛？"


# ----------------------------------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def qa_env(cache_dir: Path = REPO_CACHE, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update({"QA_CACHE_DIR": str(cache_dir), "QA_RELOAD_INTERVAL_S": "0.5", "QA_CACHE_SIZE": "0",
                "PYTHONUNBUFFERED": "1", **extra})
    return env


class Server:
    """`qa serve` in a subprocess; its output goes to a log file (a pipe could fill and block it)."""

    def __init__(self, index_dir: Path, log: Path) -> None:
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.log = log
        self._log_fh = log.open("w")
        self.proc = subprocess.Popen(
            [str(QA), "serve", "--index", str(index_dir), "--host", HOST, "--port", str(self.port)],
            stdout=self._log_fh, stderr=subprocess.STDOUT, env=qa_env(), cwd=index_dir.parent,
        )
        self.http = httpx.Client(base_url=self.base, timeout=120)

    def wait_ready(self) -> dict:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"qa serve exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                response = self.http.get("/api/health", timeout=5)
                if response.status_code == 200:
                    return response.json()
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        pytest.fail(f"qa serve did not answer within {START_TIMEOUT:.0f}s:\n{self.log.read_text()[-3000:]}")

    def health(self) -> dict:
        response = self.http.get("/api/health")
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for(self, predicate, timeout: float = 120.0) -> dict:
        """Poll /api/health until ``predicate(health)``; return that health."""
        deadline = time.monotonic() + timeout
        health = self.health()
        while not predicate(health):
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not reach the expected state in {timeout:.0f}s: {health}")
            time.sleep(0.25)
            health = self.health()
        return health

    def stop(self) -> None:
        self.http.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        self._log_fh.close()


class Asker(threading.Thread):
    """Asks questions in a loop until stopped (or ``CLIENT_LIMIT`` seconds); keeps every response."""

    def __init__(self, base: str, questions: list[str]) -> None:
        super().__init__(daemon=True)
        self.base, self.questions = base, questions
        self.stop_event = threading.Event()
        self.responses: list[tuple[str, int, dict | str]] = []
        self.errors: list[str] = []

    def run(self) -> None:
        deadline = time.monotonic() + CLIENT_LIMIT
        with httpx.Client(base_url=self.base, timeout=120) as client:
            i = 0
            while not self.stop_event.is_set() and time.monotonic() < deadline:
                question = self.questions[i % len(self.questions)]
                i += 1
                try:
                    r = client.post("/api/ask", json={"question": question, "top_k": 5})
                except httpx.HTTPError as exc:
                    self.errors.append(f"{question}: {exc!r}")
                    continue
                try:
                    body = r.json()
                except ValueError:
                    body = r.text
                self.responses.append((question, r.status_code, body))

    def finish(self) -> None:
        self.stop_event.set()
        self.join(150)
        assert not self.is_alive(), "the asking client did not stop"


def run_build(source: Path, index_dir: Path, *extra: str, cache_dir: Path = REPO_CACHE) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(QA), "build", "--source", str(source), "--index", str(index_dir), *extra],
        capture_output=True, text=True, timeout=BUILD_TIMEOUT, env=qa_env(cache_dir), cwd=index_dir.parent,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def snapshot(index_dir: Path) -> dict:
    """What one build holds: built_at, passages by id, document texts (read through the link)."""
    real = index_dir.resolve()
    manifest = json.loads((real / "manifest.json").read_text(encoding="utf-8"))
    passages = {}
    for line in (real / "passages.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        passages[row["id"]] = row["text"]
    documents = {}
    for line in (real / "documents.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        documents[row["id"]] = row["text"]
    return {"built_at": manifest["built_at"], "passages": passages, "documents": documents,
            "count": manifest["passages"], "path": str(real)}


def from_one_build(body: dict, builds: list[dict]) -> bool:
    """True when every passage (id and text) and the answer's slice come from one single build."""
    for build in builds:
        if not all(build["passages"].get(p["id"]) == p["text"] for p in body["passages"]):
            continue
        answer = body.get("answer")
        if answer:
            text = build["documents"].get(answer["doc_id"], "")
            if text[answer["char_start"] : answer["char_end"]] != answer["text"]:
                continue
        return True
    return False


def seed_questions() -> list[str]:
    rows = [json.loads(line) for line in SEED_QA.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["question"] for r in rows if r.get("answerable", True)]


# ----------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("reload")


@pytest.fixture(scope="module")
def served(workdir, embedder, cache_dir):
    """The seeds (a writable copy) built into an index and served by `qa serve`."""
    from qa.index.build import build_index

    source = workdir / "seeds"
    shutil.copytree(SEEDS, source)
    index_dir = workdir / "index"
    build_index([source], index_dir, embedder, cache_dir=cache_dir)
    server = Server(index_dir, workdir / "serve.log")
    try:
        server.wait_ready()
        yield {"server": server, "source": source, "index": index_dir, "builds": [snapshot(index_dir)]}
    finally:
        server.stop()


# ----------------------------------------------------------------------------------------- tests


def test_hot_reload_under_load(served):
    server, source, index_dir = served["server"], served["source"], served["index"]
    builds: list[dict] = served["builds"]
    first = server.health()
    assert first["ok"] is True
    assert first["built_at"] == builds[0]["built_at"]
    assert first["passages"] == builds[0]["count"]
    pid = server.proc.pid

    asker = Asker(server.base, [NEW_QUESTION, *seed_questions()])
    asker.start()
    try:
        # wait (bounded) until the client is really asking before the first build
        deadline = time.monotonic() + 120
        while len(asker.responses) + len(asker.errors) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)

        run_build(source, index_dir, "--force")
        builds.append(snapshot(index_dir))
        assert builds[1]["built_at"] != builds[0]["built_at"]
        server.wait_for(lambda h: h["built_at"] == builds[1]["built_at"])

        path = source / f"{CHANGED_DOC}.txt"
        path.write_text(path.read_text(encoding="utf-8") + NEW_PARAGRAPH, encoding="utf-8")
        run_build(source, index_dir, "--force")
        builds.append(snapshot(index_dir))
        assert builds[2]["count"] != builds[0]["count"], "the changed document should change the passage count"
        final = server.wait_for(lambda h: h["built_at"] == builds[2]["built_at"])

        # a few more answers from the final index
        seen = len(asker.responses)
        deadline = time.monotonic() + 120
        while len(asker.responses) < seen + 3 and time.monotonic() < deadline and asker.is_alive():
            time.sleep(0.2)
    finally:
        asker.finish()

    assert server.proc.poll() is None and server.proc.pid == pid, "the server restarted or died"
    assert final["ok"] is True
    assert final["passages"] == builds[2]["count"] != first["passages"]
    assert final["built_at"] != first["built_at"]

    statuses = [status for _, status, _ in asker.responses]
    bad = [(q, s, b) for q, s, b in asker.responses if s != 200]
    print(f"\n{len(statuses)} answers during two rebuilds; non-200: {len(bad)}; client errors: {len(asker.errors)}")
    assert not asker.errors, asker.errors[:5]
    assert not bad, bad[:3]
    assert len(statuses) >= 3

    mixed = [(q, b) for q, _, b in asker.responses if not from_one_build(b, builds)]
    assert not mixed, f"{len(mixed)} answers mix builds, e.g. {mixed[0][0]}"

    # the changed document's new paragraph is found once the new build is served
    r = server.http.post("/api/ask", json={"question": NEW_QUESTION, "top_k": 5})
    assert r.status_code == 200
    assert any("312名职工" in p["text"] for p in r.json()["passages"])
    assert from_one_build(r.json(), builds[2:])


def test_killed_build_resumes_and_old_index_keeps_serving(served, workdir):
    """SIGKILL a build of a larger corpus part-way: the served index is untouched; the next build resumes."""
    from qa.ingest.documents import load_documents, split_passages

    server, index_dir = served["server"], served["index"]
    before = server.wait_for(lambda h: h["ok"])
    before_link = os.readlink(index_dir)

    # a synthetic corpus of a few hundred passages from the seeds' text (each paragraph marked, so new to any
    # cache); two editions of every article share their text, so only about half of it needs embedding
    corpus = workdir / "big.jsonl"
    with corpus.open("w", encoding="utf-8") as fh:
        for doc in load_documents([SEEDS]):
            text = "\n\n".join(f"（第{j}段）{p.text}" for j, p in enumerate(split_passages(doc)))
            for edition in range(2):
                fh.write(json.dumps({"id": f"{doc.id}-e{edition}", "title": f"{doc.title}（第{edition}版）",
                                     "text": text}, ensure_ascii=False) + "\n")
    # an empty embedding cache of its own, with the already converted model linked in
    cache = workdir / "big-cache"
    cache.mkdir()
    (cache / "models").symlink_to(REPO_CACHE / "models", target_is_directory=True)
    db = cache / "embeddings.sqlite"

    asker = Asker(server.base, seed_questions())
    asker.start()
    try:
        log = (workdir / "killed-build.log").open("w")
        build = subprocess.Popen(
            [str(QA), "build", "--source", str(corpus), "--index", str(index_dir)],
            stdout=log, stderr=subprocess.STDOUT, env=qa_env(cache), cwd=workdir,
        )
        try:
            deadline = time.monotonic() + BUILD_TIMEOUT
            cached = 0
            while cached == 0:
                assert build.poll() is None, "the build finished before it could be killed"
                assert time.monotonic() < deadline, "the build embedded nothing in time"
                time.sleep(0.1)
                if db.exists():
                    try:
                        with sqlite3.connect(db, timeout=5) as con:
                            cached = con.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
                    except sqlite3.OperationalError:  # the table is not there yet
                        cached = 0
            build.send_signal(signal.SIGKILL)
            build.wait(60)
        finally:
            if build.poll() is None:
                build.kill()
                build.wait(60)
            log.close()
        assert build.returncode == -signal.SIGKILL

        # the old index is untouched and still served
        assert os.readlink(index_dir) == before_link
        assert not list((index_dir.parent / "index.builds").glob(".tmp-*"))
        during = server.health()
        assert during["ok"] is True and during["built_at"] == before["built_at"]

        proc = run_build(corpus, index_dir, cache_dir=cache)
        summary = proc.stdout.strip().splitlines()[-1]
        match = re.search(r"(\d+) passages, (\d+) sentence units \((\d+) embedded, (\d+) from cache\)", summary)
        assert match, summary
        passages, units, embedded, reused = map(int, match.groups())
        print(f"\nkilled after {cached} cached vectors; resumed build: {summary}")
        assert reused > 0, summary
        assert embedded + reused == units
        assert passages >= 200  # ~2 x the seeds' passages (headings join their passage since format 3)
        after = server.wait_for(lambda h: h["passages"] == passages, timeout=180)
    finally:
        asker.finish()

    assert after["built_at"] != before["built_at"]
    bad = [(q, s) for q, s, _ in asker.responses if s != 200]
    assert not asker.errors, asker.errors[:5]
    assert not bad, bad[:3]
    assert asker.responses


def test_serve_with_corrupt_index(workdir, embedder, cache_dir):
    from qa.index.build import build_index

    index_dir = workdir / "corrupt" / "index"
    build_index([SEEDS], index_dir, embedder, cache_dir=cache_dir)
    (index_dir.resolve() / "manifest.json").write_text('{"format": 2, "model": ', encoding="utf-8")
    server = Server(index_dir, workdir / "corrupt-serve.log")
    try:
        health = server.wait_ready()
        assert health["ok"] is False
        assert health["passages"] == 0
        assert "qa build" in (health["error"] or "")
        r = server.http.post("/api/ask", json={"question": "荆州二医在封城期间接诊了多少发热患者？"})
        assert r.status_code == 503
        body = r.json()
        assert set(body) == {"ok", "status", "error"} and body["ok"] is False and body["status"] == 503
        assert "qa build" in body["error"]

        # rebuilt in place: the watcher picks the good index up without a restart
        build_index([SEEDS], index_dir, embedder, cache_dir=cache_dir, force=True)
        healed = server.wait_for(lambda h: h["ok"])
        assert healed["passages"] > 0
        r = server.http.post("/api/ask", json={"question": "荆州二医在封城期间接诊了多少发热患者？"})
        assert r.status_code == 200
        assert "近4000人次" in r.json()["passages"][0]["text"]
    finally:
        server.stop()
