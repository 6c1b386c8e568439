"""`qa eval`: retrieval quality on benchmark files, with the hit rule of ``shared/eval/evaluate.py``.

Two query formats are read:

* benchmark queries ``{"id", "text", "lang", "answers", "gold"}`` over a corpus ``{"id", "title", "text"}``:
  a passage is a hit when (a) it contains an answer and (b) it shares a substring of
  ``min(20, len(passage), len(gold))`` characters with a gold paragraph (both NFKC, lower-cased, all
  whitespace removed);
* ``seed_qa.jsonl`` items ``{"id", "question", "lang", "answerable", "evidence", ...}``: a passage is a hit
  when, whitespace removed, it contains one of the evidence strings; unanswerable items should be refused.
"""

from __future__ import annotations

import json
import re
import statistics
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..search.answer import decide
from ..search.retriever import Retriever

_WS = re.compile(r"[\s\u200b\u200c\u200d\u2060\ufeff\u00ad]+")
MIN_OVERLAP = 20
KS = (1, 5, 10)


def norm(text: str) -> str:
    """evaluate.py's normalisation: NFKC, lower case, every whitespace (and zero-width) character removed."""
    return _WS.sub("", unicodedata.normalize("NFKC", text or "").lower())


@dataclass
class Query:
    id: str
    text: str
    lang: str
    answers: list[str] = field(default_factory=list)
    gold: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    answerable: bool = True
    check_answer: bool = True
    doc: str | None = None  # the document a seed_qa item is about (file stem), when it says
    kind: str = ""  # for an unanswerable query, why: unanswerable, near-miss, swap, junk, off-topic
    wrong_doc: str | None = None  # a swap: the document whose passage would be another entity's fact


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_queries(path: Path) -> list[Query]:
    """Read benchmark queries or ``seed_qa.jsonl`` items (told apart by their fields)."""
    out = []
    for row in read_jsonl(path):
        if "question" in row:
            out.append(Query(id=row["id"], text=row["question"], lang=row.get("lang", "?"),
                             answers=[row["answer"]] if row.get("answer") else [],
                             evidence=list(row.get("evidence") or []),
                             answerable=bool(row.get("answerable", True)),
                             doc=Path(row["doc"]).stem if row.get("doc") else None))
        else:
            out.append(Query(id=row["id"], text=row["text"], lang=row.get("lang", "?"),
                             answers=list(row.get("answers") or []), gold=list(row.get("gold") or []),
                             answerable=bool(row.get("answerable", True)),
                             check_answer=row.get("answer_in_gold", True) is not False))
    return out


class HitRule:
    """Decides whether a passage answers a query (the rule at the top of evaluate.py)."""

    def __init__(self, corpus: dict[str, str], min_overlap: int = MIN_OVERLAP) -> None:
        self.gold = {cid: norm(text) for cid, text in corpus.items()}
        self.min_overlap = min_overlap
        self._grams: dict[str, set[str]] = {}

    def _overlaps(self, p: str, cid: str) -> bool:
        g = self.gold.get(cid, "")
        size = min(self.min_overlap, len(p), len(g))
        if size == 0:
            return False
        if size == len(p):
            return p in g
        if size == len(g):
            return g in p
        grams = self._grams.get(cid)
        if grams is None:
            grams = self._grams[cid] = {g[i : i + size] for i in range(len(g) - size + 1)}
        return any(p[i : i + size] in grams for i in range(len(p) - size + 1))

    def hit(self, query: Query, passage: str) -> bool:
        if query.evidence:
            squeezed = _WS.sub("", passage)
            return any(_WS.sub("", e) in squeezed for e in query.evidence)
        p = norm(passage)
        answers = [a for a in (norm(a) for a in query.answers) if a]
        if answers and query.check_answer and not any(a in p for a in answers):
            return False
        return any(self._overlaps(p, g) for g in query.gold)


@dataclass
class Row:
    query: Query
    rank: int | None
    found: bool
    latency_s: float
    answer_hit: bool | None = None
    top: list[str] = field(default_factory=list)
    answer_doc: str | None = None


def run(
    retriever: Retriever, queries: Sequence[Query], rule: HitRule, *, legs: str = "hybrid", k: int = 10,
    answers: bool = False, progress=None, qvecs: np.ndarray | None = None,
) -> list[Row]:
    """Ask every query in-process; record the first hit's rank, the found decision and the latency."""
    return run_legs(retriever, queries, rule, legs=(legs,), k=k, answers=answers, progress=progress,
                    qvecs=qvecs)[legs]


def run_legs(
    retriever: Retriever, queries: Sequence[Query], rule: HitRule, *, legs: Sequence[str] = ("hybrid",),
    k: int = 10, answers: bool = False, progress=None, qvecs: np.ndarray | None = None,
) -> dict[str, list[Row]]:
    """Like :func:`run` for several leg settings at once, encoding each question only once.

    The latency of a row is the whole question (encoding included) for the first leg; later legs reuse
    the vector, so their latency is the retrieval alone. ``qvecs`` (one row per query) are vectors the
    caller already has; the latency then leaves the encoding out.
    """
    rows: dict[str, list[Row]] = {leg: [] for leg in legs}
    for i, q in enumerate(queries):
        started = time.perf_counter()
        qvec = retriever.embed(q.text) if qvecs is None else qvecs[i]
        for leg in legs:
            hits = retriever.search(q.text, k, legs=leg, qvec=qvec)
            latency = time.perf_counter() - started
            rank = next((i for i, h in enumerate(hits, 1) if rule.hit(q, h.passage.text)), None)
            ans, verdict = decide(retriever, q.text, hits, qvec)
            found = verdict.found
            answer_hit = None
            if answers and found and q.answerable:
                answer_hit = ans is not None and rule.hit(q, ans.text)
            rows[leg].append(Row(q, rank, found, latency, answer_hit, [h.passage.text[:80] for h in hits[:3]],
                                 ans.doc_id if found and ans else None))
            started = time.perf_counter()
        if progress:
            progress(1)
    return rows


def metrics(rows: Iterable[Row]) -> dict[str, float]:
    rows = list(rows)
    n = len(rows) or 1
    out: dict[str, float] = {"n": len(rows)}
    for k in KS:
        out[f"R@{k}"] = round(sum(1 for r in rows if r.rank and r.rank <= k) / n, 4)
    out["MRR@10"] = round(sum(1 / r.rank for r in rows if r.rank and r.rank <= 10) / n, 4)
    lat = sorted(r.latency_s * 1000 for r in rows) or [0.0]
    out["p50_ms"] = round(statistics.median(lat), 1)
    out["p95_ms"] = round(lat[min(len(lat) - 1, int(len(lat) * 0.95))], 1)
    return out


def summarize(rows: list[Row]) -> dict[str, Any]:
    """Recall and latency overall and per language; refusal figures when some items are unanswerable."""
    answerable = [r for r in rows if r.query.answerable]
    summary: dict[str, Any] = {"all": metrics(answerable)}
    for lang in sorted({r.query.lang for r in answerable}):
        summary[lang] = metrics(r for r in answerable if r.query.lang == lang)
    unanswerable = [r for r in rows if not r.query.answerable]
    if unanswerable:
        summary["refusal"] = {
            "unanswerable": len(unanswerable),
            "refused": round(sum(1 for r in unanswerable if not r.found) / len(unanswerable), 4),
            "answerable": len(answerable),
            "answered": round(sum(1 for r in answerable if r.found) / max(1, len(answerable)), 4),
        }
        kinds = sorted({r.query.kind or "unanswerable" for r in unanswerable})
        if len(kinds) > 1 or kinds != ["unanswerable"]:
            summary["refusal"]["by_kind"] = {
                kind: {"n": len(group), "refused": round(sum(1 for r in group if not r.found) / len(group), 4)}
                for kind in kinds
                for group in [[r for r in unanswerable if (r.query.kind or "unanswerable") == kind]]
            }
        swaps = [r for r in unanswerable if r.query.wrong_doc]
        if swaps:
            wrong = sum(1 for r in swaps if r.found and r.answer_doc == r.query.wrong_doc)
            summary["refusal"]["swaps_answered_from_first_entity"] = round(wrong / len(swaps), 4)
    judged = [r for r in answerable if r.answer_hit is not None]
    if judged:
        summary["answer_sentence"] = {
            "judged": len(judged), "contains_evidence": round(sum(r.answer_hit for r in judged) / len(judged), 4)
        }
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    lines = [f"{'set':<8}{'n':>6}{'R@1':>8}{'R@5':>8}{'R@10':>8}{'MRR@10':>8}{'p50 ms':>9}{'p95 ms':>9}"]
    for key, m in summary.items():
        if key in ("refusal", "answer_sentence"):
            continue
        lines.append(f"{key:<8}{m['n']:>6}{m['R@1']:>8.3f}{m['R@5']:>8.3f}{m['R@10']:>8.3f}"
                     f"{m['MRR@10']:>8.3f}{m['p50_ms']:>9.1f}{m['p95_ms']:>9.1f}")
    if "refusal" in summary and "by_kind" in summary["refusal"]:
        for kind, k in summary["refusal"]["by_kind"].items():
            lines.append(f"  {kind}: refused {k['refused']:.0%} of {k['n']}")
        if "swaps_answered_from_first_entity" in summary["refusal"]:
            lines.append(f"  swaps answered with the first entity's passage: "
                         f"{summary['refusal']['swaps_answered_from_first_entity']:.1%}")
    if "refusal" in summary:
        r = summary["refusal"]
        lines.append(f"refused {r['refused']:.0%} of {r['unanswerable']} unanswerable; "
                     f"answered {r['answered']:.0%} of {r['answerable']} answerable")
    if "answer_sentence" in summary:
        a = summary["answer_sentence"]
        lines.append(
            f"answer sentence contains the evidence for {a['contains_evidence']:.0%} of {a['judged']} answered"
        )
    return "\n".join(lines)
