"""The unknown-name rule (qa/names.py) on its own: names found in questions, and when they count as known."""

from __future__ import annotations

from qa.keywords import tokenize
from qa.names import name_bigrams, question_names, unknown_names

SEEDS_LIKE = "邵阳市中心医院专科联盟增至28个。荆州市第一人民医院卒中中心综合排名位居全国第59。"


def bigrams(text: str) -> set[str]:
    return set(tokenize(text, "bigram"))


def test_names_are_found_longest_first_and_folded():
    assert "襄阳" in question_names("襄阳市中心医院的卒中中心在全国排第几？")
    assert "荆州" in question_names("荊州二醫在封城期間接診了多少發熱患者？")  # traditional folded first
    assert question_names("量子计算机的工作原理是什么？") == ()


def test_administrative_suffix_is_dropped():
    assert name_bigrams("邵阳市") == ["邵阳"]
    assert name_bigrams("襄阳") == ["襄阳"]


def test_unknown_only_when_no_bigram_is_in_the_documents():
    known = bigrams(SEEDS_LIKE)
    assert unknown_names("襄阳市中心医院的卒中中心在全国排第几？", known) == ["襄阳"]
    assert unknown_names("荆州一医卒中中心在全国排第几？", known) == []
    assert unknown_names("邵阳市中心医院有多少个专科联盟？", known) == []


def test_empty_and_odd_questions():
    assert unknown_names("", set()) == []
    assert unknown_names("？？？ 1234 abc", set()) == []
