"""Folding (qa/text.py): a text the t2s dictionaries would not change skips the conversion, and the result is
always exactly OpenCC's."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from qa.text import _converts, _fold, _t2s

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
CASES = [
    "荆州二医在封城期间接诊了多少发热患者？",  # simplified: unchanged, the conversion skipped
    "荊州二醫在封城期間接診了多少發熱患者？",  # traditional characters
    "他对这份工作情有獨鍾",  # a phrase entry (情有獨鍾 -> 情有独钟) in simplified text
    "么麽小丑",  # a phrase entry that changes a character (么) simplified text uses alone
    "什么时候开始的？",  # 么 alone is unchanged
    "Jingzhou No.2 Hospital, ２０２１年",  # NFKC and lower case still applied
    "",
]


@pytest.mark.parametrize("text", CASES)
def test_fold_is_opencc(text):
    assert _fold(text) == _t2s().convert(unicodedata.normalize("NFKC", text).lower())


def test_the_conversion_is_skipped_only_when_it_changes_nothing():
    lines = [line for path in sorted(SEEDS.glob("*.txt")) for line in path.read_text(encoding="utf-8").splitlines()]
    lines += CASES
    skipped = 0
    for line in lines:
        text = unicodedata.normalize("NFKC", line).lower()
        full = _t2s().convert(text)
        if not _converts(text):
            skipped += 1
            assert full == text, line
        assert _fold(line) == full
    assert skipped >= 0.9 * len(lines)  # the seeds are simplified: nearly every line skips the conversion
    assert _converts("荊州") and _converts("情有獨鍾") and _converts("么麽") and not _converts("什么")
