"""Questions the documents cannot answer, generated from the public sets, for measuring refusal.

* **Near misses**: one paragraph of every multi-paragraph article (paragraphs sharing a title) is left out
  of the index; its questions are then unanswerable, while the rest of the article, about the same
  subject, stays in (:func:`near_miss_split`).
* **Entity swaps**: a question about one of the subjects of the documents (a hospital) asked again about
  another: the first one's passage is then a wrong answer, whatever else the corpus holds
  (:func:`swap_entities`).
* **Junk and chit-chat**: lines of a text file (``bench/data/junk.txt``).
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..search.retriever import Retriever
from ..text import fold, squeeze
from .benchmark import Query


def near_miss_split(rows: Sequence[dict], seed: int = 0) -> tuple[list[dict], set[str]]:
    """Leave one paragraph of each article with two or more out: (kept rows, left-out paragraph ids).

    Args:
        rows: corpus records ``{"id", "title", "text"}``; an article is the records sharing a title.
        seed: the random choice of the paragraph left out of each article.
    """
    by_title: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_title[row.get("title") or row["id"]].append(row)
    rng = random.Random(seed)
    left_out = {rng.choice(group)["id"] for group in by_title.values() if len(group) >= 2}
    return [r for r in rows if r["id"] not in left_out], left_out


def share_split(rows: Sequence[dict], share: float = 0.2, seed: int = 0) -> tuple[list[dict], set[str]]:
    """Leave a random ``share`` of the paragraphs out (for corpora of one paragraph per article, whose
    left-out questions are then off-topic rather than near misses)."""
    rng = random.Random(seed)
    left_out = {r["id"] for r in rows if rng.random() < share}
    return [r for r in rows if r["id"] not in left_out], left_out


def mark_left_out(queries: Sequence[Query], left_out: set[str]) -> list[Query]:
    """The queries, those whose gold paragraph was left out now unanswerable."""
    return [q if not (set(q.gold) & left_out) else replace(q, answerable=False, kind="near-miss") for q in queries]


@dataclass(frozen=True)
class Swap:
    """A question re-asked about another subject: ``query`` is unanswerable from ``original_doc``."""

    query: Query
    original_doc: str
    new_entity: str


_EN_NAME = re.compile(r"\s+")


def swap_entities(retriever: Retriever, queries: Sequence[Query], english_names: dict[str, list[str]] | None = None,
                  per_query: int = 4) -> list[Swap]:
    """Every answerable query that names one of the documents' subjects, re-asked about each other subject.

    Chinese questions get the other subject's short name (:attr:`Entity.short_name`); English ones one of the
    English names the queries themselves use for it (``english_names``: entity id -> names, gathered by
    :func:`english_names`). The swapped query keeps no evidence: it is unanswerable from the original
    document.
    """
    table = retriever.entities
    subjects = table.subjects()
    out: list[Swap] = []
    for q in queries:
        if not q.answerable or not q.doc:
            continue
        mentions = retriever.mentions(q.text)
        for surface, eid in mentions.spans:
            entity = table.by_id.get(eid)
            if entity is None or not entity.main_of:
                continue
            for other in [s for s in subjects if s.id != eid][:per_query]:
                if retriever.cross_lingual(q.text):
                    names = (english_names or {}).get(other.id, [])
                    if not names or surface not in q.text:
                        continue
                    text = q.text.replace(surface, names[0])
                else:
                    alias = other.short_name
                    folded = squeeze(fold(q.text))
                    if surface not in folded:
                        continue
                    text = folded.replace(surface, alias)
                out.append(Swap(replace(q, id=f"{q.id}~{other.id}", text=text, answerable=False, evidence=[],
                                        answers=[], kind="swap", wrong_doc=q.doc), q.doc, other.id))
            break
    return out


def english_names(retriever: Retriever, queries: Sequence[Query]) -> dict[str, list[str]]:
    """The English names English queries use for each subject entity (for swaps)."""
    names: dict[str, list[str]] = defaultdict(list)
    for q in queries:
        if not retriever.cross_lingual(q.text):
            continue
        for surface, eid in retriever.mentions(q.text).spans:
            entity = retriever.entities.by_id.get(eid)
            if entity is not None and entity.main_of and surface not in names[eid] and " " in surface:
                names[eid].append(surface)
    return dict(names)


def junk_queries(path: Path, prefix: str = "junk") -> list[Query]:
    """One unanswerable query per non-empty line of ``path``."""
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Query(id=f"{prefix}-{i}", text=line, lang="junk", answerable=False, kind="junk")
            for i, line in enumerate(lines)]
