"""Hybrid retrieval: dense (FAISS) and keyword (BM25) legs, and the passages grounded in the entity a question
names as a third, fused by reciprocal rank and deduplicated.

Each hit carries the evidence the found decision reads (:mod:`qa.search.decision`): its cosine, how far that
stands out from the question's own background, keyword coverage, and whether it is grounded in the entity
asked about (:mod:`qa.search.grounding`). The legs' weights are in ``calibration.json``.
"""

from __future__ import annotations

import bisect
import json
import re
import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from embeddings import Embedder
from embeddings.reader import Reader

from ..glossary import chinese_keywords, english_terms
from ..index.entities import EntityTable
from ..index.keywords import tokenize
from ..index.store import CorpusIndex
from ..ingest.documents import Passage
from ..text import fold, folded, simplified, squeeze
from .attributes import asked
from .grounding import Grounding
from .mentions import MentionFinder
from .reader import reader_for
from .terms import unknown_terms

RRF_K = 60
STRIP_MIN_PASSAGES = 8  # see Retriever.match_text
EXACT_FILTER_UNITS = 50_000  # a filtered search scores up to this many units exactly
RIVAL_UNITS = 64  # units searched for the best passages of other documents (Retriever.rivals)
CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")


_ACRONYM = re.compile(r"(?<![A-Za-z0-9])[A-Z][A-Z0-9]*[A-Z](?![A-Za-z0-9])")


def _one_edit(a: str, b: str) -> bool:
    """``a`` and ``b`` differ by one letter inserted, deleted or replaced."""
    if len(a) > len(b):
        a, b = b, a
    if len(b) - len(a) > 1:
        return False
    i = next((k for k in range(len(a)) if a[k] != b[k]), len(a))
    return a[i + (len(a) == len(b)):] == b[i + 1:]


@dataclass(frozen=True)
class Calibration:
    """Weights of the legs, and what counts as a question in another script."""

    dense_weight: float = 1.0
    keyword_weight: float = 1.0
    candidates: int = 100
    cross_lingual_cjk_share: float = 0.3
    glossary_weight: float = 0.3
    entity_weight: float = 1.0  # RRF weight of the grounded passages' own dense ranking
    # leave the names of the documents' subjects out of the text the legs match ("none", "dense", "both"):
    # grounding already restricts the answer to that subject, and the name pulls the vector toward every
    # passage that merely names the hospital
    strip_subjects: str = "none"

    @classmethod
    def load(cls, path: Path = CALIBRATION_FILE) -> Calibration:
        if not path.is_file():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class Hit:
    """One retrieved passage with the evidence for its rank."""

    passage: Passage
    score: float
    dense: float
    keyword: float
    coverage: float
    row: int = -1
    confident: bool = False  # set by the found decision (qa.search.answer.decide)
    grounded: bool | None = None  # None: the question names no entity; False: a passage about another
    z: float = 0.0  # the dense score against the question's own background (how far it stands out)


@lru_cache(maxsize=65536)
def _fold_tokens(text: str, mode: str) -> frozenset[str]:
    return frozenset(tokenize(text, mode))


def _lap(timings: dict[str, float] | None, stage: str, since: float) -> float:
    """Record the milliseconds since ``since`` as ``stage`` (when timing) and return the time now."""
    now = time.perf_counter()
    if timings is not None:
        timings[stage] = round((now - since) * 1000, 2)
    return now


@lru_cache(maxsize=8192)
def cjk_share(text: str) -> float:
    """Share of the letters in ``text`` that are CJK characters."""
    letters = [c for c in text if c.isalpha()]
    return sum(1 for c in letters if _CJK.match(c)) / len(letters) if letters else 0.0


def near_duplicate(a: str, b: str) -> bool:
    """True when two passages say the same thing (same folded text, or one contains the other)."""
    fa, fb = folded(a), folded(b)
    if fa == fb:
        return True
    short, long_ = sorted((fa, fb), key=len)
    return len(short) >= 8 and short in long_


class Retriever:
    """Answers ``search(question, k)`` over one loaded :class:`CorpusIndex`."""

    def __init__(self, embedder: Embedder, index: CorpusIndex, calibration: Calibration | None = None) -> None:
        self.embedder = embedder
        self.index = index
        self.calibration = calibration or Calibration.load()
        self._idf = index.keywords.idf()
        owners = index.units.passage
        rows = np.arange(len(index.passages))
        self._unit_first = np.searchsorted(owners, rows, "left")
        self._unit_last = np.searchsorted(owners, rows, "right")
        keywords = index.keywords
        self._bigrams = (  # the documents' folded character bigrams, for the unknown-term rule
            keywords.vocabulary
            if keywords.mode == "bigram"
            else frozenset(t for p in index.passages for t in tokenize(p.text, "bigram"))
        )
        self.entities = entity_table(index)
        # the same few terms are looked up for every question that asks about them (~12 us each in 0.1 M characters)
        self.corpus_has = lru_cache(maxsize=16384)(self.corpus_has)  # type: ignore[method-assign]
        self.mention_finder = MentionFinder(self.entities, self.corpus_has, lambda: self._text)
        self.grounding = Grounding(self.entities, [p.doc_id for p in index.passages])
        self.mentions = lru_cache(maxsize=4096)(self.mention_finder.find)
        self._unknown = lru_cache(maxsize=4096)(self._unknown_of)
        self._question_weights = lru_cache(maxsize=4096)(self._weights_of)
        self._searched = threading.local()  # this thread's last unfiltered unit search (Retriever.rivals)
        self.people = frozenset(e.name for e in self.entities.entities if e.kind == "person")

    @cached_property
    def reader(self) -> Reader | None:
        """The trained reader for this model (:mod:`qa.search.reader`), or None."""
        return reader_for(self.embedder)

    def embedder_threads(self) -> int | None:
        """The thread count the last question was encoded with (the model's other runs use the same)."""
        return getattr(self.embedder, "last_threads", None) or getattr(self.embedder, "query_threads", None)

    def corpus_has(self, folded: str) -> bool:
        """True when the folded, whitespace-free ``folded`` occurs in the documents."""
        return folded in self._text

    def uses_word(self, word: str) -> bool:
        """True when every character bigram of ``word`` occurs in the documents (what BM25 can match)."""
        word = fold(word)
        return all(word[i : i + 2] in self._bigrams for i in range(len(word) - 1))

    def passage_with(self, text: str) -> int | None:
        """The row of the first passage containing ``text`` (folded, whitespace ignored), or None."""
        at = self._text.find(squeeze(fold(text)))
        if at < 0:
            return None
        return bisect.bisect_right(self._line_starts, at) - 1

    @cached_property
    def _line_starts(self) -> list[int]:
        starts, at = [], 0
        for p in self.index.passages:
            starts.append(at)
            at += len(squeeze(fold(p.text))) + 1
        return starts

    def coverage(self, question: str, text: str) -> float:
        """Share of the question's idf-weighted keyword mass found in ``text`` (0..1); for an English
        question, the share of its dictionary-known words with a Chinese rendering in ``text``."""
        if self.cross_lingual(question):
            terms = english_terms(question)
            within = folded(text)
            return sum(1 for cands in terms if any(c in within for c in cands)) / len(terms) if terms else 0.0
        weights, total = self._question_weights(question)
        if not weights:
            return 0.0
        t = _fold_tokens(text, self.index.keywords.mode)
        return float(sum(w for tok, w in weights if tok in t) / total) if total else 0.0

    def _weights_of(self, question: str) -> tuple[tuple[tuple[str, float], ...], float]:
        """The question's folded keyword tokens with their idf, in one fixed order, and their sum (what
        :meth:`coverage` weighs every text by; computed once per question, not once per passage)."""
        q = _fold_tokens(question, self.index.keywords.mode)
        weights = {tok: self._idf.get(tok, self.index.keywords.max_idf) for tok in q}
        return tuple(weights.items()), sum(weights.values())

    def cross_lingual(self, question: str) -> bool:
        """True for a question written mostly in another script than Chinese (an English question)."""
        return cjk_share(question) < self.calibration.cross_lingual_cjk_share

    @cached_property
    def _text(self) -> str:
        """The documents' folded text without whitespace, one passage per line (built on first need)."""
        return "\n".join(squeeze(fold(p.text)) for p in self.index.passages)

    def warm_up(self) -> None:
        """Load what the first English or 多少 question would otherwise wait for: the glossary, the
        part-of-speech tagger and the documents' folded text (~4 s per million characters)."""
        from ..glossary import reverse_dictionary
        from .terms import warm_up

        reverse_dictionary()
        warm_up()
        _ = self._text

    def unknown_terms(self, question: str) -> list[str]:
        """Names, or what it counts, that a question mentions and the documents never do: CC-CEDICT names
        and counted nouns of a Chinese question (:mod:`qa.search.terms`), and organisations or places in
        either language that match no entity of the index (:mod:`qa.search.mentions`)."""
        return list(self._unknown(question))

    def _unknown_of(self, question: str) -> tuple[str, ...]:
        mentions = self.mentions(question)
        found: list[str] = []
        if not self.cross_lingual(question):
            found = unknown_terms(question, self._bigrams, self._text)
            # a person the question names whom the documents never write (张国栋, beside their 张国华)
            names = tuple(surface for surface, _ in mentions.spans)
            found += [p for p in asked(question, names, False).people if not self.corpus_has(p)]
            # and an acronym they never write (附近有KTV吗: KTV; 有ECMO吗 asks of one they do)
            found += [a for a in _ACRONYM.findall(question) if not self._writes_acronym(folded(a))]
        terms = list(dict.fromkeys([*found, *mentions.unknown]))
        return tuple(t for t in terms if not any(o != t and o in t for o in terms))  # 襄阳, not also 襄阳市中心医院

    def _writes_acronym(self, acronym: str) -> bool:
        """The documents write ``acronym`` (folded), or one letter away from it when it has three or more (ARPNET
        for their ARPANET: a typo is no other name)."""
        if self.corpus_has(acronym):
            return True
        return len(acronym) >= 3 and any(_one_edit(acronym, w) for w in self._latin_words
                                         if abs(len(w) - len(acronym)) <= 1)

    @cached_property
    def _latin_words(self) -> frozenset[str]:
        """The words in Latin letters the documents write (folded)."""
        return frozenset(re.findall(r"[a-z][a-z0-9]*", self._text))

    def known_share(self, question: str) -> float:
        """Share of the question's keyword mass that the corpus vocabulary knows (0 for an English
        question over Chinese text, near 1 for a Chinese one): how far the keyword leg can be trusted."""
        q = _fold_tokens(question, self.index.keywords.mode)
        if not q:
            return 0.0
        weights = [(self._idf.get(t), self.index.keywords.max_idf) for t in q]
        return sum(w for w, _ in weights if w is not None) / sum(w if w is not None else m for w, m in weights)

    def unit_scores(self, qvec: np.ndarray, row: int) -> tuple[np.ndarray, np.ndarray]:
        """(unit ids, cosine of each) for the units of passage ``row``."""
        first, last = int(self._unit_first[row]), int(self._unit_last[row])
        ids = np.arange(first, last)
        return ids, self.index.vectors.reconstruct_range(first, last - first) @ qvec

    def rows_of(self, doc_ids: Collection[str]) -> np.ndarray:
        """A mask over passage rows: True for the passages of ``doc_ids``."""
        wanted = set(doc_ids)
        return np.fromiter((p.doc_id in wanted for p in self.index.passages), bool, len(self.index.passages))

    def _dense(self, qvec: np.ndarray, pool: int, allowed: np.ndarray | None = None) -> dict[int, float]:
        """Best unit cosine per passage, for the passages of the ``pool`` best units, best first; with
        ``allowed`` (a mask over passage rows) only those passages, scored exactly when they are few."""
        if allowed is not None:
            rows = np.flatnonzero(allowed)
            n_units = int((self._unit_last[rows] - self._unit_first[rows]).sum()) if len(rows) else 0
            if n_units <= EXACT_FILTER_UNITS:
                best = {int(r): float(self.unit_scores(qvec, int(r))[1].max(initial=-1.0)) for r in rows
                        if self._unit_last[r] > self._unit_first[r]}
                return dict(sorted(best.items(), key=lambda kv: -kv[1])[:pool])
            pool = len(self.index.units)  # many allowed passages: search everything, keep theirs
        if allowed is None:
            scores, ids = self._units_near(qvec, pool)
        else:
            scores, ids = self.index.vectors.search(qvec[None, :], pool)
        best: dict[int, float] = {}
        for uid, score in zip(ids[0], scores[0], strict=True):
            if uid < 0:
                continue
            row = int(self.index.units.passage[uid])
            if row not in best and (allowed is None or allowed[row]):
                best[row] = float(score)
        return best

    def _units_near(self, qvec: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (1, k'), of the ``k`` units nearest ``qvec``: the vector store's search, or the
        first ``k`` of the wider search this thread just made for the same vector (search(), then rivals()), when
        that is provably the same answer: the same ``k``, or an exact (flat) index whose first ``k + 1`` scores
        all differ (an exact search's scores do not depend on ``k``; with no tie, neither do the order and the
        cut)."""
        last = getattr(self._searched, "last", None)
        if last is not None and last[0] is qvec:
            _, wider, scores, ids = last
            if wider == k:
                return scores, ids
            if wider > k and self._exact and scores.shape[1] > k and bool(np.all(np.diff(scores[0, : k + 1]) < 0)):
                return scores[:, :k], ids[:, :k]
        scores, ids = self.index.vectors.search(qvec[None, :], k)
        self._searched.last = (qvec, k, scores, ids)
        return scores, ids

    @cached_property
    def _exact(self) -> bool:
        """True when the vector store searches exactly (a flat FAISS index): its scores do not depend on k."""
        vectors = self.index.vectors
        return getattr(vectors, "backend", None) == "faiss" and getattr(vectors, "params", {}).get("type") == "flat"

    def rivals(self, hits: list[Hit], qvec: np.ndarray, k: int = 3) -> list[tuple[float, str]]:
        """(cosine, text) of the ``k`` passages closest to ``qvec`` among those of other documents than the
        ones the grounded ``hits`` come from (the entity the question names), from the RIVAL_UNITS best units;
        [] when the question names no entity. What an entity swap looks like: another hospital's passage says
        the asked thing better than any of the named one's (qa.search.decision)."""
        home = {h.passage.doc_id for h in hits if h.grounded}
        if not home:
            return []
        passages = self.index.passages
        nearest = self._dense(qvec, min(RIVAL_UNITS, len(self.index.units)))  # search()'s own units, when it can
        return [(score, passages[row].text) for row, score in nearest.items() if passages[row].doc_id not in home][:k]

    def embed(self, question: str) -> np.ndarray:
        """The question's vector (one pass through the model), of the text the dense leg matches."""
        return self.embedder.embed_queries([self.dense_text(question)])[0]

    def dense_text(self, question: str) -> str:
        """The text the dense leg encodes for ``question`` (:meth:`match_text`), in simplified characters when the
        documents are written so (荊州二醫… then finds what 荆州二医… finds), as written otherwise."""
        return self.match_text(question if self.traditional_corpus else simplified(question), "dense")

    @cached_property
    def traditional_corpus(self) -> bool:
        """Whether most of the documents (their first 200 passages) are written in traditional characters."""
        sample = self.index.passages[:200]
        return sum(1 for p in sample if simplified(p.text[:200]) != p.text[:200]) * 2 > len(sample)

    def match_text(self, question: str, leg: str) -> str:
        """The text a leg matches for ``question``: the question, or (see ``Calibration.strip_subjects``) the
        question without the names of the documents' subjects when enough of it is left. Only the subject of a
        long article (``STRIP_MIN_PASSAGES`` passages or more: a hospital its article is about from end to end)
        is left out; the subject of a paragraph or two is what finds that paragraph, and stays."""
        mode = self.calibration.strip_subjects
        if mode == "none" or (mode == "dense" and leg != "dense"):
            return question
        text = question
        for surface, eid in self.mentions(question).spans:
            entity = self.entities.by_id.get(eid)
            if entity is not None and entity.main_of and self.grounding.article_size(entity) >= STRIP_MIN_PASSAGES:
                text = text.replace(surface, " ") if surface in text else text
        text = re.sub(r"^[\s的,，、]+|\s{2,}", " ", text).strip()
        letters = sum(1 for c in text if c.isalnum())
        return text if letters >= (4 if cjk_share(question) > 0.3 else 12) else question

    def search(
        self, question: str, k: int = 5, *, legs: str = "hybrid", qvec: np.ndarray | None = None,
        timings: dict[str, float] | None = None, doc_ids: Collection[str] | None = None,
        context: Sequence[str] = (),
    ) -> list[Hit]:
        """The ``k`` best passages for ``question``.

        Args:
            question: the question, in any language the model knows.
            k: how many passages to return.
            legs: ``"hybrid"``, ``"dense"`` or ``"keyword"`` (the last two for measurement).
            qvec: the question's vector, when the caller already has it.
            timings: when given, filled with the milliseconds each stage took (``dense``, ``keyword``, ``fuse``).
            doc_ids: when given, only passages of these documents are searched.
            context: ids of entities the question refers to without naming them (from the conversation).
        """
        n = len(self.index.passages)
        if n == 0:
            return []
        cal = self.calibration
        pool = min(n, max(cal.candidates, k * 4))
        qvec = self.embed(question) if qvec is None else qvec
        clock = time.perf_counter()
        allowed = self.rows_of(doc_ids) if doc_ids is not None else None
        dense_of = self._dense(qvec, min(len(self.index.units), pool * 3), allowed)
        background = sorted(dense_of.values(), reverse=True)
        background = background[5:60] if len(background) > 15 else background
        bg_mean = float(np.mean(background)) if background else 0.0
        bg_std = max(float(np.std(background)), 0.01) if len(background) > 1 else 0.05
        named = [*self.mentions(question).entities, *context]
        grounded = self.grounding.mask(named)
        if grounded is not None and allowed is not None:
            grounded &= allowed
        # the third leg only for a question about one of the documents' subjects (a hospital): other names
        # (a person, a place in an encyclopedia article) ground the answer but would only reorder the passages
        about_subject = any(self.entities.by_id[e].main_of for e in named if e in self.entities.by_id)
        entity_of = (
            self._dense(qvec, pool, grounded)
            if about_subject and grounded is not None and legs == "hybrid" and grounded.any() else {}
        )
        lap = _lap(timings, "dense", clock)
        fused: dict[int, float] = {}
        if legs in ("hybrid", "dense"):
            for rank, pid in enumerate(dense_of):
                fused[pid] = fused.get(pid, 0.0) + cal.dense_weight / (RRF_K + rank + 1)
        for rank, pid in enumerate(entity_of):  # the passages about the entity asked about, by their own order
            fused[pid] = fused.get(pid, 0.0) + cal.entity_weight / (RRF_K + rank + 1)
            dense_of.setdefault(pid, entity_of[pid])
        keyword_of: dict[int, float] = {}
        keyword_text, keyword_weight = self.match_text(question, "keyword"), cal.keyword_weight
        if self.cross_lingual(question):
            # an English question: its keywords come from the dictionary (see qa.glossary)
            keyword_text = " ".join([keyword_text, *chinese_keywords(keyword_text, self.uses_word)])
            keyword_weight = cal.glossary_weight
        elif legs == "hybrid":
            keyword_weight *= self.known_share(question)
        if legs in ("hybrid", "keyword"):
            scores = self.index.keywords.scores(keyword_text)
            if allowed is not None:
                scores = np.where(allowed, scores, 0.0)
            top = np.argpartition(-scores, pool - 1)[:pool] if n > pool else np.arange(n)
            top = [int(i) for i in top[np.argsort(-scores[top], kind="stable")] if scores[i] > 0]
            for rank, pid in enumerate(top):
                keyword_of[pid] = float(scores[pid])
                fused[pid] = fused.get(pid, 0.0) + keyword_weight / (RRF_K + rank + 1)
        lap = _lap(timings, "keyword", lap)
        if not fused:
            return []
        best_possible = (
            (cal.dense_weight if legs != "keyword" else 0.0) + (keyword_weight if legs != "dense" else 0.0)
            + (cal.entity_weight if entity_of else 0.0)
        ) / (RRF_K + 1)
        ranked = sorted(fused, key=lambda pid: -fused[pid])
        hits: list[Hit] = []
        for pid in ranked:
            passage = self.index.passages[pid]
            if any(near_duplicate(passage.text, h.passage.text) for h in hits):
                continue
            if pid not in dense_of:  # a keyword-only candidate: its exact cosine, for the confidence rule
                _, unit_cos = self.unit_scores(qvec, pid)
                dense_of[pid] = float(unit_cos.max()) if len(unit_cos) else 0.0
            hits.append(
                Hit(
                    passage=passage,
                    score=round(fused[pid] / best_possible, 4),
                    dense=round(dense_of[pid], 4),
                    keyword=round(keyword_of.get(pid, 0.0), 4),
                    coverage=round(self.coverage(question, passage.text), 4),
                    row=pid,
                    grounded=None if grounded is None else bool(grounded[pid]),
                    z=round((dense_of[pid] - bg_mean) / bg_std, 3),
                )
            )
            if len(hits) == k:
                break
        _lap(timings, "fuse", lap)
        return hits


def entity_table(index: CorpusIndex) -> EntityTable:
    """The index's entity table: stored with it, or (an index built before entities were) made now."""
    table = getattr(index, "entities", None)
    if table is None:
        table = EntityTable.load(index.path)
    if not table.entities and index.passages:
        table = EntityTable.build(list(index.documents.values()), index.passages)
    return table
