"""Attribute grounding: what a question asks for, and whether a sentence says it.

A question asks for an *attribute* (床位, 门诊量, director) of something, and often for an answer of a *type*:
谁 / who wants a person, 多少张 / how many a number (with its measure word 张), 哪一年 / when a date, 哪里 /
where a place, 哪家医院 a organisation. A passage about the right hospital that never states the attribute,
or states no answer of the asked type, does not answer the question, however similar it reads ("荆州一医有多少
张床位？" against a sentence about its disciplines). These checks are general Chinese and English question
grammar (interrogatives, measure words), not word lists drawn from known questions; the found decision
(:mod:`qa.search.decision`) weighs them with the other evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ..glossary import content_words, english_terms
from ..index.entities import SURNAMES, is_common_word, is_person, word_frequency
from ..text import fold, squeeze
from ..text import folded as folded_text  # squeeze(fold(...)), remembered

# Words for a person's role, written next to the name (院长李永兵): general Chinese usage, not drawn from questions.
ROLE_WORDS = ("院长|主任|书记|医生|医师|护士长|护士|教授|专家|局长|区长|市长|主席|科长|处长|队长|组长|部长|负责人|"
              "带头人|董事长|经理|所长|站长|校长")

# a question that is a post and no interrogative (区二院院长？, 邵阳市中心医院党委书记？) asks who holds it (哪个学科的
# 带头人 asks which discipline)
_ENDS_IN_ROLE = re.compile(rf"(?:{ROLE_WORDS})[?？。.！!\s]*$")
INTERROGATIVE_ZH = re.compile(r"什么|甚么|怎|如何|为何|哪|谁|几|多少|多大|多久|多长|多高|多远|啥|何|是否|吗|么|呢"
                               r"|有没有|是不是|能否|可否")

# a year written in digits (2020年, in 2019)
YEAR = re.compile(r"(?<![0-9])((?:19|20)[0-9]{2})(?![0-9])")

# Of those, the occupations: many people hold one, so 哪位医生 / 哪位专家 asks for a person (an answer type), not
# for the holder of a post its passage must name (主任医师罗永波 answers 哪位医生; 学科带头人汪建成 哪位专家).
OCCUPATIONS = frozenset({"医生", "医师", "护士", "教授", "专家"})

# The answer types, in the order the models read them as a category (qa.search.sentences, qa.search.decision).
KINDS = ("number", "date", "duration", "person", "place", "org", "title")
_WORKS = r"(?:歌|歌曲|小品|节目|舞蹈|诗|诗歌|书|电影|剧|话剧|党课|课|作品|文章|口号|标语|院训|院歌|称号)"

# What a question asks for, by its interrogative (Chinese, then English), most specific first.
_KINDS_ZH: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("date", re.compile(r"哪一?年|何年|哪一?天|哪一?日|几月|几号|几日|什么时候|何时|什么时间|几点|哪个月|"
                        r"哪一?月|日期|年份|哪个时候")),
    ("duration", re.compile(r"多久|多长时间|几天|几年|几个月|几小时|多少天|多少年|多少小时|多少分钟|多少个月")),
    # the name of people (这两个人叫什么？ 那位专家叫啥名字？): a person, not a title
    ("person", re.compile(rf"谁|哪些?位|何人|什么人|哪些人|哪个人|(?:{ROLE_WORDS})(?:叫|是)(?:什么|啥)(?:名字)?"
                          rf"|(?:人|者|员|同志|患者|病人|{ROLE_WORDS})(?:分别|都|各自|各)?叫(?:什么|啥)")),
    ("org", re.compile(r"哪[家所个]?(?:医院|单位|机构|大学|学校|公司|部门)|哪家|什么(?:医院|单位|机构)")),
    ("place", re.compile(r"哪里|哪儿|在哪|什么地方|何处|何地|哪个(?:城市|省|国家|地方|区|县)|地址|地点")),
    # the name of a work or of something named (微党课叫什么？ 演了哪个小品？): Chinese writes it in 《》 or “”
    ("title", re.compile(rf"叫(?:什么|啥)|(?:什么|啥)名字|名字是|名称|题目|标题|哪(?:个|首|部|出|篇|本|支)?{_WORKS}|"
                         rf"(?:什么|啥){_WORKS}")),
    ("number", re.compile(r"多少|几[个名张台次例项场期位家所种人条篇倍元万亿层床分]?|多大|多高|多长|多重|多远|"
                          r"比例|百分之|第几|排名|数量|几成")),
)
_KINDS_EN: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("date", re.compile(r"\bwhen\b|\bwhat (?:year|date|day|month|time)\b|\bwhich (?:year|date|day|month)\b|"
                        r"\bin what year\b", re.I)),
    ("duration", re.compile(r"\bhow long\b|\bhow soon\b|\bhow many (?:days|years|months|hours|minutes|weeks)\b",
                            re.I)),
    ("person", re.compile(r"\bwho\b|\bwhom\b|\bwhose\b|\bwhich (?:person|doctor|expert|director)\b|"
                          r"\bnames? of (?:the|its|their) (?:[\w-]+ ){0,3}?(?:president|director|head|secretary|"
                          r"chief|chair|chairman|leader|dean|doctor|surgeon|physician|nurse|reporter|correspondent|"
                          r"author|writer|journalist|expert)s?\b", re.I)),
    ("org", re.compile(r"\bwhich (?:hospital|organi[sz]ation|institution|university|company|unit|foundation)s?\b",
                       re.I)),
    ("place", re.compile(r"\bwhere\b|\bwhich (?:city|province|country|place|county|district)\b", re.I)),
    ("title", re.compile(r"\b(?:is|was|are|were) (?:it |they |this |that )?(?:called|named|titled)\b|"
                         r"\b(?:which|what) (?:song|play|sketch|skit|dance|poem|book|film|movie|programme|program|show|"
                         r"lecture|slogan|motto|title|name)s?\b|\bname of the\b|"
                         r"\b(?:called|named|titled|known as)\W*$", re.I)),
    ("number", re.compile(r"\bhow (?:many|much|old|far|large|big|high)\b|\bwhat (?:percentage|proportion|number|"
                          r"share|rate|rank|ratio)\b|\bwhat is the (?:number|rate|percentage)\b", re.I)),
)
# The unit a date or an age is asked in, when the interrogative says it (哪个月 as 几月, 哪天 as 几号, 多大年纪 as
# 几岁): general question grammar; a year alone does not answer 哪个月.
_GRAIN_ZH: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("月", re.compile(r"哪一?个?月|几月|什么月份")),
    ("日", re.compile(r"哪一?天|哪一?日|几号|几日|(?:什么|哪个)日子|具体日期")),
    ("年", re.compile(r"哪一?年|何年|年份")),
    ("岁", re.compile(r"多大年纪|多大岁数|几岁|多少岁|年龄|多大了")),
)
_GRAIN_EN: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("月", re.compile(r"\b(?:what|which) month\b|\bin what month\b", re.I)),
    ("日", re.compile(r"\b(?:what|which) (?:day|date)\b|\bon what (?:day|date)\b", re.I)),
    ("年", re.compile(r"\b(?:what|which) year\b|\bin what year\b", re.I)),
    ("岁", re.compile(r"\bhow old (?:is|was|were|are) (?:he|she|mr|ms|dr|doctor)\b|\b(?:at )?what age\b", re.I)),
)
# Measure words, grouped where Chinese uses them for the same count (8名 / 8人 / 8位).
_MEASURE_GROUPS = ("名人位", "个家所", "次人次", "台套", "张床", "例", "项", "场", "期", "种", "条", "篇", "倍", "元钱",
                   "层", "分", "天日号", "年", "月", "岁")
_MEASURE_AFTER = re.compile(r"(?:多少|几)(个|名|张|台|次|例|项|场|期|位|家|所|种|人|条|篇|倍|元|层|天|日|号|年|月|钱|"
                            r"岁)")
_NUMERAL = r"[0-9０-９]+(?:[.．][0-9]+)?|[一二三四五六七八九十两百千万亿零〇]+"
_NUMBER = re.compile(rf"(?:{_NUMERAL})\s*(?:余|多|几|万|亿|千|百)?\s*"
                     rf"[个名张台次例项场期位家所种人条篇倍元层分天日年月岁万亿%％]"
                     rf"|[0-9０-９]+(?:[.．][0-9]+)?\s*[%％]|百分之|[0-9０-９]{{2,}}")
_DATE = re.compile(r"[0-9０-９]{4}\s*年|[0-9０-９]{1,2}\s*月|[0-9０-９]{1,2}\s*[日号]|[一二三四五六七八九十]+月|"
                   r"今年|去年|前年|明年|上半年|下半年|年初|年底|年末|春节|除夕|元旦|当天|次日|[0-9]{1,2}[时点]")
_DURATION = re.compile(rf"(?:{_NUMERAL}|半)\s*(?:余|多)?\s*(?:个)?(?:天|日|夜|小时|分钟|年|月|周|星期)")
# a person named beside a role: a surname and one or two more characters (院长李永兵, 主任医师朱西; not 院长负责制,
# 医生飞奔, 护士立即: general Chinese naming, the surname list is the entity layer's), or 洪某
_NAME = rf"[{''.join(sorted(SURNAMES))}][\u4e00-\u9fff]{{1,2}}"
_ROLE_NAME = re.compile(rf"(?:{ROLE_WORDS}){_NAME}|[\u4e00-\u9fff]某")
_ORG = re.compile(r"[\u4e00-\u9fff]{2,12}(?:医院|大学|学院|研究所|研究院|委员会|基金会|协会|学会|公司|集团|中心)")
_TITLE = re.compile(r"《[^《》]{1,40}》|“[^“”]{2,24}”|\"[^\"]{2,24}\"|「[^「」]{2,24}」")
_STOP_ZH = frozenset(
    """的 了 是 在 有 和 与 及 或 也 还 都 就 又 被 把 对 向 从 给 为 以 于 等 其 该 此 这 那 这个 那个 这些 那些
    它 他 她 它们 他们 哪 哪些 哪个 哪家 哪里 什么 怎么 怎样 如何 为什么 多少 几 谁 吗 呢 吧 啊 呀 一共 共 总共
    一下 具体 主要
    到底 究竟 目前 现在 已经 曾经 是否 有没有 没有 可以 能 能够 会 要 需要 进行 开展 情况 方面 医院 中心 哪一年
    哪年 时候 何时 哪天 哪一天 一年 每年 多 大 高 长 哪位 请问 告诉 知道 介绍 关于 所 个 名 张 台 次 项 场 期 位 家
    种 人 年 月 日 天
    段时间 这段时间 那段时间 那时 这时 当时""".split()  # time demonstratives (那段时间 -> 那 / 段时间)
)
_STOP_EN = frozenset(
    """what which who whom whose when where why how many much does did do is are was were be been the a an of in on
    at to for from by with and or but its it their they them this that these those there has have had can could
    would should will any some all about into as than then so such also hospital hospitals people s""".split()
)


# A question's own form: an interrogative, a question mark, or a request for a fact (说出…, Name …). General
# Chinese and English question grammar, not words drawn from known questions.
_QUESTION_ZH = re.compile(r"[?？]|什么|甚么|怎么|怎样|如何|为何|为什么|哪|谁|几|多少|多大|多久|多长|多高|多远|吗|呢|么|"
                          r"是否|有没有|是不是|能否|可否|啥|何|说出|列举|列出|举出|举例|请问|介绍|说明|解释|描述|"
                          r"比较|区别")
_QUESTION_EN = re.compile(r"\b(?:what|which|who|whom|whose|when|where|why|how|name|list|describe|explain|tell)\b|"
                          r"^\s*(?:is|are|was|were|do|does|did|can|could|will|would|should|has|have|had)\b", re.I)


def is_question(text: str) -> bool:
    """True when ``text`` has the form of a question or a request for a fact; "information", "Good morning",
    "测试一下" do not."""
    return bool(_QUESTION_ZH.search(text) or _QUESTION_EN.search(text))


_PERSON_AFTER = re.compile(rf"(?:是|说|讲|同志|先生|女士|老师|博士|{ROLE_WORDS})")


def _named_person(word: str, flag: str, after: list) -> bool:
    """Whether the tagger's ``word`` is a person the question names: a surname and a word (段时间 of 那段时间) only
    beside what names one (刘天明是, 刘天明院长), and not when its last character makes a word with the next one
    (宋将名为: 名为, "named")."""
    if not is_person(word, flag):
        return False
    following = after[0].word if after else ""
    if following and word_frequency(word[-1] + following[0]) >= 10:
        return False
    return not is_common_word(word[1:]) or bool(following and _PERSON_AFTER.match(following))


@dataclass(frozen=True)
class Asked:
    """What a question asks for: the answer ``kind`` (None: no particular type), the ``measure`` word of a
    count, and the attribute ``terms`` (folded Chinese words; for an English question the Chinese
    candidates of each of its content words)."""

    kind: str | None
    measure: str | None
    terms: tuple[tuple[str, ...], ...]
    words: int = 0  # the content words the terms came from (an English word the dictionary cannot render has none)
    # the words the interrogative governs (哪个县 -> 县, 按什么标准 -> 标准, 什么时候开诊 -> 开诊, 题目是什么 -> 题目,
    # which county -> its renderings): what the answer must be *of*; () when the question has none
    focus: tuple[tuple[str, ...], ...] = ()
    people: tuple[str, ...] = ()  # the people a Chinese question names outside the entities' names (张国栋是…)


def _tagger():
    from ..index.entities import _tagger as tagger

    return tagger()


def _counted_en(question: str) -> frozenset[str]:
    """The words of what an English "how many" counts: those right after it, up to the next stop word (how many
    intensive care beds does … -> intensive, care, beds)."""
    m = re.search(r"\bhow\s+many\b(.*)", question, re.I)
    counted: list[str] = []
    for word in re.findall(r"[A-Za-z]+", m.group(1)) if m else ():
        if word.lower() in _STOP_EN:
            break
        counted.append(word.lower())
    return frozenset(counted)


@lru_cache(maxsize=4096)
def asked(question: str, names: tuple[str, ...] = (), cross_lingual: bool = False) -> Asked:
    """What ``question`` asks for; ``names`` are the entity surfaces it names (left out of the terms)."""
    kinds = _KINDS_EN if cross_lingual else _KINDS_ZH
    # 哪几种方式 / 哪几个科室 ask which ones (a list of names), as 哪些 does, not how many
    text = question if cross_lingual else squeeze(fold(question)).replace("哪几", "哪些")
    kind = next((k for k, pattern in kinds if pattern.search(text)), None)
    measure = None
    if not cross_lingual:
        m = _MEASURE_AFTER.search(text)
        measure = m.group(1) if m else None
    if measure is None:
        # the unit a when- or how-old question wants: 哪个月 asks what 几月 asks (a month, not only a year)
        grains = _GRAIN_EN if cross_lingual else _GRAIN_ZH
        measure = next((unit for unit, pattern in grains if pattern.search(text)), None)
    if cross_lingual:
        rest = question
        for name in names:  # as written or in another case (Jingzhou, jingzhou)
            rest = re.sub(re.escape(name), " ", rest, flags=re.IGNORECASE)
        words = [w for w in re.findall(r"[A-Za-z]+", rest) if w.lower() not in _STOP_EN]
        terms = english_terms(" ".join(words), _counted_en(rest)) if words else ()
        n_words = len(content_words(" ".join(words)))
    else:
        rest = text
        for name in sorted(names, key=len, reverse=True):
            rest = rest.replace(name, "，")
        cut = list(_tagger().cut(rest))
        words = [w for w, f in cut
                 if len(w) >= 2 and w not in _STOP_ZH and f[:1] in ("n", "v", "a", "j", "l", "i", "b")
                 and not re.fullmatch(r"[0-9a-z]+", w)]
        terms = tuple((w,) for w in dict.fromkeys(words))
        n_words = len(terms)
        if kind is None and _ENDS_IN_ROLE.search(text) and not INTERROGATIVE_ZH.search(text):  # 区二院院长？
            kind = "person"
        people = tuple(dict.fromkeys(w for i, (w, f) in enumerate(cut) if _named_person(w, f, cut[i + 1 :])))
        return Asked(kind, measure, terms, n_words, tuple((w,) for w in _focus_zh(cut)), people)
    return Asked(kind, measure, terms, n_words, _focus_en(rest))


# The interrogative of a Chinese question (a jieba token starting so), the words it governs and those that
# carry no attribute (copulas, particles, measure words): general question grammar.
_WH_ZH = re.compile(r"^(?:什么|甚么|啥|哪|几|多少|多大|多久|多长|多高|多远|谁|何|第几)")
_NOT_FOCUS = frozenset("是 在 有 为 叫 的 了 呢 吗 啊 呀 吧 么 都 又 还 也 就 到底 究竟 具体 分别 一共 总共 共 主要 "
                       "大概 大约 一下 可以 能 会 要 时候 时间 样 个 名 位 家 种 项 些 一".split())
_NOT_FOCUS_POS = ("u", "p", "c", "y", "x", "r", "m", "d", "e", "o", "q")  # particles, pronouns, numerals, …


def _content(token: str, pos: str) -> bool:
    return (token not in _NOT_FOCUS and not pos.startswith(_NOT_FOCUS_POS)
            and bool(re.search(r"[\u4e00-\u9fff]", token)))


def _focus_zh(cut: list) -> list[str]:
    """The words the first interrogative governs: the nouns right after it (哪个县 -> 县, 多少发热患者 -> 发热,
    患者), or the one verb after it (什么时候开诊 -> 开诊), else the word before it (院长是谁 -> 院长)."""
    at = next((i for i, (w, _) in enumerate(cut) if _WH_ZH.match(w)), None)
    if at is None:
        return []
    after: list[str] = []
    verb = False
    for w, f in cut[at + 1:]:
        if not after and (w in _NOT_FOCUS or f.startswith("q")):
            continue  # 几个 / 哪一 + measure word, then the noun
        if not _content(w, f) or (verb and f.startswith("v")):
            break
        after.append(w)
        verb = verb or f.startswith("v")  # 多少发热患者: the noun after a verb too; 什么时候开诊的: the verb alone
        if len(after) == 2:
            break
    if after:
        return after
    before = next((w for w, f in reversed(cut[:at]) if _content(w, f)), None)
    return [before] if before else []


_WH_EN = re.compile(r"\b(?:which|what)\s+(?:kind|type|sort|number|percentage|proportion|share)?\s*(?:of\s+)?"
                    r"([a-z]+)|\bhow\s+(?:many|much)\s+([a-z]+)", re.I)


def _focus_en(question: str) -> tuple[tuple[str, ...], ...]:
    """The renderings of the noun an English interrogative governs (which county, how many nurses)."""
    m = _WH_EN.search(question)
    word = (m.group(1) or m.group(2)).lower() if m else ""
    if not word or word in _STOP_EN:
        return ()
    return english_terms(word, frozenset({word}))


def focus_share(what: Asked, text: str) -> float:
    """Share of the words the interrogative governs (:attr:`Asked.focus`) that ``text`` says; -1 with none."""
    return term_share(what.focus, text) if what.focus else -1.0


def _measure_group(measure: str) -> str:
    return next((g for g in _MEASURE_GROUPS if measure in g), measure)


_HAN_NUMERAL = re.compile(r"[一二三四五六七八九十两百千万亿零〇]")


@lru_cache(maxsize=65536)
def _plain_numbers(folded: str) -> str:
    """``folded`` with the set phrases that hold a numeral blanked (same length): 四位一体, 一心一意, 三番五次 count
    nothing, though 四位 reads like four people. Set phrases are jieba's: its dictionary's idioms (i) and fixed
    expressions (l)."""
    if not _HAN_NUMERAL.search(folded):
        return folded
    plain = "".join("，" * len(w) if f[:1] in ("i", "l") and _HAN_NUMERAL.search(w) else w
                    for w, f in _tagger().cut(folded))
    return plain if len(plain) == len(folded) else folded


def _counts_only(folded: str) -> str:
    """``folded`` with its dates, times and lengths of time blanked (same length), and the set phrases that hold a
    numeral (:func:`_plain_numbers`): what is left of its numbers count something (2021年8月1日, 3年来 or
    四位一体 answer no 多少; 4000人次 does)."""
    folded = _plain_numbers(folded)
    for pattern in (_DATE, _DURATION):
        folded = pattern.sub(lambda m: "，" * len(m.group()), folded)
    return folded


@lru_cache(maxsize=65536)
def kinds_in(text: str) -> frozenset[str]:
    """The answer types a sentence holds: number (a count: not a date's numbers), date, duration, person,
    place (a place name CC-CEDICT knows), org."""
    from ..glossary import reverse_dictionary

    folded = folded_text(text)
    found = set()
    if _NUMBER.search(_counts_only(folded)):
        found.add("number")
    if _DATE.search(folded):
        found.add("date")
    if _DURATION.search(folded):
        found.add("duration")
    if _ROLE_NAME.search(folded):
        found.add("person")
    if _ORG.search(folded):
        found.add("org")
    if _TITLE.search(folded):
        found.add("title")
    levels = reverse_dictionary().place_levels
    if any(folded[i : i + n] in levels for n in (2, 3) for i in range(len(folded) - n + 1)):
        found.add("place")
    return frozenset(found)


def has_kind(kind: str | None, text: str, people: frozenset[str] = frozenset()) -> bool:
    """True when ``text`` holds an answer of ``kind`` (any text does when the kind is None); ``people``
    are person names the index knows."""
    if kind is None:
        return True
    if kind == "person" and people:
        folded = folded_text(text)
        if any(name in folded for name in people):
            return True
    return kind in kinds_in(text)


def has_measure(measure: str | None, text: str) -> bool:
    """True when ``text`` counts with ``measure`` (or one used alike: 8名 / 8人; any count for 个), or nothing is
    measured."""
    if measure is None:
        return True
    return _count_of(measure).search(_plain_numbers(folded_text(text))) is not None


@lru_cache(maxsize=64)
def _count_of(measure: str) -> re.Pattern[str]:
    """A count with ``measure`` or one used alike (8名 / 8人), its numeral the first group; for 个, the general
    classifier, a count of anything (几个 is answered by 8名, 33人 or 一院三区 alike)."""
    unit = r"[\u4e00-\u9fff]" if measure == "个" else f"[{re.escape(_measure_group(measure))}]"
    return re.compile(rf"({_NUMERAL})\s*(?:余|多)?\s*(?:万|亿|千|百)?\s*{unit}")


def counts_restated(measure: str | None, question: str, sentence: str) -> bool:
    """True when a question counting with ``measure`` (几项, 多少台) is answered by a sentence whose every count of
    that kind the question already states (荆州二医拿的那96项（人）次表彰里，国家级的有几项？ against
    荣获国家、省、市级表彰共96项（人）次): the sentence says the whole the question starts from, not the part it
    asks for; or when the question asks a part of a figure it restates (那83例里面…有几例) and the sentence, giving
    that figure, counts nothing as its part (其中…). False when the sentence counts nothing of that kind, or counts
    something the question does not say."""
    if not sentence:
        return False
    text = _plain_numbers(folded_text(sentence))
    if measure is None:  # How many of the 4309 visits …? against a sentence giving 4309 and no part of it
        whole = _PART_OF_EN.search(question)
        at = text.find(whole.group(1).replace(",", "")) if whole else -1
        return at >= 0 and not re.search(rf"(?:{_PART_MARK.pattern})[^。；;]{{0,16}}?[0-9]", text[at:])
    pattern = _count_of(measure)
    said = {m.group(1) for m in pattern.finditer(text)}
    # the figures the question restates, written in digits with their measure (96项, 6968台): a numeral inside a
    # name (区二院, 三基三严) is no figure
    folded_question = folded_text(question)
    asked = {m.group(1) for m in pattern.finditer(folded_question) if m.group(1)[:1].isdigit()}
    if bool(said) and said <= asked:
        return True
    # a part of a figure it restates (那83例里面确诊的有几例, 那556台介入手术里心血管介入占多少台) against a sentence
    # that gives that figure and counts others beside it (0例轻症转重症; 无创呼吸机107台), none as its part (其中…)
    wholes = [m for m in pattern.finditer(folded_question) if m.group(1)[:1].isdigit()
              and _PART_OF.match(folded_question, m.end())]
    for whole in wholes:
        at = text.find(whole.group(0))
        if at >= 0 and not any(p.start() > at and _PART_MARK.search(text, at, p.start())
                               for p in pattern.finditer(text)):
            return True
    return False


# a figure taken as the whole a part is asked of: 83例里面, 96项（人）次表彰里, 556台介入手术中
_PART_OF = re.compile(r"[^，,。；;？?！!、]{0,10}?(?:里面|里头|里边|之中|当中|其中|里|中)")
_PART_MARK = re.compile(r"其中|包括|包含|含|内有|分别")
_PART_OF_EN = re.compile(r"\bhow\s+many\s+of\s+(?:the|those|these|its|their|all)\s+([0-9][0-9,]*)\b", re.I)


def term_share(terms: tuple[tuple[str, ...], ...], text: str) -> float:
    """Share of the asked attribute terms found in ``text`` (a term counts when any of its candidates, or
    for a Chinese word of three or more characters two thirds of its bigrams, occur); 1.0 when none asked."""
    if not terms:
        return 1.0
    folded = folded_text(text)
    found = 0.0
    for candidates in terms:
        if any(c in folded for c in candidates):
            found += 1
            continue
        word = candidates[0]
        if len(candidates) == 1 and len(word) >= 3:
            grams = [word[i : i + 2] for i in range(len(word) - 1)]
            share = sum(g in folded for g in grams) / len(grams)
            found += share if share >= 0.66 else 0.0
    return found / len(terms)


_KIND_PATTERNS = {"number": _NUMBER, "date": _DATE, "duration": _DURATION, "person": _ROLE_NAME, "org": _ORG,
                  "title": _TITLE}
NEAR_CHARS = 12


def answer_near_terms(what: Asked, text: str) -> float:
    """1.0 when ``text`` has an answer of the asked type within :data:`NEAR_CHARS` characters of an asked
    attribute term (床位703张: the number stands by what was asked), 0.0 when it has none there; 1.0 when the
    question asks for no particular type, or names no attribute."""
    pattern = _KIND_PATTERNS.get(what.kind or "")
    if pattern is None or not what.terms:
        return 1.0
    folded = folded_text(text)
    searched = _counts_only(folded) if what.kind == "number" else folded  # a count is asked: a date is none
    answers = [(m.start(), m.end()) for m in pattern.finditer(searched)]
    if not answers:
        return 0.0
    for candidates in what.terms:
        for term in candidates:
            at = folded.find(term)
            while at >= 0:
                if any(a - NEAR_CHARS <= at + len(term) and at <= b + NEAR_CHARS for a, b in answers):
                    return 1.0
                at = folded.find(term, at + 1)
    return 0.0


def all_terms(terms: tuple[tuple[str, ...], ...], text: str) -> float:
    """1.0 when every asked attribute term (some candidate of each) is in ``text``."""
    folded = folded_text(text)
    return float(all(any(c in folded for c in candidates) for candidates in terms))


_ROLE = re.compile(ROLE_WORDS)
_ROLE_AT_END = re.compile(rf"(?:{ROLE_WORDS})$")


# what asks for the person a Chinese question's role word names: right before it (哪位主任) or right after it
# (主任是谁, 院长叫什么名字)
_DEPUTY_EN = re.compile(r"\b(?:vice|deputy)[\s-]", re.I)
_WHO_BEFORE = r"(?:哪一?位|哪个|什么)"
_WHO_AFTER = r"(?:是|为|叫)?(?:谁|哪一?位|何人|什么人|什么名字|啥名字|叫什么|叫啥|姓什么)"


def asked_roles(what: Asked, question: str | None = None) -> tuple[str, ...]:
    """The posts a "who" question asks about (主任 in 胸外科主任是谁; for an English question every post its word
    renders: director -> 主任, 院长, 局长 …), never an occupation (:data:`OCCUPATIONS`). Given a Chinese
    ``question``, only a role its interrogative stands beside: 区领导 is asked for in 医师节活动哪位区领导参加了,
    not 医师."""
    if what.kind != "person":
        return ()
    folded = folded_text(question) if question and _is_zh(question) else None
    # a deputy asked for (副院长: jieba cuts 副 off; the deputy director, the vice president) is named as one
    deputy_en = folded is None and _DEPUTY_EN.search(question or "") is not None
    roles: list[str] = []
    for candidates in what.terms:
        for c in candidates:
            # a role the term ends in (党委书记, 急诊科主任), not one inside another word (医师节: a day)
            m = _ROLE.fullmatch(c) or (len(candidates) == 1 and _ROLE_AT_END.search(c))
            if m and m.group() in OCCUPATIONS:  # 哪位医生 / which doctor: any doctor named answers, not a post's holder
                continue
            if m and (folded is None or re.search(
                    rf"{_WHO_BEFORE}[\u4e00-\u9fff]{{0,4}}{re.escape(c)}|{re.escape(c)}的?{_WHO_AFTER}"
                    rf"|谁[^，,。；;？?]{{0,10}}{re.escape(c)}"  # 谁在当党委书记 / 谁是区二院的院长
                    rf"|{re.escape(c)}[?？。.！!\s]*$", folded)):  # 区二院院长？
                deputy = (c.endswith(f"副{m.group()}") or deputy_en  # 哪位副区长: a deputy is asked for
                          or (folded is not None and f"副{c}" in folded))
                roles.append(f"副{m.group()}" if deputy else m.group())
        if roles:
            return tuple(dict.fromkeys(roles))
    return ()


def _is_zh(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def names_role(role: str, text: str) -> bool:
    """True when ``text`` names someone in ``role``: the role next to a name (主任张三, 张三主任)."""
    folded = folded_text(text)
    # 党委书记、院长李永兵 / 泌尿外科副主任，副主任医师朱西: the name after the last of the roles one person holds;
    # 副院长、荆州市突出贡献人才、放射介入科学科带头人汪建成: after longer titles, the last one ending in a role;
    # a deputy (副院长汪建成, 陈松副院长) does not hold the role
    title = r"[^，。；：、,;:\s]"
    pattern = (rf"(?<!副){role}(?:[、兼，,](?:[\u4e00-\u9fff]{{0,3}}?(?:{ROLE_WORDS})))*{_NAME}"
               rf"|(?<!副){role}(?:、{title}{{1,12}}){{0,2}}、{title}{{0,10}}?(?:{ROLE_WORDS}){_NAME}"
               rf"|{_NAME}(?<!副){role}(?![\u4e00-\u9fff])")
    return re.search(pattern, folded) is not None
