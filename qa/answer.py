"""From retrieved passages to an answer: the one sentence that best answers the question, cited exactly.

Nothing is generated: the answer is a sentence of a source document, and ``char_start``/``char_end``
slice exactly that sentence out of the document's text.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .documents import normalize_whitespace, sentence_spans
from .retriever import Hit, Retriever

ANSWER_PASSAGES = 3
CROSS_LINGUAL_COVERAGE = 0.15
RANK_BONUS = (0.08, 0.04, 0.0)


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


def _candidates(retriever: Retriever, hits: list[Hit]) -> list[tuple[int, int, int]]:
    """(rank, start, end) of every sentence of the first passages."""
    out = []
    for rank, hit in enumerate(hits[:ANSWER_PASSAGES]):
        p = hit.passage
        doc = retriever.index.documents[p.doc_id]
        for start, end in sentence_spans(doc.text, p.char_start, p.char_end):
            out.append((rank, start, end))
    return out


def best_sentence(retriever: Retriever, question: str, hits: list[Hit]) -> Answer | None:
    """Pick the sentence of the top passages that best answers ``question``.

    Chinese questions share words with their answer, so sentences are ranked by idf-weighted keyword
    coverage (plus a small bonus for the passage's rank). When the question shares almost nothing with
    the passages (an English question over Chinese text), the candidate sentences are embedded and ranked
    by cosine similarity instead.
    """
    candidates = _candidates(retriever, hits)
    if not candidates:
        return None
    texts = [retriever.index.documents[hits[r].passage.doc_id].text[s:e] for r, s, e in candidates]
    lexical = np.array([retriever.coverage(question, t) for t in texts]) + [RANK_BONUS[r] for r, _, _ in candidates]
    if max(retriever.coverage(question, h.passage.text) for h in hits[:ANSWER_PASSAGES]) < CROSS_LINGUAL_COVERAGE:
        qvec = retriever.embedder.embed_queries([question])[0]
        svecs = retriever.embedder.embed_passages([normalize_whitespace(t) for t in texts])
        scores = svecs @ qvec + [RANK_BONUS[r] / 4 for r, _, _ in candidates]
    else:
        scores = lexical
    best = int(np.argmax(scores))
    rank, start, end = candidates[best]
    hit = hits[rank]
    return Answer(
        text=texts[best], display=normalize_whitespace(texts[best]), passage=rank + 1,
        doc_id=hit.passage.doc_id, char_start=start, char_end=end,
    )


def ask(retriever: Retriever, question: str, k: int = 5) -> Result:
    """Retrieve, decide whether the evidence is reliable, and pick the answer sentence."""
    started = time.perf_counter()
    hits = retriever.search(question, k)
    found = bool(hits) and hits[0].confident
    answer = best_sentence(retriever, question, hits) if found else None
    return Result(question, found, answer, hits, round((time.perf_counter() - started) * 1000, 1))
