"""The index as a living collection, with the real model: `--index` safety, builds that report every file,
`qa add`/`qa remove`/`qa list`, uploads and deletions through the real app (hostile ones included), and
writers that are serialised (concurrent `qa add` subprocesses, `kill -9` while a writer holds the lock).

Builds run on a tmp copy of two small seeds; tests that count embeddings use their own empty cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.docfiles import article, write_docx, write_html
from qa.cli import cli
from qa.errors import IndexRefused, WriteBusy
from qa.index.build import build_index, builds_dir, check_target, files_dir
from qa.index.collection import add_paths, remove_documents
from qa.index.lock import WriteLock, lock_path
from qa.index.store import load_index

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
QA = Path(sys.executable).with_name("qa")
SMALL = ("003_05d70a71f3258940", "004_418b4fb8ab4a92f7")
OTHER = "002_3a274bbbdd8f06d7"
TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def squeeze(text: str) -> str:
    return re.sub(r"\s", "", text)


def tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (links not followed) with its sha256: what must not change."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_symlink():
            out[p.relative_to(folder).as_posix()] = "link:" + os.readlink(p)
        elif p.is_file():
            out[p.relative_to(folder).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def unique_doc(folder: Path, name: str, fact: str) -> Path:
    """A small document whose text no cache has seen (so embedding counts are exact)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"{fact}\n\n这是第{time.time_ns()}号补充说明，用于检验单篇文档的增量更新。医院将继续完善服务流程。\n",
                    encoding="utf-8")
    return path


@pytest.fixture
def small_seeds(tmp_path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for doc_id in SMALL:
        shutil.copy(SEEDS / f"{doc_id}.txt", folder / f"{doc_id}.txt")
    return folder


@pytest.fixture
def built(small_seeds, tmp_path, embedder, cache_dir) -> Path:
    index_dir = tmp_path / "idx" / "index"
    build_index([small_seeds], index_dir, embedder, cache_dir=cache_dir)
    return index_dir


@pytest.fixture
def runner(monkeypatch, embedder):
    monkeypatch.setattr("qa.cli.main.load_model", lambda settings: embedder)
    return CliRunner()


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    assert "Traceback" not in result.output
    return lines[0]


# ------------------------------------------------------------------------------------ --index safety


def test_index_that_is_a_file_is_refused_untouched(tmp_path, small_seeds, runner):
    target = tmp_path / "notes.txt"
    target.write_text("我的笔记，不能被覆盖。", encoding="utf-8")
    before = tree(tmp_path)
    line = one_line_error(runner.invoke(cli, ["build", "--source", str(small_seeds), "--index", str(target)]))
    assert "refusing" in line and "it is a file" in line
    assert tree(tmp_path) == before  # nothing written beside it either: no .builds, .files or .lock


def test_folder_of_other_things_is_refused_untouched(tmp_path, small_seeds, runner):
    target = tmp_path / "我的文件夹"
    (target / "sub").mkdir(parents=True)
    (target / "report.docx").write_bytes(b"PK\x03\x04 my report")
    (target / "sub" / "data.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (target / "manifest.json").write_text('{"name": "my web app", "icons": []}', encoding="utf-8")  # not ours
    before = tree(tmp_path)
    line = one_line_error(runner.invoke(cli, ["build", "--source", str(small_seeds), "--index", str(target)]))
    assert "not an index" in line
    assert tree(tmp_path) == before
    for command in (["add", str(small_seeds / f"{SMALL[0]}.txt")], ["remove", SMALL[0]]):
        line = one_line_error(runner.invoke(cli, [*command, "--index", str(target)]))
        assert "refusing" in line
    assert tree(tmp_path) == before


def test_link_to_somewhere_else_is_refused(tmp_path, small_seeds):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("别动我。", encoding="utf-8")
    link = tmp_path / "index"
    link.symlink_to(elsewhere)
    with pytest.raises(IndexRefused, match="is a link to"):
        check_target(link)
    assert (elsewhere / "keep.txt").read_text(encoding="utf-8") == "别动我。"


def test_empty_folder_and_own_index_folder_are_written(tmp_path, small_seeds, embedder, cache_dir, built):
    empty = tmp_path / "empty"
    empty.mkdir()
    build_index([small_seeds], empty, embedder, cache_dir=cache_dir)
    assert empty.is_symlink() and load_index(empty, embedder).documents
    plain = tmp_path / "plain-index"  # an index folder of ours that is not a link (copied from a build)
    shutil.copytree(built.resolve(), plain)
    build_index([small_seeds], plain, embedder, cache_dir=cache_dir, force=True)
    assert plain.is_symlink()
    moved = [p for p in builds_dir(plain).iterdir() if p.name.endswith("-moved")]
    assert len(moved) == 1 and (moved[0] / "manifest.json").is_file()  # kept, inside our own folder


# ------------------------------------------------------------------------------------ build report


def test_build_reports_every_file(tmp_path, runner):
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(SEEDS / f"{SMALL[1]}.txt", folder / "seed.txt")
    (folder / "gbk.txt").write_bytes((SEEDS / f"{SMALL[0]}.txt").read_text(encoding="utf-8").encode("gb18030"))
    write_docx(article(SEEDS / f"{OTHER}.txt"), folder / "word.docx")
    write_html(article(SEEDS / f"{OTHER}.txt"), folder / "page.html")
    (folder / "broken.txt").write_bytes(bytes(range(256)) * 8)
    (folder / "empty.md").write_bytes(b"")
    (folder / "slides.pptx").write_bytes(b"PK\x03\x04")
    (folder / "fake.pdf").write_text("不是PDF", encoding="utf-8")
    index = tmp_path / "index"
    result = runner.invoke(cli, ["build", "--source", str(folder), "--index", str(index)])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    by_name = {Path(re.split(r"[ :(]", line.split(None, 1)[1])[0]).name: line for line in lines[:-1]}
    assert set(by_name) == {"seed.txt", "gbk.txt", "word.docx", "page.html", "broken.txt", "empty.md",
                            "slides.pptx", "fake.pdf"}
    for name in ("seed.txt", "gbk.txt", "word.docx", "page.html"):
        assert by_name[name].startswith("indexed ") and re.search(r"\(\d+ passages?\)", by_name[name]), by_name[name]
    assert "binary or undecodable" in by_name["broken.txt"]
    assert "empty file" in by_name["empty.md"]
    assert "unsupported type .pptx" in by_name["slides.pptx"]
    assert "not a PDF" in by_name["fake.pdf"]
    assert all(by_name[n].startswith("skipped ") for n in ("broken.txt", "empty.md", "slides.pptx", "fake.pdf"))
    assert lines[-1].startswith(f"built {index}: 4 documents") and lines[-1].endswith("4 files indexed, 4 skipped")
    assert set(load_index(index).documents) == {"seed", "gbk", "word", "page"}


def test_build_with_nothing_readable_says_so(tmp_path, runner):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a.rst").write_text("x", encoding="utf-8")
    result = runner.invoke(cli, ["build", "--source", str(folder), "--index", str(tmp_path / "index")])
    assert result.exit_code == 1
    assert "skipped" in result.stdout and "unsupported type .rst" in result.stdout
    assert "nothing to index" in result.output
    assert not (tmp_path / "index").exists()


# ------------------------------------------------------------------------------------ qa add/remove/list


def test_add_embeds_only_the_new_document_and_remove_takes_it_out(small_seeds, tmp_path, embedder):
    cache = tmp_path / "cache"
    index_dir = tmp_path / "index"
    first = build_index([small_seeds], index_dir, embedder, cache_dir=cache)
    new = unique_doc(tmp_path / "mine", "新制度.md", "# 新制度\n\n2024年起，医院夜间门诊延长至晚上十点。")
    before_file = new.read_bytes()
    change = add_paths([new], index_dir, embedder, cache_dir=cache)
    index = load_index(index_dir, embedder)
    units = sum(1 for row in index.units.passage if index.passages[row].doc_id == "新制度")
    assert change.added == ["新制度"] and change.report.embedded == units > 0
    assert change.report.reused == first.units
    doc = index.documents["新制度"]
    assert (doc.origin, doc.format) == ("added", "md")
    stored = files_dir(index_dir) / doc.file
    assert stored.read_bytes() == before_file and new.read_bytes() == before_file  # copied, never moved
    # a rebuild from the sources keeps the added document
    again = build_index([small_seeds], index_dir, embedder, cache_dir=cache)
    assert again.unchanged and "新制度" in load_index(index_dir, embedder).documents
    removed = remove_documents(["新制度"], index_dir, embedder, cache_dir=cache)
    assert removed.removed == ["新制度"] and removed.report.embedded == 0
    index = load_index(index_dir, embedder)
    assert set(index.documents) == set(SMALL) and not any(p.doc_id == "新制度" for p in index.passages)
    assert new.read_bytes() == before_file


def test_cli_add_list_remove(built, tmp_path, runner):
    new = unique_doc(tmp_path / "mine", "补充.txt", "医院于2024年开设了记忆门诊。")
    result = runner.invoke(cli, ["add", str(new), "--index", str(built)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith(f"indexed  {new} (")
    assert "added 1, replaced 0" in result.stdout
    listed = runner.invoke(cli, ["list", "--index", str(built), "--json"])
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["id"] for r in rows] == [*SMALL, "补充"]
    assert rows[-1]["origin"] == "added" and rows[-1]["passages"] >= 1
    again = runner.invoke(cli, ["add", str(new), "--index", str(built)])
    assert "added 0, replaced 1" in again.stdout
    line = one_line_error(runner.invoke(cli, ["remove", "不存在", "--index", str(built)]))
    assert "no document '不存在'" in line
    result = runner.invoke(cli, ["remove", "补充", "--index", str(built)])
    assert result.exit_code == 0 and "removed 补充" in result.stdout
    line = one_line_error(runner.invoke(cli, ["remove", *SMALL, "--index", str(built)]))
    assert "every document" in line
    assert len(load_index(built).documents) == 2


# ------------------------------------------------------------------------------------ the API


def multipart(filename: bytes, content: bytes, field: bytes = b"file") -> tuple[bytes, dict]:
    """A multipart body written by hand, so a test controls the file name's exact bytes."""
    boundary = b"----qa-test-boundary"
    body = (b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"" + field + b"\"; filename=\"" + filename
            + b"\"\r\nContent-Type: application/octet-stream\r\n\r\n" + content + b"\r\n--" + boundary + b"--\r\n")
    return body, {"content-type": "multipart/form-data; boundary=" + boundary.decode(), **AUTH}


@pytest.fixture
def api(built, embedder, tmp_path):
    from conftest import make_settings
    from fastapi.testclient import TestClient

    from qa.serve.app import create_app

    settings = make_settings(built, admin_token=TOKEN, max_upload_bytes=512 * 1024)
    app = create_app(settings, embedder=embedder, watch=False)
    with TestClient(app) as client:
        yield client


def upload(client, name: str, content: bytes, method: str = "POST", url: str = "/api/documents"):
    body, headers = multipart(name.encode(), content)
    return client.request(method, url, content=body, headers=headers)


def test_upload_replace_delete_through_the_api(api, built, tmp_path):
    docx_path = write_docx(article(SEEDS / f"{OTHER}.txt"), tmp_path / "区二院.docx")
    r = upload(api, "区二院.docx", docx_path.read_bytes())
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["id"], body["action"], body["format"], body["documents"]) == ("区二院", "added", "docx", 3)
    assert body["passages"] > 5 and body["took_ms"] > 0
    ask = api.post("/api/ask", json={"question": "区二院泌尿外科从2022年到现在做了多少台手术？", "top_k": 5}).json()
    assert any(p["doc_id"] == "区二院" for p in ask["passages"])  # answered right after the upload returned
    file = api.get("/api/documents/区二院/file")
    assert file.status_code == 200 and file.content == docx_path.read_bytes()
    assert file.headers["content-disposition"].startswith("attachment;")
    assert upload(api, "区二院.docx", docx_path.read_bytes()).status_code == 409
    html_path = write_html(article(SEEDS / f"{OTHER}.txt"), tmp_path / "x.html")
    r = upload(api, "whatever.html", html_path.read_bytes(), "PUT", "/api/documents/区二院")
    assert r.status_code == 200 and r.json()["action"] == "replaced" and r.json()["format"] == "html"
    assert api.get("/api/documents/区二院").json()["format"] == "html"
    assert upload(api, "a.txt", "内容。".encode(), "PUT", "/api/documents/nope").status_code == 404
    listed = api.get("/api/documents").json()["documents"]
    assert [d["id"] for d in listed] == [*SMALL, "区二院"]
    r = api.delete("/api/documents/区二院", headers=AUTH)
    assert r.status_code == 200 and r.json()["documents"] == 2
    assert api.get("/api/documents/区二院").status_code == 404
    assert api.delete("/api/documents/区二院", headers=AUTH).status_code == 404


def test_every_passage_offset_reproduces_its_text_from_the_api(api):
    index = api.app.state.service.current().index
    texts = {doc_id: api.get(f"/api/documents/{doc_id}").json()["text"] for doc_id in index.documents}
    for p in index.passages:
        assert squeeze(texts[p.doc_id][p.char_start:p.char_end]) == squeeze(p.text), p.id


def test_writes_need_the_admin_token(api, tmp_path):
    body, headers = multipart(b"a.txt", "内容。".encode())
    anonymous = {"content-type": headers["content-type"]}
    assert api.post("/api/documents", content=body, headers=anonymous).status_code == 401
    wrong = {**headers, "Authorization": "Bearer nope"}
    assert api.post("/api/documents", content=body, headers=wrong).status_code == 401
    assert api.delete(f"/api/documents/{SMALL[0]}").status_code == 401
    assert api.get("/api/documents").status_code == 200  # reading needs none


def _pdf_with_js() -> bytes:
    import io

    import pypdf
    from pypdf.actions import JavaScript

    writer = pypdf.PdfWriter()
    writer.add_blank_page(200, 200)
    writer.add_open_action(JavaScript("app.alert('x');"))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _broken_pdf() -> bytes:
    raw = _pdf_with_js().replace(b"/JavaScript", b"/Nothing").replace(b"/JS", b"/XX")
    m = re.search(rb"startxref\s+(\d+)", raw)
    return raw[:m.start(1)] + b"17" + raw[m.end(1):]


def _zip_bomb(tmp_path: Path) -> bytes:
    import zipfile

    path = write_docx(article(SEEDS / f"{SMALL[1]}.txt"), tmp_path / "bomb.docx")
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/media/bomb.bin", b"\x00" * (20 * 2**20))
    return path.read_bytes()


@pytest.mark.parametrize(
    "name,content,status,says",
    [
        (b"../../etc/evil.txt", "内容。".encode(), 400, "without folders"),
        (b"..", "内容。".encode(), 400, "without folders"),
        (b"a\x00b.txt", "内容。".encode(), 400, "NUL"),
        ("报告.txt".encode("gbk"), "内容。".encode(), 400, "not valid UTF-8"),
        (b"", "内容。".encode(), 400, "no file name"),
        (b"lies.docx", "其实是纯文本。".encode(), 415, "not a Word file"),
        (b"lies.pdf", b"\x89PNG\r\n\x1a\n" + bytes(100), 415, "not a PDF"),
        (b"script.pdf", "js", 422, "JavaScript"),
        (b"broken.pdf", "broken", 422, "damaged PDF"),
        (b"bomb.docx", "bomb", 413, "zip bomb"),
        (b"empty.txt", b"", 422, "empty"),
        (b"blob.txt", bytes(range(256)) * 4, 422, "binary or undecodable"),
        (b"slides.pptx", b"PK\x03\x04", 415, "unsupported type"),
        (b"corpus.jsonl", b'{"id": "a", "text": "x"}', 415, "JSONL"),
    ],
)
def test_hostile_uploads_get_a_clear_4xx_and_write_nothing(api, built, tmp_path, name, content, status, says):
    content = {"js": _pdf_with_js, "broken": _broken_pdf}.get(content, lambda: content)() \
        if isinstance(content, str) else content
    if content == "bomb":
        content = _zip_bomb(tmp_path)
    parent = built.parent
    before = tree(parent)
    body, headers = multipart(name, content)
    r = api.post("/api/documents", content=body, headers=headers)
    assert r.status_code == status, r.text
    data = r.json()
    assert data["ok"] is False and data["status"] == status and says in data["error"], data
    after = tree(parent)
    assert after == before  # nothing written anywhere near the index: no upload left, no new build
    assert not (tmp_path.parent / "etc").exists() and not (parent.parent / "etc").exists()


def test_upload_over_the_size_limit_is_413(api, built):
    big = "内容很多。".encode() * 40_000  # ~600 KB, over the test's 512 KiB limit
    before = tree(built.parent)
    r = upload(api, "big.txt", big)
    assert r.status_code == 413 and r.json()["status"] == 413
    assert tree(built.parent) == before
    from qa.settings import Settings

    assert Settings(_env_file=None).max_upload_bytes == 50 * 2**20  # the default: 50 MB (QA_MAX_UPLOAD_BYTES)


def test_concurrent_api_uploads_all_land(api, tmp_path):
    """Four uploads at once all land, while questions asked meanwhile are all answered, each from one build."""
    results: list[int] = []
    answers: list[tuple[int, dict]] = []
    stop = threading.Event()

    def keep_asking() -> None:
        deadline = time.monotonic() + 300
        while not stop.is_set() and time.monotonic() < deadline:
            r = api.post("/api/ask", json={"question": "市中心医院有多少个专科联盟？", "top_k": 5})
            answers.append((r.status_code, r.json()))

    asker = threading.Thread(target=keep_asking)
    asker.start()

    def send(n: int) -> None:
        r = upload(api, f"并发{n}.txt", f"第{n}份并发上传的文件，编号{time.time_ns()}。内容不同。".encode())
        results.append(r.status_code)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    stop.set()
    asker.join(120)
    assert sorted(results) == [201] * 4
    assert answers and all(status == 200 for status, _ in answers), answers[:3]
    index = api.app.state.service.current().index
    texts = {p.id: p.text for p in index.passages}
    for _, body in answers:  # the seeds' passages do not change, so every answer matches the last build
        assert all(texts.get(p["id"]) == p["text"] for p in body["passages"] if p["doc_id"] in SMALL)
    ids = {d["id"] for d in api.get("/api/documents").json()["documents"]}
    assert {f"并发{n}" for n in range(4)} <= ids


# ------------------------------------------------------------------------------------ serialised writers


def test_lock_names_its_holder(tmp_path):
    index_dir = tmp_path / "index"
    with WriteLock(index_dir, "qa build"):
        with pytest.raises(WriteBusy, match=rf"another write to this index is running \(pid {os.getpid()}: qa build\)"):
            WriteLock(index_dir, "qa add", wait_s=0.2).acquire()
    with WriteLock(index_dir, "qa add", wait_s=0):
        pass  # released: the next one takes it at once
    assert lock_path(index_dir).read_text() == ""


def qa_env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update({"QA_CACHE_DIR": str(cache), "PYTHONUNBUFFERED": "1"})
    return env


def link_cache(tmp_path: Path, cache_dir: Path) -> Path:
    """A cache folder with the converted model (linked) and an embedding cache of its own."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "models").symlink_to(cache_dir / "models")
    return cache


def test_concurrent_qa_add_all_land_or_name_the_writer(built, tmp_path, cache_dir):
    cache = link_cache(tmp_path, cache_dir)
    docs = [unique_doc(tmp_path / f"in{n}", f"文档{n}.txt", f"第{n}号文件：医院新增床位{10 + n}张。") for n in range(3)]
    procs = [subprocess.Popen([str(QA), "add", str(d), "--index", str(built), "--wait", "300"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=qa_env(cache))
             for d in docs]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [o[1][-500:] for o in outs]
    assert set(load_index(built).documents) == {*SMALL, "文档0", "文档1", "文档2"}  # none lost
    # without waiting, the ones that find the lock taken say who holds it and change nothing
    holder = WriteLock(built, "qa build (test)").acquire()
    try:
        proc = subprocess.run([str(QA), "add", str(docs[0]), "--index", str(built)], capture_output=True,
                              text=True, timeout=300, env=qa_env(cache))
    finally:
        holder.release()
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    [line] = [line for line in proc.stderr.splitlines() if line.strip()]
    assert f"another write to this index is running (pid {os.getpid()}: qa build (test))" in line


@pytest.mark.parametrize("command", ["add", "remove", "build"])
def test_kill_9_in_the_middle_of_a_write(built, small_seeds, tmp_path, cache_dir, embedder, command):
    """SIGKILL while the writer holds the lock: the old index still loads whole, the lock is free at once,
    and the next write succeeds and leaves no debris."""
    cache = link_cache(tmp_path, cache_dir)
    before = load_index(built)
    before_link = os.readlink(built)
    big = tmp_path / "big"
    big.mkdir()
    text = (SEEDS / f"{OTHER}.txt").read_text(encoding="utf-8")
    (big / "大文件.txt").write_text(f"{text}\n\n编号{time.time_ns()}。\n", encoding="utf-8")
    args = {"add": ["add", str(big / "大文件.txt")], "remove": ["remove", SMALL[0]],
            "build": ["build", "--source", str(small_seeds), "--source", str(big), "--force"]}[command]
    proc = subprocess.Popen([str(QA), *args, "--index", str(built)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=qa_env(cache))
    lock = lock_path(built)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if lock.exists() and lock.read_text().startswith(f"pid {proc.pid}:"):
            break
        time.sleep(0.005)
    assert proc.poll() is None, "the writer finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    after = load_index(built)  # whole: the old build (or, had it got that far, the new one)
    assert os.readlink(built) == before_link or after.built_at != before.built_at
    assert [p.id for p in after.passages] == [p.id for p in before.passages] or os.readlink(built) != before_link
    with WriteLock(built, "next", wait_s=0):  # the kernel released the dead writer's lock
        pass
    change = add_paths([unique_doc(tmp_path / "next", "后来.txt", "后来添加的文档。")], built, embedder,
                       cache_dir=cache_dir)
    assert "后来" in load_index(built).documents and change.report.documents >= 3
    assert not list(builds_dir(built).glob(".tmp-*")), "a dead writer's work folder was left behind"
    assert not [p for p in files_dir(built).iterdir() if p.name.startswith(".")]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_kill_9_of_the_server_in_the_middle_of_an_upload(built, tmp_path, cache_dir, embedder):
    """`qa serve` killed while an upload holds the write lock: the index stays whole, the lock is free, and
    the next write removes the dead server's partial upload."""
    import httpx

    cache = link_cache(tmp_path, cache_dir)
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    env = {**qa_env(cache), "QA_ADMIN_TOKEN": TOKEN, "QA_RELOAD_INTERVAL_S": "0"}
    server = subprocess.Popen([str(QA), "serve", "--index", str(built), "--host", "127.0.0.1", "--port", str(port)],
                              stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    before = load_index(built)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        text = (SEEDS / f"{OTHER}.txt").read_text(encoding="utf-8") + f"\n\n编号{time.time_ns()}。\n"
        body, headers = multipart("长文.txt".encode(), text.encode())
        sender = threading.Thread(target=lambda: _post_quietly(f"{base}/api/documents", body, headers), daemon=True)
        sender.start()
        lock = lock_path(built)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if lock.exists() and lock.read_text().startswith(f"pid {server.pid}: document upload"):
                break
            time.sleep(0.005)
        else:
            pytest.fail("the upload never took the lock")
        os.kill(server.pid, signal.SIGKILL)
        server.wait(30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(30)
        log.close()
    after = load_index(built)
    assert [p.id for p in after.passages] == [p.id for p in before.passages] or "长文" in after.documents
    with WriteLock(built, "next", wait_s=0):
        pass
    add_paths([unique_doc(tmp_path / "next", "其后.txt", "其后添加的文档。")], built, embedder, cache_dir=cache_dir)
    assert "其后" in load_index(built).documents
    assert not [p for p in files_dir(built).iterdir() if p.name.startswith(".")], "the dead upload was left"


def _post_quietly(url: str, body: bytes, headers: dict) -> None:
    import httpx

    try:
        httpx.post(url, content=body, headers=headers, timeout=300)
    except httpx.HTTPError:
        pass  # the server is killed mid-request

