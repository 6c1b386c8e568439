"""From retrieved passages to an answer: the sentence that best answers the question, cited exactly.

Nothing is generated: the answer is a sentence (or two short ones: one retrieval unit) of a source
document, and ``char_start``/``char_end`` slice exactly that text out of the document.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ..glossary import chinese_keywords
from ..ingest.documents import normalize_whitespace
from .attributes import Asked, asked, has_kind, has_measure, term_share
from .conversation import Turn, Understood, resolve
from .decision import Verdict, features, load_decision
from .retriever import Hit, Retriever

# Weights of the answer-sentence score (see best_sentence); measured with ``python -m bench.decision --sentences``.
ANSWER_PASSAGES = 3
COVERAGE_WEIGHT = 0.3
RANK_PENALTY = 0.03
HEADING_PENALTY = 0.05
KIND_BONUS = 0.03
MEASURE_BONUS = 0.02
TERMS_WEIGHT = 0.03


@dataclass
class Answer:
    """The answer sentence: ``text`` is the exact source slice, ``display`` the same with wraps rejoined."""

    text: str
    display: str
    passage: int
    doc_id: str
    char_start: int
    char_end: int
    cosine: float = 0.0  # the sentence's similarity to the question


@dataclass
class Result:
    question: str
    found: bool
    answer: Answer | None
    hits: list[Hit]
    took_ms: float
    # names, or what it counts, that the question mentions and the documents never do
    unknown_terms: tuple[str, ...] = ()
    # milliseconds per stage: encode, dense, keyword, fuse, answer
    timings_ms: dict[str, float] = field(default_factory=dict)
    # how sure the found decision is (0..1)
    confidence: float | None = None
    # how a follow-up was understood (qa.search.conversation); None when asked alone
    understood: Understood | None = None


def question_asks(retriever: Retriever, question: str) -> Asked:
    """What ``question`` asks for, its entity names left out of the attribute terms."""
    names = tuple(surface for surface, _ in retriever.mentions(question).spans)
    return asked(question, names, retriever.cross_lingual(question))


def best_sentence(
    retriever: Retriever, question: str, hits: list[Hit], qvec: np.ndarray, what: Asked | None = None
) -> Answer | None:
    """Pick the sentence unit of the first passages that best answers ``question``.

    Each unit scores its cosine similarity to the question (the vectors are already in the index, so
    this costs no model call), plus ``COVERAGE_WEIGHT`` times the share of the question's keywords it
    contains (for an English question, the dictionary's Chinese keywords), plus small bonuses when it holds
    an answer of the asked type (a number, with the asked measure word; a date; a person …) and the asked
    attribute, minus penalties for lower-ranked passages and for headings. Passages about another entity
    than the one the question names are not candidates.
    """
    what = what or question_asks(retriever, question)
    keywords = question
    if retriever.cross_lingual(question):
        keywords = " ".join(chinese_keywords(question))
    pool = [h for h in hits if h.grounded is not False][:ANSWER_PASSAGES]
    best: tuple[float, Hit, int, int, float] | None = None
    for rank, hit in enumerate(pool):
        text = retriever.index.documents[hit.passage.doc_id].text
        ids, cosines = retriever.unit_scores(qvec, hit.row)
        penalty = RANK_PENALTY * rank + (HEADING_PENALTY if hit.passage.kind == "heading" else 0.0)
        for uid, cos in zip(ids, cosines, strict=True):
            start, end = int(retriever.index.units.start[uid]), int(retriever.index.units.end[uid])
            unit = text[start:end]
            score = (float(cos) + COVERAGE_WEIGHT * retriever.coverage(keywords, unit) - penalty
                     + (KIND_BONUS if what.kind and has_kind(what.kind, unit, retriever.people) else 0.0)
                     + (MEASURE_BONUS if what.measure and has_measure(what.measure, unit) else 0.0)
                     + TERMS_WEIGHT * (term_share(what.terms, unit) if what.terms else 0.0))
            if best is None or score > best[0]:
                best = (score, hit, start, end, float(cos))
    if best is None:
        return None
    _, hit, start, end, cos = best
    raw = retriever.index.documents[hit.passage.doc_id].text[start:end]
    return Answer(text=raw, display=normalize_whitespace(raw), passage=hits.index(hit) + 1,
                  doc_id=hit.passage.doc_id, char_start=start, char_end=end, cosine=round(cos, 4))


def evidence(
    retriever: Retriever, question: str, hits: list[Hit], qvec: np.ndarray
) -> tuple[Answer | None, dict[str, float]]:
    """The candidate answer sentence and the features the found decision reads (:mod:`qa.search.decision`)."""
    what = question_asks(retriever, question)
    answer = best_sentence(retriever, question, hits, qvec, what)
    unknown = len(retriever.unknown_terms(question))
    return answer, features(retriever, question, hits, answer, what, unknown,
                            bool(retriever.mentions(question).entities))


def decide(retriever: Retriever, question: str, hits: list[Hit], qvec: np.ndarray) -> tuple[Answer | None, Verdict]:
    """Choose the answer sentence and decide whether it is reliable; mark each hit ``confident``.

    With the trained classifier (:mod:`qa.search.decision`) its probability decides; without one, the
    calibrated thresholds. A question naming something the documents never mention, or whose grounded
    passages are none, is never found.
    """
    answer, values = evidence(retriever, question, hits, qvec)
    model = load_decision()
    if model is not None:
        verdict = model.decide(values)
    else:
        ok = retriever.is_confident(question, hits)
        verdict = Verdict(ok, float(ok), 0.5, values)
    found = verdict.found and answer is not None
    for hit in hits:
        hit.confident = found and hit.grounded is not False
    return (answer if found else None), replace(verdict, found=found)


def ask(
    retriever: Retriever, question: str, k: int = 5, *, doc_ids: Collection[str] | None = None,
    context: Sequence[str] = (),
) -> Result:
    """Retrieve (only from ``doc_ids`` when given), pick the answer sentence, and decide whether it is
    reliable. ``context`` are entity ids a follow-up refers to without naming them."""
    started = time.perf_counter()
    qvec = retriever.embed(question)
    timings = {"encode": round((time.perf_counter() - started) * 1000, 2)}
    hits = retriever.search(question, k, qvec=qvec, timings=timings, doc_ids=doc_ids, context=context)
    clock = time.perf_counter()
    answer, verdict = decide(retriever, question, hits, qvec)
    timings["answer"] = round((time.perf_counter() - clock) * 1000, 2)
    return Result(question, verdict.found, answer, hits, round((time.perf_counter() - started) * 1000, 1),
                  tuple(retriever.unknown_terms(question)), timings, verdict.probability)


def ask_turn(
    retriever: Retriever, question: str, history: Sequence[Turn] = (), k: int = 5, *,
    doc_ids: Collection[str] | None = None, understood: Understood | None = None,
) -> Result:
    """Answer one turn of a conversation: resolve the follow-up against ``history`` (or take ``understood``,
    already resolved), ask its standalone form, and report both."""
    started = time.perf_counter()
    understood = understood or resolve(retriever, question, history)
    resolve_ms = round((time.perf_counter() - started) * 1000, 2)
    result = ask(retriever, understood.question, k, doc_ids=doc_ids, context=understood.entities)
    timings = {"resolve": resolve_ms, **result.timings_ms} if history else result.timings_ms
    return replace(result, question=question, understood=understood, timings_ms=timings,
                   took_ms=round(result.took_ms + resolve_ms, 1))
