"""The optional ONNX backend (int8): vectors close to the torch model's. Skipped without the ``onnx`` extra."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed (pip install -e '.[onnx]')")

from embeddings import load_embedder  # noqa: E402

pytestmark = pytest.mark.slow

QUERIES = ["荆州二医在封城期间接诊了多少发热患者？", "How many fever patients did the hospital see?"]
PASSAGES = [
    "2020年1月24日18时，荆州封城。",
    "荆州市第二人民医院召开第六届职工代表大会第一次会议，审议通过医院工作报告。",
    "市中心医院2022年工作回眸：门诊量、出院人次与手术量均创历史新高。",
    "The hospital opened a fever clinic and screened every patient at the gate.",
]


@pytest.fixture(scope="module")
def onnx_embedder(cache_dir):
    return load_embedder("default", cache_dir=cache_dir, backend="onnx")


@pytest.fixture(scope="module")
def embedder(cache_dir):
    """The torch (fp32) model the onnx export is checked against."""
    return load_embedder("default", cache_dir=cache_dir, backend="torch")


def test_onnx_matches_torch(embedder, onnx_embedder):
    assert onnx_embedder.dim == embedder.dim
    assert onnx_embedder.fingerprint != embedder.fingerprint  # separate embedding caches and indexes
    for kind in ("queries", "passages"):
        texts = QUERIES if kind == "queries" else PASSAGES
        ours = getattr(onnx_embedder, f"embed_{kind}")(texts)
        ref = getattr(embedder, f"embed_{kind}")(texts)
        assert ours.shape == ref.shape and ours.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
        cosine = (ours * ref).sum(axis=1)
        assert cosine.min() >= 0.98, f"{kind}: cosine to torch {cosine.round(4)}"


def test_a_vector_does_not_depend_on_the_texts_beside_it(onnx_embedder):
    # dynamic quantisation scales activations by a tensor's range: run in batches, a text's vector moved with its
    # batch mates (cosine ~0.996), so the embedding cache kept whichever corpus embedded a passage first
    texts = PASSAGES * 3
    whole = onnx_embedder.embed_passages(texts, batch_size=5)
    single = np.stack([onnx_embedder.embed_passages([t])[0] for t in texts])
    np.testing.assert_allclose(whole, single, atol=1e-6)
    beside = onnx_embedder.embed_queries([QUERIES[0], "一个长得多的问题，" * 20, QUERIES[1]])
    alone = np.stack([onnx_embedder.embed_queries([q])[0] for q in QUERIES])
    np.testing.assert_allclose(beside[[0, 2]], alone, atol=1e-6)
    assert onnx_embedder.embed_queries([]).shape == (0, onnx_embedder.dim)


def test_onnx_query_threads(cache_dir):
    one = load_embedder("default", cache_dir=cache_dir, backend="onnx", query_threads=1)
    assert one.embed_queries(QUERIES).shape == (2, one.dim)
