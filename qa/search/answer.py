"""From retrieved passages to an answer: the sentence that best answers the question, cited exactly.

Nothing is generated: the answer is a sentence (or two short ones: one retrieval unit) of a source
document, and ``char_start``/``char_end`` slice exactly that text out of the document.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ..ingest.documents import normalize_whitespace
from .attributes import Asked, asked
from .conversation import Turn, Understood, resolve
from .decision import Verdict, features, load_decision
from .retriever import Hit, Retriever
from .sentences import candidates, choose


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
    """The sentence unit of the first passages that best answers ``question`` (:mod:`qa.search.sentences`):
    its similarity to the question (the vectors are already in the index, so this costs no model call), the
    question's keywords it contains, whether it holds an answer of the asked type (a number with the asked
    measure word, a date, a person …) and the asked attribute, the rank of its passage. Passages about another
    entity than the one the question names are not candidates."""
    what = what or question_asks(retriever, question)
    best = choose(candidates(retriever, question, hits, qvec, what))
    if best is None:
        return None
    raw = retriever.index.documents[best.hit.passage.doc_id].text[best.start:best.end]
    return Answer(text=raw, display=normalize_whitespace(raw), passage=hits.index(best.hit) + 1,
                  doc_id=best.hit.passage.doc_id, char_start=best.start, char_end=best.end,
                  cosine=round(best.cosine, 4))


def evidence(
    retriever: Retriever, question: str, hits: list[Hit], qvec: np.ndarray
) -> tuple[Answer | None, dict[str, float]]:
    """The candidate answer sentence and the features the found decision reads (:mod:`qa.search.decision`)."""
    what = question_asks(retriever, question)
    answer = best_sentence(retriever, question, hits, qvec, what)
    unknown = len(retriever.unknown_terms(question))
    sentence, cosine = (answer.display, answer.cosine) if answer else ("", 0.0)
    return answer, features(retriever, question, hits, sentence, cosine, what, unknown,
                            bool(retriever.mentions(question).entities))


def decide(retriever: Retriever, question: str, hits: list[Hit], qvec: np.ndarray) -> tuple[Answer | None, Verdict]:
    """Choose the answer sentence and decide whether it is reliable; mark each hit ``confident``.

    The trained classifier's probability (:mod:`qa.search.decision`) decides, held against its threshold; a
    question naming something the documents never mention, or asking about nothing they state, or whose
    grounded passages are none, is never found.
    """
    answer, values = evidence(retriever, question, hits, qvec)
    verdict = load_decision().decide(values)
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


WARM_UP_QUESTIONS = ("荆州二医在封城期间接诊了多少发热患者？", "医院的院长是谁？", "Who heads the hospital?")


def warm_up(retriever: Retriever) -> None:
    """Everything the first question would otherwise wait for (~1.4 s): the retriever's dictionaries
    (:meth:`Retriever.warm_up`), the model's first run, the answer-sentence ranker and the found decision."""
    retriever.warm_up()
    for question in WARM_UP_QUESTIONS:
        qvec = retriever.embed(question)
        decide(retriever, question, retriever.search(question, 5, qvec=qvec), qvec)
