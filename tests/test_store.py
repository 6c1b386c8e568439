"""The index directory with the real model: manifest, refusal of foreign/damaged indexes, atomic and
incremental builds, source encodings, and `qa build` on an undecodable file.

Builds run on a tmp copy of two seeds. Tests that count embeddings use their own (empty) embedding cache;
the others share the repository's cache, so their builds embed nothing new.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from qa.errors import IndexCorrupt, IndexMismatch, IndexNotFound
from qa.index.build import build_index
from qa.index.store import MANIFEST, load_index, read_manifest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
QA = Path(sys.executable).with_name("qa")
SMALL = ("003_05d70a71f3258940", "004_418b4fb8ab4a92f7")
OTHER = "002_3a274bbbdd8f06d7"


@pytest.fixture
def small_seeds(tmp_path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for doc_id in SMALL:
        shutil.copy(SEEDS / f"{doc_id}.txt", folder / f"{doc_id}.txt")
    return folder


@pytest.fixture
def built(small_seeds, tmp_path, embedder, cache_dir) -> Path:
    """A finished index of the two small seeds (embeddings from the shared cache)."""
    index_dir = tmp_path / "idx" / "index"
    build_index([small_seeds], index_dir, embedder, cache_dir=cache_dir)
    return index_dir


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def tree_digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (the link resolved)."""
    real = folder.resolve()
    return {
        p.relative_to(real).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(real.rglob("*")) if p.is_file()
    }


def assert_rebuild_hint(exc: pytest.ExceptionInfo) -> None:
    message = exc.value.message
    assert "rebuild" in message and "qa build" in message, message
    assert "\n" not in message


# ----------------------------------------------------------------------------------------- manifest


def test_manifest_fields(built, small_seeds, embedder):
    manifest = read_manifest(built.resolve())
    assert manifest["model"] == embedder.name
    assert manifest["model_fingerprint"] == embedder.fingerprint
    assert manifest["dim"] == embedder.dim == 384
    assert manifest["documents"] == 2
    passages = read_jsonl(built / "passages.jsonl")
    documents = read_jsonl(built / "documents.jsonl")
    assert manifest["passages"] == len(passages) > 0
    assert [d["id"] for d in documents] == list(SMALL)
    index = load_index(built, embedder)
    assert manifest["units"] == len(index.units) == len(index.vectors) >= manifest["passages"]
    assert len(manifest["sources"]) == 2
    for entry, doc_id in zip(manifest["sources"], SMALL, strict=True):
        raw = (small_seeds / f"{doc_id}.txt").read_bytes()
        assert entry["doc_id"] == doc_id
        assert entry["source"] == f"{doc_id}.txt"
        assert entry["sha256"] == hashlib.sha256(raw).hexdigest()
        assert entry["encoding"] == "utf-8"
    built_at = datetime.fromisoformat(manifest["built_at"])
    assert built_at.tzinfo is not None
    assert {"qa", "python", "faiss-cpu", "sentence-transformers", "torch"} <= set(manifest["versions"])
    assert manifest["vector_index"]["type"] == "flat"
    assert manifest["vector_index"]["metric"] == "inner_product"
    assert manifest["keywords"]["tokenizer"] == "bigram"
    assert index.built_at == manifest["built_at"]


def test_index_is_a_link_to_a_finished_build(built):
    assert built.is_symlink()
    target = built.resolve()
    builds = built.parent / "index.builds"
    assert target.parent == builds.resolve()
    assert not target.name.startswith(".")
    for name in (MANIFEST, "documents.jsonl", "passages.jsonl", "units.npz", "vectors.faiss"):
        assert (target / name).is_file(), name
    assert (target / "keywords").is_dir()
    assert not list(builds.glob(".tmp-*")), "a work folder was left behind"
    assert not list(built.parent.glob(".index.link-*")), "a temporary link was left behind"


def test_old_builds_are_pruned(built, small_seeds, embedder, cache_dir):
    for _ in range(3):
        build_index([small_seeds], built, embedder, cache_dir=cache_dir, force=True)
    finished = [p for p in (built.parent / "index.builds").iterdir() if not p.name.startswith(".")]
    assert len(finished) == 2
    assert built.resolve() in [p.resolve() for p in finished]
    load_index(built, embedder)


# ----------------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("stub", [dict(name="other/model", dim=384), dict(name=None, dim=512)], ids=["name", "dim"])
def test_refuses_another_model(built, embedder, stub):
    other = SimpleNamespace(name=stub["name"] or embedder.name, dim=stub["dim"], fingerprint="x")
    with pytest.raises(IndexMismatch) as exc:
        load_index(built, other)
    assert_rebuild_hint(exc)


@pytest.mark.parametrize("field,value", [("model", "someone/else"), ("dim", 768)])
def test_refuses_manifest_of_another_model(built, embedder, field, value):
    path = built.resolve() / MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest[field] = value
    path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexMismatch) as exc:
        load_index(built, embedder)
    assert_rebuild_hint(exc)


def test_an_index_whose_vectors_were_computed_another_way_loads_with_a_warning(built, embedder, caplog):
    """The same model, another fingerprint (an onnx index of before 2026-12-06, embedded in batches): it still
    answers, and the log says a rebuild makes its scores exact."""
    path = built.resolve() / MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["model_fingerprint"] = embedder.model_fingerprint + "-onnx"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    with caplog.at_level("WARNING", logger="qa"):
        assert load_index(built, embedder).passages
    assert "qa build" in caplog.text and embedder.fingerprint in caplog.text


def test_missing_index(tmp_path, embedder):
    with pytest.raises(IndexNotFound) as exc:
        load_index(tmp_path / "nothing-here", embedder)
    assert "qa build" in exc.value.message
    (tmp_path / "empty").mkdir()
    with pytest.raises(IndexNotFound):
        load_index(tmp_path / "empty", embedder)
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    with pytest.raises(IndexNotFound):
        load_index(tmp_path / "dangling", embedder)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garble(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * (max(1, path.stat().st_size // 256)))


def _garble_head(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[:64] = b"\xff" * 64
    path.write_bytes(bytes(data))


DAMAGE = {
    "vectors-truncated": ("vectors.faiss", _truncate),
    "vectors-truncated-by-4": ("vectors.faiss", lambda p: p.write_bytes(p.read_bytes()[:-4])),
    "vectors-garbled": ("vectors.faiss", _garble),
    "vectors-empty": ("vectors.faiss", lambda p: p.write_bytes(b"")),
    "vectors-missing": ("vectors.faiss", Path.unlink),
    "manifest-garbled": (MANIFEST, _garble),
    "manifest-truncated": (MANIFEST, _truncate),
    "manifest-not-an-object": (MANIFEST, lambda p: p.write_text("[1, 2]", encoding="utf-8")),
    "passages-missing": ("passages.jsonl", Path.unlink),
    "passages-truncated": ("passages.jsonl", _truncate),
    "passages-garbled": ("passages.jsonl", _garble_head),
    "documents-missing": ("documents.jsonl", Path.unlink),
    "units-missing": ("units.npz", Path.unlink),
    "units-garbled": ("units.npz", _garble),
    "keywords-missing": ("keywords", lambda p: shutil.rmtree(p)),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_index_is_corrupt_with_rebuild_hint(built, embedder, damage):
    name, mutate = DAMAGE[damage]
    mutate(built.resolve() / name)
    with pytest.raises(IndexCorrupt) as exc:
        load_index(built, embedder)
    assert_rebuild_hint(exc)


# ----------------------------------------------------------------------------------------- atomic builds


def test_failed_build_leaves_previous_index(built, small_seeds, embedder, cache_dir, monkeypatch):
    """A build that raises after embedding leaves the old index loadable, byte for byte, and no debris."""
    import qa.index.store

    before_link = os.readlink(built)
    before_files = tree_digest(built)
    before = load_index(built, embedder)
    (small_seeds / f"{SMALL[0]}.txt").write_text("新的内容。" * 50, encoding="utf-8")

    def boom(self, folder):
        assert (folder / "vectors.faiss").is_file()  # mid-way: vectors already written into the work folder
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(qa.index.store.Units, "save", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        build_index([small_seeds], built, embedder, cache_dir=cache_dir)
    monkeypatch.undo()

    assert os.readlink(built) == before_link
    assert tree_digest(built) == before_files
    after = load_index(built, embedder)
    assert after.built_at == before.built_at
    assert [p.id for p in after.passages] == [p.id for p in before.passages]
    builds = built.parent / "index.builds"
    assert not list(builds.glob(".tmp-*"))
    assert [p for p in builds.iterdir()] == [built.resolve()]

    report = build_index([small_seeds], built, embedder, cache_dir=cache_dir)  # and the next build works
    assert not report.unchanged
    assert os.readlink(built) != before_link
    assert load_index(built, embedder).documents[SMALL[0]].text.startswith("新的内容。")


def test_failed_build_before_writing_leaves_previous_index(built, small_seeds, embedder, cache_dir, monkeypatch):
    import qa.index.build

    before_link, before_files = os.readlink(built), tree_digest(built)
    (small_seeds / f"{SMALL[1]}.txt").unlink()

    def boom(*args, **kwargs):
        raise MemoryError("no room for the vector index")

    monkeypatch.setattr(qa.index.build, "build_store", boom)
    with pytest.raises(MemoryError):
        build_index([small_seeds], built, embedder, cache_dir=cache_dir)
    assert os.readlink(built) == before_link
    assert tree_digest(built) == before_files
    assert len(load_index(built, embedder).documents) == 2


# ----------------------------------------------------------------------------------------- incremental builds


def test_incremental_builds(small_seeds, tmp_path, embedder):
    """Unchanged corpus: nothing embedded. One changed document: only its units. A removed file: gone."""
    cache = tmp_path / "cache"  # an empty embedding cache, so the counts are exact
    index_dir = tmp_path / "index"

    first = build_index([small_seeds], index_dir, embedder, cache_dir=cache)
    assert not first.unchanged
    assert first.documents == 2
    assert first.embedded + first.reused == first.units
    assert first.embedded > 0
    first_link = os.readlink(index_dir)

    again = build_index([small_seeds], index_dir, embedder, cache_dir=cache)
    assert again.unchanged
    assert again.embedded == 0
    assert (again.passages, again.units) == (first.passages, first.units)
    assert os.readlink(index_dir) == first_link, "an unchanged corpus must not produce a new build"

    forced = build_index([small_seeds], index_dir, embedder, cache_dir=cache, force=True)
    assert not forced.unchanged
    assert forced.embedded == 0 and forced.reused == forced.units

    # change one document wholly (new text under the same file name)
    changed = SMALL[1]
    shutil.copy(SEEDS / f"{OTHER}.txt", small_seeds / f"{changed}.txt")
    third = build_index([small_seeds], index_dir, embedder, cache_dir=cache)
    index = load_index(index_dir, embedder)
    doc_units = sum(1 for row in index.units.passage if index.passages[row].doc_id == changed)
    print(f"changed document: {doc_units} of {third.units} units; embedded {third.embedded}")
    assert third.embedded == doc_units
    assert 0 < third.embedded < third.units
    assert third.reused == third.units - third.embedded
    assert index.manifest["embedded"] == third.embedded
    assert index.documents[changed].text == (SEEDS / f"{OTHER}.txt").read_text(encoding="utf-8")

    # remove a file: its passages go
    removed = SMALL[0]
    (small_seeds / f"{removed}.txt").unlink()
    fourth = build_index([small_seeds], index_dir, embedder, cache_dir=cache)
    index = load_index(index_dir, embedder)
    assert fourth.embedded == 0
    assert fourth.documents == 1
    assert set(index.documents) == {changed}
    assert {p.doc_id for p in index.passages} == {changed}
    assert [s["doc_id"] for s in index.manifest["sources"]] == [changed]
    assert all(removed not in row["doc_id"] for row in read_jsonl(index_dir / "passages.jsonl"))
    assert fourth.units == doc_units


# ----------------------------------------------------------------------------------------- encodings


def test_gb18030_and_bom_sources(tmp_path, embedder, cache_dir):
    folder = tmp_path / "docs"
    folder.mkdir()
    texts = {doc_id: (SEEDS / f"{doc_id}.txt").read_text(encoding="utf-8") for doc_id in SMALL}
    (folder / f"{SMALL[0]}.txt").write_bytes(texts[SMALL[0]].encode("gb18030"))
    (folder / f"{SMALL[1]}.txt").write_bytes(texts[SMALL[1]].encode("utf-8-sig"))
    index_dir = tmp_path / "index"
    report = build_index([folder], index_dir, embedder, cache_dir=cache_dir)
    assert report.documents == 2
    index = load_index(index_dir, embedder)
    encodings = {s["doc_id"]: s["encoding"] for s in index.manifest["sources"]}
    assert encodings == {SMALL[0]: "gb18030", SMALL[1]: "utf-8-sig"}
    for entry in index.manifest["sources"]:
        raw = (folder / entry["source"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(raw).hexdigest()
    for doc_id, text in texts.items():
        assert index.documents[doc_id].text == text  # decoded, BOM dropped
        assert index.documents[doc_id].encoding == encodings[doc_id]
    assert any("近" in p.text for p in index.passages)


def test_qa_build_skips_an_undecodable_file_and_builds_the_rest(tmp_path, small_seeds):
    bad = small_seeds / "broken.txt"
    bad.write_bytes(bytes(range(256)) * 8)
    env = {**os.environ, "QA_INDEX_DIR": str(tmp_path / "unused")}
    proc = subprocess.run(
        [str(QA), "build", "--source", str(small_seeds), "--index", str(tmp_path / "index")],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert [line.split()[0] for line in lines[:2]] == ["indexed", "indexed"]  # files in path order
    assert lines[2].startswith("skipped  ") and "broken.txt: binary or undecodable" in lines[2]
    assert lines[-1].endswith("2 files indexed, 1 skipped")
    assert set(load_index(tmp_path / "index").documents) == set(SMALL)
