"""From retrieved passages to an answer: the sentence that best answers the question, cited exactly.

Nothing is generated: the answer is a sentence (or two short ones: one retrieval unit) of a source
document, and ``char_start``/``char_end`` slice exactly that text out of the document.
"""

from __future__ import annotations

import re
import time
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np

from ..ingest.documents import normalize_whitespace
from .glossary import chinese_keywords
from .retriever import Hit, Retriever

# Weights measured on seed_qa and 300 XQuAD questions (share of answer sentences containing the answer:
# seeds 0.67 -> 0.71, XQuAD zh 0.78 -> 0.78, XQuAD en 0.66 -> 0.72 against cosine + coverage alone).
ANSWER_PASSAGES = 3
COVERAGE_WEIGHT = 0.3
RANK_PENALTY = 0.03
HEADING_PENALTY = 0.05
TYPE_BONUS = 0.02
_ASKS_NUMBER = re.compile(r"多少|几|数量|比例|how (?:many|much|long|old)|what (?:percentage|number)|\brate\b", re.I)
_ASKS_DATE = re.compile(r"哪一?[天年月]|什么时候|何时|几点|\bwhen\b|what (?:year|date|time)", re.I)
_NUMBER = re.compile(r"[0-9０-９]|[一二三四五六七八九十百千万亿两]+[个名人次项家台例]")
_DATE = re.compile(r"[0-9０-９]+\s*[年月日时]")


@dataclass
class Answer:
    """The answer sentence: ``text`` is the exact source slice, ``display`` the same with wraps rejoined."""

    text: str
    display: str
    passage: int
    doc_id: str
    char_start: int
    char_end: int


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


def _type_bonus(question: str, text: str) -> float:
    """A small bonus when the question asks for a number or a date and the sentence has one."""
    if _ASKS_DATE.search(question) and _DATE.search(text):
        return TYPE_BONUS
    if _ASKS_NUMBER.search(question) and _NUMBER.search(text):
        return TYPE_BONUS
    return 0.0


def best_sentence(retriever: Retriever, question: str, hits: list[Hit], qvec: np.ndarray) -> Answer | None:
    """Pick the sentence unit of the first passages that best answers ``question``.

    Each unit scores its cosine similarity to the question (the vectors are already in the index, so
    this costs no model call), plus ``COVERAGE_WEIGHT`` times the share of the question's keywords it
    contains (for an English question, the dictionary's Chinese keywords), plus a small bonus when the
    question asks for a number or date and the unit has one, minus penalties for lower-ranked passages
    and for headings.
    """
    keywords = question
    if retriever.cross_lingual(question):
        keywords = " ".join(chinese_keywords(question))
    best: tuple[float, int, int, int] | None = None
    for rank, hit in enumerate(hits[:ANSWER_PASSAGES]):
        text = retriever.index.documents[hit.passage.doc_id].text
        ids, cosines = retriever.unit_scores(qvec, hit.row)
        penalty = RANK_PENALTY * rank + (HEADING_PENALTY if hit.passage.kind == "heading" else 0.0)
        for uid, cos in zip(ids, cosines, strict=True):
            start, end = int(retriever.index.units.start[uid]), int(retriever.index.units.end[uid])
            unit = text[start:end]
            score = (float(cos) + COVERAGE_WEIGHT * retriever.coverage(keywords, unit)
                     + _type_bonus(question, unit) - penalty)
            if best is None or score > best[0]:
                best = (score, rank, start, end)
    if best is None:
        return None
    _, rank, start, end = best
    hit = hits[rank]
    raw = retriever.index.documents[hit.passage.doc_id].text[start:end]
    return Answer(text=raw, display=normalize_whitespace(raw), passage=rank + 1, doc_id=hit.passage.doc_id,
                  char_start=start, char_end=end)


def ask(retriever: Retriever, question: str, k: int = 5, *, doc_ids: Collection[str] | None = None) -> Result:
    """Retrieve (only from ``doc_ids`` when given), decide whether the evidence is reliable, and pick the
    answer sentence."""
    started = time.perf_counter()
    qvec = retriever.embed(question)
    timings = {"encode": round((time.perf_counter() - started) * 1000, 2)}
    hits = retriever.search(question, k, qvec=qvec, timings=timings, doc_ids=doc_ids)
    found = bool(hits) and hits[0].confident
    clock = time.perf_counter()
    answer = best_sentence(retriever, question, hits, qvec) if found else None
    timings["answer"] = round((time.perf_counter() - clock) * 1000, 2)
    return Result(question, found, answer, hits, round((time.perf_counter() - started) * 1000, 1),
                  tuple(retriever.unknown_terms(question)), timings)
