"""Choosing the answer sentence: the candidates (the sentence units of the best passages) and what each says
for itself, scored by a small learned ranker when one ships (``models/sentence.json``), else by a hand-set sum.

Every feature is already at hand: the unit vectors are in the index (no model call), keyword coverage and the
asked type, measure word and attribute come from :mod:`qa.search.attributes`. ``python -m bench.sentences``
collects candidates from the public sets, labels a candidate by whether it contains the gold answer, trains
the ranker and reports it on sources it was not trained on.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..glossary import chinese_keywords
from ..index.keywords import tokenize
from ..text import fold
from .attributes import (
    KINDS,
    Asked,
    all_terms,
    answer_near_terms,
    focus_share,
    has_kind,
    has_measure,
    term_share,
)

if TYPE_CHECKING:
    from .retriever import Hit, Retriever

_CJK_CHAR = re.compile(r"[\u4e00-\u9fff]")
MODEL_DIR = Path(__file__).with_name("models")
SENTENCE_FILE = MODEL_DIR / "sentence.json"
ANSWER_PASSAGES = 3
# the hand-set score without a ranker: cosine + weights x evidence - penalties
COVERAGE_WEIGHT = 0.3
RANK_PENALTY = 0.03
HEADING_PENALTY = 0.05
KIND_BONUS = 0.03
MEASURE_BONUS = 0.02
TERMS_WEIGHT = 0.03
FEATURES = (
    "cos", "cos_gap", "cos_rank", "coverage", "coverage_gap", "passage_rank", "passage_dense", "passage_score",
    "heading", "kind_asked", "kind_match", "measure_asked", "measure_match", "terms", "length", "position",
    "units_in_passage", "cross_lingual", "near", "all_terms", "prev_cos", "next_cos", "prev_coverage",
    "coverage_rank", "local", "local_gap", "local_rank", "local_chars", "local_chars_gap",
    "prev_local", "next_local", "focus",
)


@dataclass
class Candidate:
    hit: Hit
    start: int
    end: int
    cosine: float
    values: dict[str, float]


def candidates(retriever: Retriever, question: str, hits: list[Hit], qvec: np.ndarray, what: Asked,
               passages: int = ANSWER_PASSAGES) -> list[Candidate]:
    """The sentence units of the first ``passages`` passages that may answer (none of another entity), with their
    features."""
    cross = retriever.cross_lingual(question)
    keywords = " ".join(chinese_keywords(question)) if cross else question
    pool = [h for h in hits if h.grounded is not False][:passages]
    out: list[Candidate] = []
    for rank, hit in enumerate(pool):
        text = retriever.index.documents[hit.passage.doc_id].text
        ids, cosines = retriever.unit_scores(qvec, hit.row)
        for position, (uid, cos) in enumerate(zip(ids, cosines, strict=True)):
            start, end = int(retriever.index.units.start[uid]), int(retriever.index.units.end[uid])
            unit = text[start:end]
            out.append(Candidate(hit, start, end, float(cos), {
                "cos": float(cos),
                "coverage": retriever.coverage(keywords, unit),
                "passage_rank": float(rank),
                "passage_dense": hit.dense,
                "passage_score": hit.score,
                "heading": float(hit.passage.kind == "heading"),
                "kind_asked": float(KINDS.index(what.kind) + 1 if what.kind in KINDS else 0),
                "kind_match": float(bool(what.kind) and has_kind(what.kind, unit, retriever.people)),
                "measure_asked": float(what.measure is not None),
                "measure_match": float(what.measure is not None and has_measure(what.measure, unit)),
                "terms": term_share(what.terms, unit) if what.terms else 0.0,
                "length": math.log1p(end - start),
                "position": position / max(1, len(ids) - 1),
                "units_in_passage": float(len(ids)),
                "cross_lingual": float(cross),
                # the asked attribute with an answer of the asked type beside it (床位703张), every term there
                "near": answer_near_terms(what, unit) if what.terms else 0.0,
                "all_terms": all_terms(what.terms, unit) if what.terms else 0.0,
                # the words the interrogative governs (哪个县: 县), -1 when it governs none
                "focus": focus_share(what, unit),
            }))
        # the sentences around it: a question often paraphrases the sentence before the one with the answer
        mine = out[len(out) - len(ids):]
        for i, c in enumerate(mine):
            c.values["prev_cos"] = mine[i - 1].cosine if i > 0 else 0.0
            c.values["next_cos"] = mine[i + 1].cosine if i + 1 < len(mine) else 0.0
            c.values["prev_coverage"] = mine[i - 1].values["coverage"] if i > 0 else 0.0
    if out:
        best_cos = max(c.cosine for c in out)
        best_cov = max(c.values["coverage"] for c in out)
        order = sorted(range(len(out)), key=lambda i: -out[i].cosine)
        for place, i in enumerate(order):
            out[i].values["cos_rank"] = float(place)
        by_coverage = sorted(range(len(out)), key=lambda i: -out[i].values["coverage"])
        for place, i in enumerate(by_coverage):
            out[i].values["coverage_rank"] = float(place)
        for c in out:
            c.values["cos_gap"] = best_cos - c.cosine
            c.values["coverage_gap"] = best_cov - c.values["coverage"]
        _local(out, keywords, [retriever.index.documents[c.hit.passage.doc_id].text[c.start:c.end] for c in out])
    return out


def _local(out: list[Candidate], keywords: str, units: list[str]) -> None:
    """Coverage weighted by how few of the candidates hold each question token (bigrams; then characters).

    The question's subject (滕皇后, 硼砂) is in most sentences of a passage about it and tells them apart no
    more than a stop word; the words of its predicate (哪里人, 外观, 西边) are in few, and the answering
    sentence is usually one of those few."""
    have = [_tokens(u) for u in units]
    asked = _tokens(keywords)
    for kind, name in enumerate(("local", "local_chars")):
        df = {t: sum(1 for toks in have if t in toks[kind]) for t in asked[kind]}
        weights = {t: math.log((len(units) + 1) / n) for t, n in df.items() if n}
        total = sum(weights.values())
        shares = [sum(w for t, w in weights.items() if t in toks[kind]) / total if total else 0.0 for toks in have]
        best = max(shares)
        for place, i in enumerate(sorted(range(len(out)), key=lambda i: -shares[i])):
            out[i].values[name] = shares[i]
            out[i].values[name + "_gap"] = best - shares[i]
            if kind == 0:
                out[i].values["local_rank"] = float(place)
    for i, c in enumerate(out):
        c.values["prev_local"] = out[i - 1].values["local"] if i > 0 and out[i - 1].hit is c.hit else 0.0
        c.values["next_local"] = out[i + 1].values["local"] if i + 1 < len(out) and out[i + 1].hit is c.hit else 0.0


@lru_cache(maxsize=65536)
def _tokens(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """The keyword tokens (bigrams) and the CJK characters of ``text``, folded."""
    return frozenset(tokenize(text)), frozenset(_CJK_CHAR.findall(fold(text)))


def hand_score(c: Candidate) -> float:
    """The score without a trained ranker (weights set by hand; see the module constants)."""
    v = c.values
    return (v["cos"] + COVERAGE_WEIGHT * v["coverage"] - RANK_PENALTY * v["passage_rank"]
            - HEADING_PENALTY * v["heading"] + KIND_BONUS * v["kind_match"] + MEASURE_BONUS * v["measure_match"]
            + TERMS_WEIGHT * v["terms"])


class Ranker:
    """The trained sentence ranker (LightGBM), loaded once."""

    def __init__(self, path: Path = SENTENCE_FILE) -> None:
        import lightgbm

        meta = json.loads(path.read_text(encoding="utf-8"))
        self.meta = meta
        self.features: tuple[str, ...] = tuple(meta["features"])
        self.booster = lightgbm.Booster(model_file=str(path.with_name(meta["model_file"])))

    def scores(self, cands: list[Candidate]) -> np.ndarray:
        rows = np.array([[c.values[f] for f in self.features] for c in cands], dtype=np.float64)
        return self.booster.predict(rows, num_threads=1)


@lru_cache(maxsize=1)
def load_ranker() -> Ranker | None:
    """The shipped ranker, or None (the hand-set score decides)."""
    return Ranker(SENTENCE_FILE) if SENTENCE_FILE.is_file() else None


def rank(cands: list[Candidate]) -> list[Candidate]:
    """The candidates best first: by the ranker when one ships, else by :func:`hand_score` (ties keep order)."""
    if not cands:
        return []
    ranker = load_ranker()
    scores = np.asarray(ranker.scores(cands) if ranker is not None else [hand_score(c) for c in cands])
    return [cands[int(i)] for i in np.argsort(-scores, kind="stable")]


def choose(cands: list[Candidate]) -> Candidate | None:
    """The best candidate (:func:`rank`), or None."""
    ranked = rank(cands)
    return ranked[0] if ranked else None
