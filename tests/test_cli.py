"""The `qa` command as a user runs it (subprocesses of .venv/bin/qa), plus quick in-process checks (CliRunner).

The real model is loaded by each subprocess; the embedding cache is the repository's, so builds of the
seeds embed nothing new after the first run on a machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.cli import cli

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
QA = Path(sys.executable).with_name("qa")
QUESTION = "荆州二医在封城期间接诊了多少发热患者？"
TITLE = "抢抓机遇乘势而上 同心筑梦共创未来"
ASK_KEYS = {"question", "found", "answer", "passages", "unknown_terms", "took_ms", "timings_ms", "understood_as",
            "drew_on", "carried", "confidence"}


def qa(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "QA_INDEX_DIR": str(cwd / "default-index"), "PYTHONUNBUFFERED": "1"}
    env.pop("QA_MODEL", None)
    return subprocess.run([str(QA), *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def built(workdir) -> tuple[Path, subprocess.CompletedProcess]:
    """`qa build` of a copy of the seeds, run once for the module."""
    source = workdir / "seeds"
    shutil.copytree(SEEDS, source)
    index = workdir / "index"
    proc = qa("build", "--source", str(source), "--index", str(index), cwd=workdir)
    return index, proc


def test_build(built):
    index, proc = built
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "passage/s" in proc.stderr or "passages/s" in proc.stderr, proc.stderr[-2000:]
    assert "embedding" in proc.stderr
    out = lines(proc.stdout)
    assert len(out) == 6, out  # one line per file, then the summary
    assert all(line.startswith("indexed  ") and line.endswith("passages)") for line in out[:5]), out
    summary = out[-1]
    assert summary.startswith(f"built {index}: 5 documents, ")
    for part in ("passages", "sentence units", "embedded", "from cache", "5 files indexed, 0 skipped"):
        assert part in summary
    assert index.is_symlink() and (index / "manifest.json").is_file()


def test_build_again_is_up_to_date(built, workdir, embedder, monkeypatch):
    monkeypatch.setattr("qa.cli.main.load_model", lambda settings: embedder)
    index, _ = built
    runner = CliRunner()
    result = runner.invoke(cli, ["build", "--source", str(workdir / "seeds"), "--index", str(index)])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.stdout
    assert "5 documents" in result.stdout
    assert "nothing to embed" in result.stdout


def test_ask(built, workdir):
    index, _ = built
    proc = qa("ask", QUESTION, "--index", str(index), cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    out = proc.stdout
    assert "近4000人次" in out
    assert TITLE in out
    assert "000_769629a9341062f1.txt" in out
    assert "lines 35-41" in out
    first = next(line for line in out.splitlines() if line.startswith("[1]"))
    assert TITLE in first and "000_769629a9341062f1.txt, lines 35-41" in first
    assert out.lstrip().startswith("答案 / answer:")


def test_ask_json(built, workdir):
    index, _ = built
    proc = qa("ask", QUESTION, "--index", str(index), "--json", "-k", "3", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    body = json.loads(proc.stdout)
    assert set(body) == ASK_KEYS
    assert body["question"] == QUESTION
    assert body["found"] is True
    assert len(body["passages"]) == 3
    top = body["passages"][0]
    assert "近4000人次" in top["text"]
    assert (top["doc_id"], top["line_start"], top["line_end"]) == ("000_769629a9341062f1", 35, 41)
    assert top["title"] == TITLE
    assert body["answer"]["doc_id"] == "000_769629a9341062f1"


def assert_one_line_error(proc: subprocess.CompletedProcess, says: str) -> None:
    """Exit status 1, nothing on stdout, no traceback, and one line on stderr that says ``says``."""
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    out = lines(proc.stderr)
    assert len(out) == 1, out
    assert says in out[0]


def test_ask_without_index(workdir):
    proc = qa("ask", QUESTION, "--index", str(workdir / "missing"), cwd=workdir)
    assert_one_line_error(proc, "qa build")


def test_ask_with_corrupt_index(built, workdir, tmp_path):
    index, _ = built
    broken = tmp_path / "broken"
    shutil.copytree(index.resolve(), broken)
    (broken / "manifest.json").write_text("{garbled", encoding="utf-8")
    proc = qa("ask", QUESTION, "--index", str(broken), cwd=workdir)
    assert_one_line_error(proc, "qa build")


@pytest.mark.parametrize("question", ["", "   ", "问" * 1001])
def test_ask_bad_question(workdir, question):
    proc = qa("ask", question, "--index", str(workdir / "missing"), cwd=workdir)
    assert_one_line_error(proc, "question")


def test_build_missing_source(workdir):
    result = CliRunner().invoke(cli, ["build", "--source", str(workdir / "no-such"), "--index", str(workdir / "x")])
    assert result.exit_code == 1
    assert lines(result.output) == [f"Error: no such file or folder: {workdir / 'no-such'}"]
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_help_lists_commands():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("prepare", "build", "ask", "serve", "eval"):
        assert command in result.output
