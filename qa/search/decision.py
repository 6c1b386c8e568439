"""The found decision: a small learned classifier over the evidence the retriever already has.

Features (:func:`features`) describe the best passage that may answer (one grounded in the entity the
question names), the answer sentence chosen from it, and the question: similarities and their gaps, keyword
coverage, whether the asked attribute and an answer of the asked type are there, entity grounding, the
language. The model is a LightGBM booster trained by ``python -m bench.decision`` on labelled questions
generated from the public sets (near misses, entity swaps, off-topic questions, junk) and on seed-style
questions of our own; ``decision.json`` beside this file records the features, the threshold, what it was
trained on and its figures on sources it was not trained on.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .attributes import (
    INTERROGATIVE_ZH,
    KINDS,
    YEAR,
    Asked,
    all_terms,
    answer_near_terms,
    asked_roles,
    counts_restated,
    focus_share,
    has_kind,
    has_measure,
    is_question,
    names_role,
    term_share,
)

if TYPE_CHECKING:
    from .retriever import Hit, Retriever

MODEL_DIR = Path(__file__).with_name("models")
DECISION_FILE = MODEL_DIR / "decision.json"
# the reader is consulted only when the plain model's probability is in this band: outside it the two agree
# (bench.decision measures the cascade; the reader then reads ~15-30% of questions)
READ_BAND = (0.1, 0.8)

FEATURES = (
    "dense1", "dense_max3", "dense_gap", "dense_mean5", "dense_all1", "score1", "cov1", "cov_max3", "cov_sent",
    "ans_cos", "known_share", "cross_lingual", "qlen", "asked_kind", "kind_sent", "kind_pass", "measure_asked",
    "measure_sent", "measure_pass", "terms_n", "terms_sent", "terms_pass", "terms_max3", "entity_named",
    "grounded_top", "grounded_share5", "unknown", "candidates", "near_sent", "near_pass", "all_terms_sent",
    "all_terms_pass", "z1", "z_max3", "z_gap", "terms_corpus", "asks_nothing", "role_asked", "role_named",
    "words_rendered", "dense_other_gap", "cov_other_gap", "terms_other_gap", "focus_sent", "focus_pass",
)


@dataclass(frozen=True)
class Verdict:
    """The decision and why: ``probability`` that the answer is reliable, against ``threshold``."""

    found: bool
    probability: float
    threshold: float
    features: dict[str, float]


def features(
    retriever: Retriever, question: str, hits: list[Hit], sentence: str, sentence_cos: float, asked: Asked,
    unknown: int, entity_named: bool, answer_hit: Hit | None = None, rivals: Sequence[tuple[float, str]] = (),
) -> dict[str, float]:
    """The evidence for one question, as numbers (see :data:`FEATURES`); ``sentence`` is the chosen answer
    sentence (display text, "" for none), ``sentence_cos`` its similarity to the question and ``answer_hit``
    its passage (whose text the ``*_pass`` features read: the asked attribute in the answering sentence or its
    passage; the best grounded passage when not given); ``rivals`` the (cosine, text) of the best passages of
    other documents than those of the entity named (:meth:`Retriever.rivals`)."""
    pool = [h for h in hits if h.grounded is not False]
    top = pool[0] if pool else None
    dense = [h.dense for h in pool] or [0.0]
    people = retriever.people
    home = answer_hit if answer_hit is not None and sentence else top
    passage_text = home.passage.text if home else ""
    cross = retriever.cross_lingual(question)
    kind_code = KINDS.index(asked.kind) + 1 if asked.kind in KINDS else 0
    roles = asked_roles(asked, question)
    said = sum(1 for cands in asked.terms if any(retriever.corpus_has(c) for c in cands))  # terms the documents say
    cov_max3 = max((h.coverage for h in pool[:3]), default=0.0)
    terms_max3 = max((term_share(asked.terms, h.passage.text) for h in pool[:3]), default=0.0)
    return {
        "dense1": dense[0],
        "dense_max3": max(dense[:3]),
        "dense_gap": dense[0] - (dense[1] if len(dense) > 1 else 0.7),
        "dense_mean5": float(np.mean([h.dense for h in hits[:5]])) if hits else 0.0,
        "dense_all1": hits[0].dense if hits else 0.0,
        "score1": top.score if top else 0.0,
        "cov1": top.coverage if top else 0.0,
        "cov_max3": cov_max3,
        "cov_sent": retriever.coverage(question, sentence) if sentence else 0.0,
        "ans_cos": sentence_cos if sentence else 0.0,
        "known_share": retriever.known_share(question),
        "cross_lingual": float(cross),
        "qlen": math.log1p(len(question)),
        "asked_kind": float(kind_code),
        "kind_sent": float(has_kind(asked.kind, sentence, people)) if sentence else 0.0,
        "kind_pass": float(has_kind(asked.kind, passage_text, people)) if top else 0.0,
        "measure_asked": float(asked.measure is not None),
        "measure_sent": float(has_measure(asked.measure, sentence)) if sentence else 0.0,
        "measure_pass": float(has_measure(asked.measure, passage_text)) if top else 0.0,
        "terms_n": float(len(asked.terms)),
        "terms_sent": term_share(asked.terms, sentence) if sentence else 0.0,
        "terms_pass": term_share(asked.terms, passage_text) if top else 0.0,
        "terms_max3": terms_max3,
        "entity_named": float(entity_named),
        "grounded_top": -1.0 if not hits or hits[0].grounded is None else float(hits[0].grounded),
        "grounded_share5": (
            -1.0 if not hits or hits[0].grounded is None else sum(bool(h.grounded) for h in hits[:5]) / len(hits[:5])
        ),
        "unknown": float(unknown),
        "candidates": float(len(pool)),
        "near_sent": answer_near_terms(asked, sentence) if sentence else 0.0,
        "near_pass": answer_near_terms(asked, passage_text) if top else 0.0,
        "all_terms_sent": all_terms(asked.terms, sentence) if sentence else 0.0,
        "all_terms_pass": all_terms(asked.terms, passage_text) if top else 0.0,
        "z1": top.z if top else 0.0,
        "z_max3": max((h.z for h in pool[:3]), default=0.0),
        "z_gap": (pool[0].z - pool[1].z) if len(pool) > 1 else 0.0,
        "terms_corpus": said / len(asked.terms) if asked.terms else 1.0,
        "asks_nothing": float(asks_nothing(question, asked, entity_named, retriever.corpus_has, cross)),
        "year_other": float(names_another_year(question, sentence, passage_text)),
        "count_restated": float(counts_restated(asked.measure, question, sentence)),
        "role_asked": float(bool(roles)),
        "role_named": float(bool(roles) and bool(top) and any(names_role(r, passage_text) for r in roles)),
        # the question's content words the documents say in some rendering: an English word the dictionary cannot
        # render (div, CSS) counts as unsaid, where terms_corpus leaves it out
        "words_rendered": said / max(asked.words, len(asked.terms)) if asked.terms or asked.words else 1.0,
        # the best passages of other documents than the named entity's (``rivals``): when one of them says the
        # asked thing better than any of the entity's own, the question likely asks another hospital's fact of
        # this one (an entity swap)
        "dense_other_gap": max(d for d, _ in rivals) - max(dense) if rivals and pool else -1.0,
        "cov_other_gap": (max(retriever.coverage(question, t) for _, t in rivals) - cov_max3
                          if rivals and pool else -1.0),
        "terms_other_gap": (max(term_share(asked.terms, t) for _, t in rivals) - terms_max3
                            if rivals and pool and asked.terms else -1.0),
        # the words the interrogative governs (哪个县: 县; 什么时候开诊: 开诊) in the answer sentence and its passage: a
        # sentence about the right thing with none of them states something else about it
        "focus_sent": focus_share(asked, sentence) if sentence else -1.0,
        "focus_pass": focus_share(asked, passage_text) if top else -1.0,
    }


_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def asks_nothing(question: str, asked: Asked, entity_named: bool, corpus_has, cross_lingual: bool = False) -> bool:
    """True for a question that names no entity of the documents and either is no question at all
    ("information", "Good morning": no interrogative, no question mark, no request such as 说出 / name), or asks
    about no attribute ("x", "?", "How are you?", "医院") or only attributes the documents never mention ("Who
    wrote Hamlet?"): it asks about nothing the documents state, and is never answered. (Cost, measured by
    bench.decision: 1.5% of XQuAD's answerable English questions, whose dictionary renderings all miss, and at
    most 0.3% elsewhere, measured before the no-question form, which costs 3 of XQuAD's 1,908: cloze-style ones.)"""
    if entity_named:
        # a name and nothing asked of it (荆州二医的那个, 请问邵阳市中心医院的, 十堰市中西医结合医院有没): no attribute
        # word, no word in Latin letters (有ECMO吗 asks of its own; in an English question, no word besides the
        # names: "Shaoyang Central Hospital"), no interrogative (请问 requests nothing yet)
        latin = asked.words > 0 if cross_lingual else bool(_LATIN_WORD.search(question))
        return (not asked.terms and asked.kind is None and not latin
                and not re.search(r"[?？]", question) and not INTERROGATIVE_ZH.search(question))
    if not is_question(question):
        return True
    return not asked.terms or not any(any(corpus_has(c) for c in cands) for cands in asked.terms)


def names_another_year(question: str, sentence: str, passage: str = "") -> bool:
    """True when ``question`` names a year (荆州一医2020年…, in 2019) and ``sentence`` names years, none of them
    it, nor does its ``passage``: the answer states another year's figure (2021年…增长33.37% for 2020年…增长了
    多少). A sentence naming no year (去年, 今年) is not judged here."""
    asked = set(YEAR.findall(question))
    said = set(YEAR.findall(sentence)) if asked and sentence else set()
    return bool(said) and not (asked & said) and not (asked & set(YEAR.findall(passage)))


def refused_outright(values: dict[str, float]) -> bool:
    """The rules no probability overrides: the question names something the documents never mention, asks
    about nothing they state, counts with a measure word its passage never counts with (多少张床位 against a
    passage with no 张), asks who holds a role its passage names nobody in (主任是谁), names a year its
    answer sentence, naming others, does not, or asks a part of a figure it restates that the answer sentence
    only restates (那96项表彰里国家级的有几项 against 表彰共96项)."""
    return bool(
        values.get("unknown") or values.get("asks_nothing") or values.get("year_other") or values.get("count_restated")
        or (values.get("measure_asked") and not values.get("measure_pass"))
        or (values.get("role_asked") and not values.get("role_named"))
    )


class Decision:
    """The trained classifier and its threshold, loaded once."""

    def __init__(self, path: Path = DECISION_FILE) -> None:
        meta = json.loads(path.read_text(encoding="utf-8"))
        self.meta = meta
        self.features: tuple[str, ...] = tuple(meta["features"])
        self.threshold = float(meta["threshold"])
        band = meta.get("read_band")  # only the model trained with the reader's features has one
        self.read_band: tuple[float, float] | None = (float(band[0]), float(band[1])) if band else None
        import lightgbm

        self.booster = lightgbm.Booster(model_file=str(path.with_name(meta["model_file"])))

    def probability(self, values: dict[str, float]) -> float:
        row = np.array([[values.get(name, 0.0) for name in self.features]], dtype=np.float64)
        return float(self.booster.predict(row, num_threads=1)[0])

    def reads(self, plain_probability: float) -> bool:
        """Whether the reader is worth its model pass for a question the plain model gave this probability."""
        return self.read_band is not None and self.read_band[0] <= plain_probability <= self.read_band[1]

    def decide(self, values: dict[str, float]) -> Verdict:
        p = self.probability(values)
        return Verdict(p >= self.threshold and not refused_outright(values), round(p, 4), self.threshold, values)


PLAIN_DECISION_FILE = MODEL_DIR / "decision-plain.json"


@lru_cache(maxsize=2)
def load_decision(reader: bool = True) -> Decision:
    """A shipped classifier (its json and booster are in the repository): ``models/decision.json``, trained
    with the reader's features, or (``reader=False``) ``models/decision-plain.json``, trained without."""
    return Decision(DECISION_FILE if reader else PLAIN_DECISION_FILE)
