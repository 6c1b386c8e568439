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
from .attributes import Asked, asked, asked_roles, names_role
from .conversation import Turn, Understood, resolve
from .decision import Verdict, features, load_decision, refused_outright
from .reader import READ_UNITS, read
from .retriever import Hit, Retriever
from .sentences import Candidate, candidates, choose, rank


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


def _answer(retriever: Retriever, hits: list[Hit], best: Candidate) -> Answer:
    raw = retriever.index.documents[best.hit.passage.doc_id].text[best.start:best.end]
    return Answer(text=raw, display=normalize_whitespace(raw), passage=hits.index(best.hit) + 1,
                  doc_id=best.hit.passage.doc_id, char_start=best.start, char_end=best.end,
                  cosine=round(best.cosine, 4))


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
    return _answer(retriever, hits, best) if best is not None else None


def _role_holders_first(retriever: Retriever, question: str, what: Asked, ranked: list[Candidate],
                        hits: list[Hit], qvec: np.ndarray) -> list[Candidate]:
    """For a question about who holds a role (院长叫什么？), the candidates that name someone in it first, in the
    ranker's order (院长刘天云 before 院长负责制: the ranker, trained mostly on encyclopaedia text, weighs a name
    beside a role little). When no sentence of the first passages names one, the sentences of every passage the
    decision reads are looked at (Who is the president of …? finds 院长刘天云 in the fifth passage)."""
    roles = asked_roles(what, question)
    if not roles:
        return ranked
    docs = retriever.index.documents

    def names(c: Candidate) -> bool:
        return any(names_role(r, docs[c.hit.passage.doc_id].text[c.start:c.end]) for r in roles)

    if not any(names(c) for c in ranked):
        wider = rank(candidates(retriever, question, hits, qvec, what, passages=DECISION_DEPTH))
        if any(names(c) for c in wider):
            ranked = wider
    return sorted(ranked, key=lambda c: not names(c))


def _evidence(
    retriever: Retriever, question: str, hits: list[Hit], qvec: np.ndarray
) -> tuple[Answer | None, dict[str, float], list[tuple[str, str]]]:
    """The answer sentence, the plain decision's features and the (title, text) of the sentences the reader
    would read (the ranker's best few)."""
    what = question_asks(retriever, question)
    ranked = _role_holders_first(retriever, question, what, rank(candidates(retriever, question, hits, qvec, what)),
                                 hits, qvec)
    answer = _answer(retriever, hits, ranked[0]) if ranked else None
    unknown = len(retriever.unknown_terms(question))
    sentence, cosine = (answer.display, answer.cosine) if answer else ("", 0.0)
    values = features(retriever, question, hits, sentence, cosine, what, unknown,
                      bool(retriever.mentions(question).entities), ranked[0].hit if ranked else None,
                      retriever.rivals(hits, qvec))
    docs = retriever.index.documents
    units = [(docs[c.hit.passage.doc_id].title, docs[c.hit.passage.doc_id].text[c.start:c.end])
             for c in ranked[:READ_UNITS]]
    return answer, values, units


def evidence(
    retriever: Retriever, question: str, hits: list[Hit], qvec: np.ndarray
) -> tuple[Answer | None, dict[str, float]]:
    """The candidate answer sentence and every feature the found decision may read (:mod:`qa.search.decision`),
    the reader's too when there is one (:mod:`qa.search.reader`), whatever the plain probability."""
    answer, values, units = _evidence(retriever, question, hits, qvec)
    if retriever.reader is not None:  # a question refused by rule is not read: nothing read would answer it
        units = [] if refused_outright(values) else units
        values.update(read(retriever.reader, question, units, retriever.embedder_threads()))
    return answer, values


def decide(retriever: Retriever, question: str, hits: list[Hit], qvec: np.ndarray) -> tuple[Answer | None, Verdict]:
    """Choose the answer sentence and decide whether it is reliable; mark each hit ``confident``.

    The trained classifier's probability (:mod:`qa.search.decision`) decides, held against its threshold; a
    question naming something the documents never mention, or asking about nothing they state, or whose
    grounded passages are none, is never found. When the plain model is unsure (its probability in the read
    band) and the reader ships, the reader reads the best sentences and the model trained with its features
    decides instead.
    """
    answer, values, units = _evidence(retriever, question, hits, qvec)
    verdict = load_decision(False).decide(values)
    reader = retriever.reader
    if reader is not None:
        with_reader = load_decision(True)
        if with_reader.reads(verdict.probability) and not refused_outright(values):
            values.update(read(reader, question, units, retriever.embedder_threads()))
            verdict = with_reader.decide(values)
    found = verdict.found and answer is not None
    for hit in hits:
        hit.confident = found and hit.grounded is not False
    return (answer if found else None), replace(verdict, found=found)


# The decision is trained on the evidence of the first 10 passages (bench.decision), so it reads as many
# whatever number of passages is shown: its features (the grounded candidates, the mean of the first five, the
# answer sentence's passages) must not change with top_k.
DECISION_DEPTH = 10


def _shown(hits: list[Hit], k: int, answer: Answer | None) -> tuple[list[Hit], Answer | None]:
    """The first ``k`` passages, and the answer's own passage after them when it ranks lower (an answer is
    always cited with its passage); the answer's ``passage`` number re-counted in that list."""
    if answer is None or answer.passage <= k:
        return hits[:k], answer
    return [*hits[:k], hits[answer.passage - 1]], replace(answer, passage=k + 1)


def ask(
    retriever: Retriever, question: str, k: int = 5, *, doc_ids: Collection[str] | None = None,
    context: Sequence[str] = (),
) -> Result:
    """Retrieve (only from ``doc_ids`` when given), pick the answer sentence, and decide whether it is
    reliable; the ``k`` best passages are returned (and the answer's, if it ranks lower). ``context`` are
    entity ids a follow-up refers to without naming them."""
    started = time.perf_counter()
    qvec = retriever.embed(question)
    timings = {"encode": round((time.perf_counter() - started) * 1000, 2)}
    hits = retriever.search(question, max(k, DECISION_DEPTH), qvec=qvec, timings=timings, doc_ids=doc_ids,
                            context=context)
    clock = time.perf_counter()
    answer, verdict = decide(retriever, question, hits, qvec)
    hits, answer = _shown(hits, k, answer)
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
    (:meth:`Retriever.warm_up`), the model's first run, the answer-sentence ranker, the found decision and the
    reader's first run."""
    retriever.warm_up()
    for question in WARM_UP_QUESTIONS:
        qvec = retriever.embed(question)
        hits = retriever.search(question, 5, qvec=qvec)
        decide(retriever, question, hits, qvec)
        if retriever.reader is not None:
            evidence(retriever, question, hits, qvec)  # reads, whatever the plain model's probability
