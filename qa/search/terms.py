"""Words a question asks about that the documents never mention.

A question about 襄阳市中心医院 cannot be answered from documents that never mention 襄阳, however close
its wording is to a passage about another hospital's stroke centre: e5 scores that pair 0.93, above most
true answers. Likewise 十堰市中西医结合医院一年的门诊量有多少？ cannot be answered from documents that never
speak of 门诊量, however well they cover that hospital (cosine 0.92). So a Chinese question is refused,
whatever the similarities say, when it names something the documents do not know, and the reply says what.

Two kinds of word are checked:

* **Names**: CC-CEDICT's proper nouns (entries with capitalised pinyin) of two or more characters, matched
  longest first in the folded question. A name is known when one of its character bigrams occurs in the
  documents, after an administrative suffix (市, 县, 区, …) is dropped: partial mentions, variant suffixes
  and abbreviations still count as known.
* **What a 多少/几 question counts**: the head noun of the phrase it asks about (护士 in 有多少名护士, 门诊量 in
  门诊量有多少), found with jieba's part-of-speech tagger and its dictionary only (no guessed words). It is
  known when the documents contain it. Dimensions that the documents state as a number and unit rather than
  by name (比例, 长度, 面积, 人口, …, and any ``…率``) are never checked.

``python -m bench.terms`` measures what each rule costs on the public benchmarks' answerable questions
(against their whole corpus, and against the question's own article, which is closer to the size of our
seeds) and what it refuses among off-topic ones.
"""

from __future__ import annotations

import re
from collections.abc import Container
from functools import lru_cache

from ..glossary import reverse_dictionary
from ..index.entities import (
    _tagger,  # jieba's part-of-speech tagger, loaded once
    word_frequency,
)
from ..text import fold, squeeze

MAX_NAME_CHARS = 12
_ADMIN_SUFFIX = re.compile(r"[市省县区镇乡村州盟旗]$")
_HOW_MANY = ("多少", "几")
# Between the counted noun and 多少 (门诊量[有]多少) only these, adverbs, prepositions and particles.
_LINKS = frozenset(
    "有 是 为 达 达到 约 共 一共 大约 大概 总共 到底 将近 超过 占 共有 总计 合计 要 需要 花 花费".split()
)
# Aspect particles: the word before one is a verb (用了, 做过), whatever jieba tags it.
_ASPECT = frozenset("了 过 着".split())
# Quantities the documents state as a number with a unit, not by name.
DIMENSIONS = frozenset(
    """比例 百分比 比率 比重 长度 全长 总长 体长 身长 周长 宽度 深度 高度 直径 面积 总面积 体积 容量 距离 海拔 身高
    体重 重量 温度 速度 人口 人数 次数 数量 总数 数目 数字 数额 总量 总额 金额 价格 售价 价值 市值 费用 成本 收入
    资金 投资 产量 产值 规模 比分 得分 分数 平均分 票数 排名 名次 年龄 寿命 历史 时间 时长 时候 时期 期限 年份 年代
    种类 地方 程度 水平 大小 尺寸 度数""".split()
)


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


def warm_up() -> None:
    """Load the part-of-speech tagger's dictionary now rather than on the first 多少 question (~1 s)."""
    counted_noun("有多少名护士？")


def _head(nouns: list[str]) -> str | None:
    head = nouns[-1] if nouns else ""
    if len(head) < 2 or head in DIMENSIONS or head.endswith("率"):
        return None
    return head


@lru_cache(maxsize=4096)
def _pos_tokens(text: str) -> tuple[tuple[str, str], ...]:
    """(word, part of speech) of a folded question, jieba's dictionary only (no guessed words); read by both
    rules below."""
    return tuple((word, flag) for word, flag in _tagger().cut(text, HMM=False))


def _nominal(flag: str) -> bool:
    """A noun, or an abbreviation (jieba's j: 党支部, 党委), which names a thing as a noun does."""
    return flag.startswith("n") or flag == "j"


@lru_cache(maxsize=4096)
def counted_noun(question: str) -> str | None:
    """The head noun of what a 多少/几 question counts (folded), or ``None`` when it asks no such thing or
    counts a dimension such as 比例 or 长度."""
    text = squeeze(fold(question))
    if not any(word in text for word in _HOW_MANY):
        return None
    tokens = _pos_tokens(text)
    for i, (word, flag) in enumerate(tokens):
        if flag != "m" or not word.startswith(_HOW_MANY):  # not 几乎, 或多或少
            continue
        # after it: 多少[名]护士, 多少[发热]患者
        j = i + 1
        while j < len(tokens) and tokens[j][1] in ("m", "q"):
            j += 1
        k = j
        while k < min(len(tokens), j + 2) and tokens[k][1][:1] in ("v", "a", "b") and tokens[k][1] != "vn":
            k += 1
        if k < len(tokens) and _nominal(tokens[k][1]):
            j = k
        nouns: list[str] = []
        while j < len(tokens) and _nominal(tokens[j][1]):
            nouns.append(tokens[j][0])
            j += 1
        while nouns and j + 1 < len(tokens) and tokens[j][0] == "的":  # 多少个县里的重症病人: what 的 leads to
            k = j + 1
            while k < min(len(tokens), j + 3) and tokens[k][1][:1] in ("v", "a", "b") and tokens[k][1] != "vn":
                k += 1
            more = []
            while k < len(tokens) and _nominal(tokens[k][1]):
                more.append(tokens[k][0])
                k += 1
            if not more:
                break
            nouns, j = more, k
        if nouns:
            return _head(nouns)
        # before it: 门诊量[有]多少
        j = i - 1
        while j >= 0 and (tokens[j][0] in _LINKS or tokens[j][1][:1] in ("d", "p", "u")):
            if tokens[j][0] in _ASPECT:
                return None  # 一共用了几天: what comes before 了 is done, not counted (jieba tags 共用 a noun)
            j -= 1
        nouns = []
        while j >= 0 and (tokens[j][1].startswith("n") or tokens[j][1] == "vn"):
            nouns.insert(0, tokens[j][0])
            j -= 1
        return _head(nouns)
    return None


@lru_cache(maxsize=4096)
def _inside_common_words(question: str) -> tuple[tuple[int, int], ...]:
    """Spans of the folded question that jieba's dictionary reads as one common word (新党员: a new Party
    member), within which a proper noun (新党, a party in Taiwan) is not meant."""
    spans, at = [], 0
    for word, flag in _pos_tokens(squeeze(fold(question))):
        if len(word) >= 3 and flag[:2] not in ("nr", "ns", "nt", "nz"):
            spans.append((at, at + len(word)))
        at += len(word)
    return tuple(spans)


def _meant_names(question: str) -> list[str]:
    names = question_names(question)
    if not names:
        return []
    text = squeeze(fold(question))
    inside = _inside_common_words(question)
    starts, at = set(), 0  # where jieba's words start: a name that starts inside a word is not written there
    for word, _ in _pos_tokens(text):
        starts.add(at)
        at += len(word)
    out = []
    for name in names:
        start = text.find(name)
        if start not in starts:  # 道里 in 报道里, 长治 in 擅长治疗
            continue
        if not any(a <= start and start + len(name) <= b and (b - a) > len(name) for a, b in inside):
            out.append(name)
    return out


def _is_word(word: str) -> bool:
    return word_frequency(word) > 0


def _said(noun: str, text: str) -> bool:
    """The documents say ``noun``, or its head without a one-character modifier (党员 for 新党员)."""
    return noun in text or (len(noun) >= 3 and _is_word(noun[1:]) and noun[1:] in text)


def unknown_terms(question: str, bigrams: Container[str], text: str) -> list[str]:
    """The names in ``question`` none of whose bigrams is in ``bigrams`` (the documents' folded bigrams),
    then what it counts when ``text`` (the documents' folded text, whitespace removed) never says it."""
    unknown = [name for name in _meant_names(question) if not any(b in bigrams for b in name_bigrams(name))]
    noun = counted_noun(question)
    if noun and not _said(noun, text) and noun not in unknown:
        unknown.append(noun)
    return unknown
