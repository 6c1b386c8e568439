"""Text folding for matching: NFKC, lower case, traditional -> simplified Chinese.

Folding is applied to passages at index time and to questions at query time. It never touches what is
shown or cited: citations always quote the original text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_SPACE = re.compile(r"\s+")


@lru_cache(maxsize=1)
def _t2s():
    from opencc import OpenCC  # opencc-python-reimplemented: pure Python, ships its dictionaries

    return OpenCC("t2s")


@lru_cache(maxsize=1)
def _changing() -> dict[str, tuple[str, ...]]:
    """The t2s dictionaries' entries that change what they match, by first character. The conversion only
    ever rewrites a match of an entry, so a text holding none of them converts to itself, and most questions
    and passages, already simplified, hold none."""
    converter = _t2s()
    converter.convert("")  # loads the dictionaries
    out: dict[str, list[str]] = {}
    for group in converter._dict_chain_data:
        for entry in group:
            for key in next(x for x in entry if isinstance(x, dict)):
                if converter.convert(key) != key:  # its first value, as a match in a text is written
                    out.setdefault(key[0], []).append(key)
    return {c: tuple(keys) for c, keys in out.items()}


def _converts(text: str) -> bool:
    """Whether the t2s conversion changes anything in ``text``."""
    entries = _changing()
    return any(any(k in text for k in entries[c]) for c in set(text) if c in entries)


SHORT_TEXT = 2000  # sentences, passages and questions: folded once, remembered


def fold(text: str) -> str:
    """Return ``text`` NFKC-normalised, lower-cased and converted to simplified Chinese.

    The conversion (OpenCC, pure Python) is the slow part of reading evidence at question time, and the same
    sentences and passages are read again and again, so texts up to ``SHORT_TEXT`` characters are remembered.
    """
    return _fold_short(text) if len(text) <= SHORT_TEXT else _fold(text)


@lru_cache(maxsize=65536)
def _fold_short(text: str) -> str:
    return _fold(text)


def _fold(text: str) -> str:
    return _simplified(unicodedata.normalize("NFKC", text).lower())


def _simplified(text: str) -> str:
    return _t2s().convert(text) if _converts(text) else text


@lru_cache(maxsize=8192)
def simplified(text: str) -> str:
    """``text`` in simplified characters (OpenCC t2s), nothing else changed; itself when it has no traditional
    character."""
    return _simplified(text)


def squeeze(text: str) -> str:
    """Remove all whitespace (used to compare passages and evidence across line wraps)."""
    return _SPACE.sub("", text)


def folded(text: str) -> str:
    """``squeeze(fold(text))``, remembered for texts up to ``SHORT_TEXT`` characters: every candidate answer
    sentence is read this way by several checks for every question."""
    return _folded_short(text) if len(text) <= SHORT_TEXT else squeeze(_fold(text))


@lru_cache(maxsize=65536)
def _folded_short(text: str) -> str:
    return squeeze(fold(text))
