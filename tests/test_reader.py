"""The reader (embeddings/reader.py, qa/search/reader.py): the trained cross-encoder, with the real model.
It is off unless QA_READER=1."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa.search.reader import READER_META, reader_for

QUESTION = "荆州二医在封城期间接诊了多少发热患者？"
TITLE = "荆州市第二人民医院"
ANSWERS = "至2020年3月16日18时，在荆州封城的52天里，荆州二医累计接诊发热患者近4000人次。"
UNRELATED = "医院先后荣获全国改善医疗服务创新医院、湖北省文明单位等荣誉称号。"


@pytest.fixture
def reading(monkeypatch):
    monkeypatch.setenv("QA_READER", "1")


@pytest.fixture
def read_retriever(reading, embedder, seed_index):
    from qa.search.retriever import Retriever

    return Retriever(embedder, seed_index)


def test_the_shipped_reader_is_small_and_names_its_model(embedder):
    meta = json.loads(READER_META.read_text(encoding="utf-8"))
    weights = READER_META.with_name(meta["weights"])
    assert weights.stat().st_size <= 30 * 2**20
    assert meta["base_model"] == embedder.model_fingerprint
    assert meta["recipe"].startswith("python -m bench.reader --write") and {"cmrc", "drcd"} <= set(meta["trained_on"])


def test_reader_prefers_the_sentence_that_states_the_answer(reading, embedder):
    from embeddings.reader import pair_text

    reader = reader_for(embedder)
    assert reader is not None
    logits = reader.scores(QUESTION, [pair_text(TITLE, UNRELATED), pair_text(TITLE, ANSWERS)])
    assert logits.shape == (2,) and logits[1] > logits[0] + 1.0, logits
    assert reader is reader_for(embedder)  # loaded once per process


def test_torch_and_onnx_readers_agree(reading, embedder):
    """The int8 ONNX export reads like the fp32 torch module it was made from."""
    from embeddings.reader import Reader, pair_text
    from qa.search.decision import MODEL_DIR

    meta = json.loads(READER_META.read_text(encoding="utf-8"))
    seconds = [pair_text(TITLE, s) for s in (ANSWERS, UNRELATED, "荆州市于2020年1月24日封城。")]
    fp32 = Reader(embedder.folder, MODEL_DIR / meta["weights"], meta["low"], "torch").scores(QUESTION, seconds)
    int8 = reader_for(embedder).scores(QUESTION, seconds)
    assert np.argmax(fp32) == np.argmax(int8) == 0
    assert np.max(np.abs(fp32 - int8)) < 2.0, (fp32, int8)  # int8 noise: ~0.2 mean, ~1.3 worst on 300 pairs


def test_the_reader_is_off_by_default(embedder, seed_index, monkeypatch):
    """Without QA_READER=1 (or with another model) there is no reader; the decision trained without its
    features decides, and still answers the seed question and refuses the bed count of another hospital."""
    from qa.search.answer import ask
    from qa.search.decision import load_decision
    from qa.search.retriever import Retriever

    monkeypatch.delenv("QA_READER", raising=False)
    plain = Retriever(embedder, seed_index)
    assert plain.reader is None
    assert "r1" not in load_decision(False).features and "r1" in load_decision(True).features
    assert ask(plain, QUESTION, 5).found
    assert not ask(plain, "荆州一医一共有多少张床位？", 5).found
    monkeypatch.setenv("QA_READER", "0")
    assert Retriever(embedder, seed_index).reader is None


def test_the_reader_feeds_the_decision(read_retriever):
    """Turned on, the reader reads the best sentences; the cascade still answers the seed question and refuses
    the bed count of another hospital and junk."""
    from qa.search.answer import ask

    assert read_retriever.reader is not None
    assert ask(read_retriever, QUESTION, 5).found and "r1" in load_features(read_retriever, QUESTION)
    assert not ask(read_retriever, "荆州一医一共有多少张床位？", 5).found
    assert not ask(read_retriever, "asdfgh", 5).found


def load_features(retriever, question: str) -> dict[str, float]:
    from qa.search.answer import evidence

    qvec = retriever.embed(question)
    return evidence(retriever, question, retriever.search(question, 5, qvec=qvec), qvec)[1]


@pytest.mark.parametrize("units", [[], [("", "")]])
def test_read_handles_nothing_to_read(reading, embedder, units):
    from qa.search.reader import read

    values = read(reader_for(embedder), QUESTION, units)
    assert set(values) == {"r1", "r_max3", "r_gap"}


def test_a_reader_of_another_model_is_not_used_and_says_so(reading, caplog):
    """QA_READER=1 with a model the reader was not trained from (a new model, or a fingerprint changed under
    it, which is how CI went red once): no reader, and one warning that says why."""
    from types import SimpleNamespace

    other = SimpleNamespace(folder=READER_META.parent, model_fingerprint="0000000000000000", backend="onnx")
    with caplog.at_level("WARNING", logger="qa.search.reader"):
        assert reader_for(other) is None
        assert reader_for(other) is None
    warnings = [r for r in caplog.records if "trained from model" in r.getMessage()]
    assert len(warnings) == 1 and "0000000000000000" in warnings[0].getMessage()
