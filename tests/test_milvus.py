"""Vectors in Milvus (Milvus Lite, embedded; a file path as QA_MILVUS_URI): the store on its own against
FAISS, then the real seeds index built into Milvus and searched through the same retriever, the API
answering from it, rebuilds dropping old collections, and the one-line errors a user can cause."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymilvus", reason="the milvus extra (make test installs it)")

from embeddings.model import normalize_rows  # noqa: E402
from embeddings.stores import StoreError, build_store, discard_store, open_store, store_exists  # noqa: E402
from embeddings.stores.faiss import FaissStore  # noqa: E402
from embeddings.stores.milvus import MilvusStore, client  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEED_QA = Path(__file__).resolve().parent / "data" / "seed_qa.jsonl"


@pytest.fixture
def lite(tmp_path) -> dict:
    return {"backend": "milvus", "uri": str(tmp_path / "milvus.db")}


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_milvus_store_answers_like_faiss(tmp_path, lite, kind):
    rng = np.random.default_rng(11)
    vectors = normalize_rows(rng.normal(size=(2000, 48)))
    queries = normalize_rows(rng.normal(size=(20, 48)))
    store = build_store(vectors, lite, kind=kind, name="test-build.1")
    assert isinstance(store, MilvusStore)
    assert store.params["store"] == "milvus" and store.params["type"] == kind
    assert store.params["collection"] == "test_build_1" and "token" not in store.params
    faiss = FaissStore.build(vectors, kind="flat")
    m_scores, m_ids = store.search(queries, 10)
    f_scores, f_ids = faiss.search(queries, 10)
    assert m_ids.shape == f_ids.shape == (20, 10)
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(m_ids, f_ids, strict=True)])
    assert overlap >= (1.0 if kind == "flat" else 0.95)
    if kind == "flat":
        np.testing.assert_allclose(m_scores, f_scores, atol=1e-5)
    np.testing.assert_allclose(store.reconstruct_range(1990, 10), vectors[1990:], atol=1e-6)
    assert store.reconstruct_range(5, 0).shape == (0, 48)

    again = open_store(tmp_path, store.params, lite)  # as load_index opens it
    assert len(again) == 2000 and again.dim == 48
    np.testing.assert_array_equal(again.search(queries[:3], 5)[1], m_ids[:3, :5])
    assert store_exists(tmp_path, store.params, lite)
    discard_store(tmp_path, store.params, lite)
    assert not store_exists(tmp_path, store.params, lite)
    with pytest.raises(StoreError, match="no collection"):
        open_store(tmp_path, store.params, lite)


def test_milvus_pads_when_fewer_rows_than_k(lite):
    vectors = normalize_rows(np.random.default_rng(3).normal(size=(4, 8)))
    store = build_store(vectors, lite, kind="flat", name="tiny")
    scores, ids = store.search(vectors[:2], 50)
    assert ids.shape == (2, 4) and set(ids[0]) == {0, 1, 2, 3} and ids[0, 0] == 0 and ids[1, 0] == 1


def test_bad_milvus_uri_says_what_to_use():
    with pytest.raises(StoreError, match="ending in .db"):
        build_store(np.zeros((1, 4), np.float32), {"backend": "milvus", "uri": "data/milvus"}, name="x")
    with pytest.raises(StoreError, match="QA_MILVUS_URI"):
        build_store(np.zeros((1, 4), np.float32), {"backend": "milvus"}, name="x")
    with pytest.raises(StoreError, match="unknown vector store"):
        build_store(np.zeros((1, 4), np.float32), {"backend": "nosuch"}, name="x")


# --- the real model: the seeds index in Milvus --------------------------------------------------------------


@pytest.fixture(scope="module")
def milvus_index(tmp_path_factory, embedder, cache_dir):
    """The seeds built with QA_VECTOR_STORE=milvus into a Milvus Lite file (embeddings from the shared cache)."""
    from qa.index.build import build_index
    from qa.index.store import load_index

    tmp = tmp_path_factory.mktemp("milvus-seeds")
    config = {"backend": "milvus", "uri": str(tmp / "milvus.db")}
    index_dir = tmp / "index"
    build_index([ROOT / "seeds"], index_dir, embedder, cache_dir=cache_dir, vector_store=config)
    mp = pytest.MonkeyPatch()
    mp.setenv("QA_VECTOR_STORE", "milvus")
    mp.setenv("QA_MILVUS_URI", config["uri"])
    yield index_dir, config, load_index(index_dir, embedder)
    mp.undo()


@pytest.mark.slow
def test_seeds_in_milvus_rank_like_faiss(milvus_index, seed_index, embedder):
    from qa import evaluation
    from qa.search.retriever import Retriever

    index_dir, config, index = milvus_index
    manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["vector_index"]["store"] == "milvus"
    assert manifest["vector_index"]["collection"] in client(config["uri"]).list_collections()
    assert not (index_dir / "vectors.faiss").exists()
    assert len(index.vectors) == len(seed_index.vectors) == manifest["units"]
    np.testing.assert_allclose(index.vectors.reconstruct_range(10, 5), seed_index.vectors.reconstruct_range(10, 5),
                               atol=1e-6)

    queries = evaluation.load_queries(SEED_QA)
    qvecs = embedder.embed_queries([q.text for q in queries])
    rule = evaluation.HitRule({})
    by_store = {}
    for name, idx in (("faiss", seed_index), ("milvus", index)):
        retriever = Retriever(embedder, idx)
        rows = evaluation.run(retriever, queries, rule, k=10, qvecs=qvecs)
        by_store[name] = evaluation.summarize(rows)["all"]["R@5"]
        by_store[name + "_ids"] = [
            [h.passage.id for h in retriever.search(q.text, 5, qvec=v)] for q, v in zip(queries, qvecs, strict=True)
        ]
    assert abs(by_store["faiss"] - by_store["milvus"]) <= 0.02, by_store
    same = sum(a == b for a, b in zip(by_store["faiss_ids"], by_store["milvus_ids"], strict=True))
    assert same >= len(queries) - 1, (same, len(queries))


@pytest.mark.slow
def test_api_answers_from_milvus(milvus_index, embedder, client):
    from fastapi.testclient import TestClient

    from qa.serve.app import create_app
    from tests.conftest import make_settings

    index_dir, _, index = milvus_index
    app = create_app(make_settings(index_dir), embedder=embedder, index=index, watch=False)
    question = {"question": "荆州二医在封城期间接诊了多少发热患者？", "top_k": 3}
    with TestClient(app) as milvus_client:
        got = milvus_client.post("/api/ask", json=question).json()
        health = milvus_client.get("/api/health")
    want = client.post("/api/ask", json=question).json()
    assert health.status_code == 200
    assert [p["id"] for p in got["passages"]] == [p["id"] for p in want["passages"]]
    assert got["found"] == want["found"] and got["answer"] == want["answer"]


@pytest.mark.slow
def test_rebuilds_keep_two_collections_and_a_failed_build_leaves_none(tmp_path, embedder, cache_dir, monkeypatch):
    from qa.index import store as store_module
    from qa.index.build import build_index
    from qa.index.store import load_index

    docs = tmp_path / "docs"
    docs.mkdir()
    seed = sorted((ROOT / "seeds").glob("*.txt"))[2]
    (docs / seed.name).write_text(seed.read_text(encoding="utf-8"), encoding="utf-8")
    uri = str(tmp_path / "milvus.db")
    monkeypatch.setenv("QA_VECTOR_STORE", "milvus")
    monkeypatch.setenv("QA_MILVUS_URI", uri)
    index_dir = tmp_path / "index"
    names = []
    for _ in range(3):
        build_index([docs], index_dir, embedder, cache_dir=cache_dir, force=True)
        names.append(json.loads((index_dir / "manifest.json").read_text())["vector_index"]["collection"])
    assert len(set(names)) == 3
    assert set(client(uri).list_collections()) == set(names[1:])  # the oldest build went with its collection
    unchanged = build_index([docs], index_dir, embedder, cache_dir=cache_dir)
    assert unchanged.unchanged

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store_module.KeywordIndex, "save", broken)
    with pytest.raises(OSError):
        build_index([docs], index_dir, embedder, cache_dir=cache_dir, force=True)
    assert set(client(uri).list_collections()) == set(names[1:])  # the failed build's collection was dropped
    assert len(load_index(index_dir, embedder).vectors) > 0


@pytest.mark.slow
def test_cli_build_and_ask_with_milvus(tmp_path, monkeypatch):
    """`qa build` / `qa ask` as a user runs them, in a fresh process, with QA_VECTOR_STORE=milvus."""
    import subprocess

    docs = tmp_path / "docs"
    docs.mkdir()
    seed = sorted((ROOT / "seeds").glob("*.txt"))[0]
    (docs / seed.name).write_text(seed.read_text(encoding="utf-8"), encoding="utf-8")
    qa = Path(sys.executable).with_name("qa")
    env = {**__import__("os").environ, "QA_VECTOR_STORE": "milvus", "QA_MILVUS_URI": str(tmp_path / "m.db"),
           "QA_INDEX_DIR": str(tmp_path / "index")}
    built = subprocess.run([qa, "build", "--source", docs], env=env, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    asked = subprocess.run([qa, "ask", "--json", "医院"], env=env, capture_output=True, text=True, timeout=300)
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["passages"]
    bad = subprocess.run([qa, "build", "--source", docs, "--force"], env={**env, "QA_MILVUS_URI": "nowhere"},
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1
    assert bad.stderr.strip().count("\n") == 0 and "ending in .db" in bad.stderr and "Traceback" not in bad.stderr
