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


def test_onnx_order_and_batching(onnx_embedder):
    # dynamic quantisation takes activation ranges per batch, so batch mates move a vector slightly
    texts = PASSAGES * 3
    whole = onnx_embedder.embed_passages(texts, batch_size=5)
    single = np.stack([onnx_embedder.embed_passages([t])[0] for t in texts])
    assert (whole * single).sum(axis=1).min() >= 0.99
    assert onnx_embedder.embed_queries([]).shape == (0, onnx_embedder.dim)


def test_onnx_query_threads(cache_dir):
    one = load_embedder("default", cache_dir=cache_dir, backend="onnx", query_threads=1)
    assert one.embed_queries(QUERIES).shape == (2, one.dim)
