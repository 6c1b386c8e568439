"""embeddings.index.VectorIndex on its own (random unit vectors; no model): ranges of stored vectors and a
save/load round trip, for the exact and the approximate index."""

from __future__ import annotations

import numpy as np
import pytest

from embeddings.index import VectorIndex
from embeddings.model import normalize_rows


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_reconstruct_range_matches_the_stored_vectors(tmp_path, kind):
    vectors = normalize_rows(np.random.default_rng(7).normal(size=(300, 32)))
    index = VectorIndex.build(vectors, kind=kind)
    np.testing.assert_allclose(index.reconstruct_range(40, 25), vectors[40:65], atol=1e-6)
    assert index.reconstruct_range(10, 0).shape == (0, 32)
    index.save(tmp_path)
    loaded = VectorIndex.load(tmp_path)
    np.testing.assert_allclose(loaded.reconstruct_range(290, 10), vectors[290:], atol=1e-6)


def test_keyword_index_loads_memory_mapped_with_the_same_scores(tmp_path):
    """The BM25 matrix is mapped from its files, not read into the heap, and scores as the built index does."""
    from qa.index.keywords import KeywordIndex

    texts = ["荆州市第二人民医院接诊发热患者近4000人次", "十堰市中西医结合医院打造区域中心", "醫院的卒中中心"] * 20
    built = KeywordIndex.build(texts)
    built.save(tmp_path)
    loaded = KeywordIndex.load(tmp_path)
    for name in ("data", "indices", "indptr"):
        assert isinstance(loaded._bm25.scores[name], np.memmap), name
    for question in ("发热患者有多少", "医院卒中中心", "nothing"):
        np.testing.assert_allclose(loaded.scores(question), built.scores(question), rtol=1e-6)
    assert loaded.idf() == built.idf()
