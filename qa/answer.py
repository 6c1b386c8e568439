"""From retrieved passages to an answer: the sentence that best answers the question, cited exactly.

Nothing is generated: the answer is a sentence (or two short ones: one retrieval unit) of a source
document, and ``char_start``/``char_end`` slice exactly that text out of the document.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .documents import normalize_whitespace
from .retriever import Hit, Retriever

ANSWER_PASSAGES = 3
COVERAGE_WEIGHT = 0.3
RANK_PENALTY = 0.01


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


def best_sentence(retriever: Retriever, question: str, hits: list[Hit], qvec: np.ndarray) -> Answer | None:
    """Pick the sentence unit of the first passages that best answers ``question``.

    Each unit scores its cosine similarity to the question (the vectors are already in the index, so
    this costs no model call) plus ``COVERAGE_WEIGHT`` times the share of the question's keywords it
    contains, minus a small penalty per passage rank.
    """
    best: tuple[float, int, int, int] | None = None
    for rank, hit in enumerate(hits[:ANSWER_PASSAGES]):
        text = retriever.index.documents[hit.passage.doc_id].text
        ids, cosines = retriever.unit_scores(qvec, hit.row)
        for uid, cos in zip(ids, cosines, strict=True):
            start, end = int(retriever.index.units.start[uid]), int(retriever.index.units.end[uid])
            score = float(cos) + COVERAGE_WEIGHT * retriever.coverage(question, text[start:end]) - RANK_PENALTY * rank
            if best is None or score > best[0]:
                best = (score, rank, start, end)
    if best is None:
        return None
    _, rank, start, end = best
    hit = hits[rank]
    raw = retriever.index.documents[hit.passage.doc_id].text[start:end]
    return Answer(text=raw, display=normalize_whitespace(raw), passage=rank + 1, doc_id=hit.passage.doc_id,
                  char_start=start, char_end=end)


def ask(retriever: Retriever, question: str, k: int = 5) -> Result:
    """Retrieve, decide whether the evidence is reliable, and pick the answer sentence."""
    started = time.perf_counter()
    qvec = retriever.embed(question)
    hits = retriever.search(question, k, qvec=qvec)
    found = bool(hits) and hits[0].confident
    answer = best_sentence(retriever, question, hits, qvec) if found else None
    return Result(question, found, answer, hits, round((time.perf_counter() - started) * 1000, 1))
