"""Names a question mentions that the documents never do.

A question about 襄阳市中心医院 cannot be answered from documents that never mention 襄阳, however close
its wording is to a passage about another hospital's stroke centre: e5 scores that pair 0.93, above most
true answers. So a Chinese question that names a place, person or organisation the documents do not know
is refused, whatever the similarities say.

Names are CC-CEDICT's proper nouns (entries with capitalised pinyin) of two or more characters, matched
longest first in the folded question. A name is known when one of its character bigrams occurs in the
documents, after an administrative suffix (市, 县, 区, …) is dropped: partial mentions, variant suffixes
and abbreviations still count as known. ``python -m bench.names`` measures what the rule costs on the
public benchmarks' answerable questions and what it refuses among off-topic ones.
"""

from __future__ import annotations

import re
from collections.abc import Container
from functools import lru_cache

from .glossary import reverse_dictionary
from .text import fold, squeeze

MAX_NAME_CHARS = 12
_ADMIN_SUFFIX = re.compile(r"[市省县区镇乡村州盟旗]$")


@lru_cache(maxsize=4096)
def question_names(question: str) -> tuple[str, ...]:
    """The proper nouns in ``question`` (folded to simplified Chinese), longest match first."""
    proper = reverse_dictionary().proper_nouns
    text = squeeze(fold(question))
    found: list[str] = []
    i = 0
    while i < len(text):
        for size in range(min(MAX_NAME_CHARS, len(text) - i), 1, -1):
            if text[i : i + size] in proper:
                found.append(text[i : i + size])
                i += size
                break
        else:
            i += 1
    return tuple(found)


def name_bigrams(name: str) -> list[str]:
    """The character bigrams that make ``name`` known (its administrative suffix dropped)."""
    core = _ADMIN_SUFFIX.sub("", name) if len(name) > 2 else name
    return [core[i : i + 2] for i in range(len(core) - 1)]


def unknown_names(question: str, bigrams: Container[str]) -> list[str]:
    """Names in ``question`` none of whose bigrams is in ``bigrams`` (the documents' folded bigrams)."""
    return [name for name in question_names(question) if not any(b in bigrams for b in name_bigrams(name))]
