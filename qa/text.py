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


def fold(text: str) -> str:
    """Return ``text`` NFKC-normalised, lower-cased and converted to simplified Chinese."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _t2s().convert(text)


def squeeze(text: str) -> str:
    """Remove all whitespace (used to compare passages and evidence across line wraps)."""
    return _SPACE.sub("", text)
