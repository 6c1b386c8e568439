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
