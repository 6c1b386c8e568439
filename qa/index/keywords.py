"""The keyword leg: BM25 (bm25s) over a Chinese-aware tokenisation of folded text.

Tokens are overlapping CJK character bigrams (plus the single character for one-character runs) and
Latin words and numbers as whole tokens. ``BASELINES.md`` measured bigrams at or above jieba's
search-mode words on every Chinese benchmark; ``qa eval --keywords jieba`` re-measures the alternative.
The index is built once with the vector index and stored beside it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Container, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..text import fold

KEYWORD_DIR = "keywords"
TOKENIZERS = ("bigram", "jieba")
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
_RUNS = re.compile(rf"[{_CJK}]+|[0-9]+(?:\.[0-9]+)?|[a-z]+|[^\W\d_{_CJK}]+", re.UNICODE)
_IS_CJK = re.compile(rf"[{_CJK}]")


def _bigrams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def tokenize(text: str, mode: str = "bigram") -> list[str]:
    """Split ``text`` into keyword tokens after folding.

    Args:
        text: any text; folded (NFKC, lower case, simplified) first.
        mode: ``"bigram"`` (CJK bigrams) or ``"jieba"`` (jieba search-mode words for CJK runs).
    """
    folded = fold(text)
    tokens: list[str] = []
    for match in _RUNS.finditer(folded):
        run = match.group()
        if not _IS_CJK.match(run):
            tokens.append(run)
        elif mode == "jieba":
            tokens.extend(t for t in _jieba().cut_for_search(run) if t.strip())
        else:
            tokens.extend(_bigrams(run))
    return tokens


@lru_cache(maxsize=1)  # once: jieba.setLogLevel clears every logger's cache (logging.Logger.setLevel)
def _jieba():
    import jieba

    jieba.setLogLevel(60)
    return jieba


class KeywordIndex:
    """BM25 over tokenised passages; ``scores`` gives every passage's score for one question."""

    def __init__(self, bm25, mode: str) -> None:
        self._bm25 = bm25
        self.mode = mode
        self._vocab: dict[str, int] = bm25.vocab_dict
        self._idf: dict[str, float] | None = None
        self.max_idf = 1.0

    @classmethod
    def build(cls, texts: Sequence[str], mode: str = "bigram") -> KeywordIndex:
        import bm25s

        if mode not in TOKENIZERS:
            raise ValueError(f"unknown keyword tokenizer {mode!r}")
        corpus = [tokenize(t, mode) for t in texts]
        bm25 = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
        bm25.index(corpus, show_progress=False)
        return cls(bm25, mode)

    @property
    def vocabulary(self) -> Container[str]:
        """Every indexed token."""
        return self._vocab.keys()

    def idf(self) -> dict[str, float]:
        """Lucene idf of every indexed token (document frequency read from the BM25 matrix)."""
        if self._idf is None:
            indptr = np.asarray(self._bm25.scores["indptr"])
            df = np.diff(indptr).astype(np.float64)
            n = float(self._bm25.scores["num_docs"])
            values = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
            self._idf = {tok: float(values[i]) for tok, i in self._vocab.items() if i < len(values)}
            self.max_idf = float(values.max()) if len(values) else 1.0
        return self._idf

    def scores(self, question: str) -> np.ndarray:
        """BM25 score of every passage for ``question`` (zeros when no token is known)."""
        tokens = [t for t in tokenize(question, self.mode) if t in self._vocab]
        n = int(self._bm25.scores["num_docs"])
        if not tokens:
            return np.zeros(n, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)

    def save(self, folder: Path) -> None:
        target = folder / KEYWORD_DIR
        self._bm25.save(str(target), show_progress=False)
        (target / "qa_keywords.json").write_text(json.dumps({"tokenizer": self.mode}), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        import bm25s

        target = folder / KEYWORD_DIR
        meta = json.loads((target / "qa_keywords.json").read_text(encoding="utf-8"))
        # memory-mapped: the score matrix stays in the page cache (shared by every process serving this index)
        # instead of each process's heap; only the vocabulary is read into memory (bench.scale measures it)
        bm25 = bm25s.BM25.load(str(target), mmap=True, show_progress=False, verbosity=0)
        return cls(bm25, meta["tokenizer"])
