"""Follow-up questions: turn a question that leans on the conversation into the standalone question searched.

No generative model rewrites anything; the rules below read Chinese (and English) follow-up grammar, the
entities of the index (:mod:`qa.index.entities`) and the earlier turns, and the result is shown to the user
as 理解为 (``understood_as``). The server keeps no state: the client sends the earlier turns with each
question, and each earlier turn is resolved again from the ones before it (string work only, no model call).

* **switch** — ``那荆州一医呢？`` / ``十堰中西医结合医院的呢？`` / ``What about Jingzhou First People's Hospital?`` /
  ``Does Jiangjin District No.2 have one?``: a fragment (``…呢``, ``那…``, ``what about …``, ``and the …``) or a
  question with an anaphor (``one``) that names another entity, or one that names a hospital and asks nothing
  of its own (``区二院有没有？``, ``荆州一医怎么样？``): the previous question again, that entity in place of the
  previous one (a place standing for its one hospital, ``那江津那家呢``, is written as the hospital's name).
  A fragment naming something else (``远程影像呢？``, ``And the radiology department?``): the previous
  question with it in place of the most similar term.
* **pronoun** — ``它/其/该院/这家医院/那里/他/她`` / ``it/its/they/he/she/there``: the pronoun becomes the
  entity the conversation is about; ``它/其/it`` after a question about a part of that hospital
  (``荆州一医卒中中心的…``, ``the Guanju campus of …``) becomes that part; ``他/她`` is the person the previous
  answer named, or, when it named no one, the role the previous question asked about (``荆州一医党委书记``).
  ``其中``, ``其他``, ``应该`` are not pronouns.
* **ellipsis / drill** — no entity and no pronoun (``缓冲病房是用哪个病区改的？``, ``具体是哪一天？``,
  ``怎么让全院职工都能参与？``): the entity the conversation is about is put in front, and when the question
  says little of its own (at most one attribute word), the previous question's attribute words too.
* **shift** — a question that names its own subject, or asks which hospital (``哪家医院…``), is searched as
  it is.
* **that year** — ``那年 / 那一年 / 同年 / 当年 / that year / the same year``, in any of the above, becomes the
  year the latest earlier question (else answer shown) named.

The entity a conversation is about is the subject named by the latest turn that names one, or, when the
latest question named none ("哪家医院建了遗传与生殖实验室？"), the subject of the document its answer came from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..index.entities import BARE_ABBREVIATION, english_name, fast_tokens
from ..text import fold, squeeze
from .attributes import ROLE_WORDS, YEAR, Asked, asked
from .retriever import Retriever

MAX_TURNS = 10
# a person referred to by a demonstrative and a role or occupation: 这位医生, 那位专家, 该书记, 此人 (not 那位患者:
# the person an answer names is its doctor, hardly ever the patient)
_PERSON_REF_ZH = (r"(?:这|那|该)(?:一)?位(?!患者|病人|病患|老人|孩子|产妇)"
                  r"(?:医生|医师|大夫|专家|教授|护士长|护士|书记|院长|主任|老师|同志|领导)?"
                  r"|该(?:医生|医师|专家|教授|护士长|书记|院长|主任)|这个人|那个人|此人")
_PRONOUN_ZH = re.compile(  # 其 and 该 as pronouns, not inside 其中/其他/尤其 or 应该
    rf"{_PERSON_REF_ZH}|该院|该医院|这家医院|那家医院|这所医院|这家|那家|该单位|它们|他们|她们|它|(?<![尤极与])其(?![中他它余实次])|那里|那儿"
    r"|这里|(?<!应)该(?![不是])|(?<![其吉])他(?![人乡])|她"
)
_PRONOUN_EN = re.compile(r"\b(?:it|its|he|his|him|she|her|there|this hospital|that hospital)\b", re.I)
# they / them / that / those: what the previous question was about (the patients, the centres, the work), more
# often than the hospital: kept as written, the previous question's subject and focus added beside it
_DEMONSTRATIVE_EN = re.compile(r"\b(?:they|their|them|those|these|that|this)\b", re.I)
# an English follow-up that goes on from the previous question (And how many …? Also, …): its words and the
# previous question's focus, as for a demonstrative
# a demonstrative standing for what was asked before, at the end of its clause (send out for that?), not a
# determiner (that year)
_THAT_AT_END_EN = re.compile(r"\b(?:that|this|those|these)\b(?=\s*(?:[?.!,;]|$))", re.I)
_CONTINUATION_EN = re.compile(r"^\W*(?:and|also|then|plus)\b", re.I)
_ANAPHOR_EN = re.compile(r"\b(?:one|ones|the same|that too|too|as well)\b", re.I)
_FRAGMENT_ZH = re.compile(
    r"^(?:那么?|还有|至于|换成|再说说|回到|说说)?(?P<x>.{1,24}?)(?:的)?(?:呢|怎么样|如何|情况)?[？?。！!\s]*$"
)
_FRAGMENT_EN = re.compile(
    r"^\s*(?:and\s+)?(?:what|how)\s+about\s+(?P<x>.+?)[?.!\s]*$|^\s*and\s+(?P<y>.+?)[?.!\s]*$", re.I
)
# a part of a hospital (a centre, department, campus, ward, programme …) right after its name, in the
# previous question: what a thing pronoun (它 / 其 / it) then refers to
_UNIT_HEADS_ZH = ("中心|科|室|院区|病区|病房|门诊|基地|平台|工作站|站|部|所|团队|项目|工程|计划|专科|学科|联盟"
                  "|医联体|分院|大楼")
_THING_ZH = re.compile(rf"^的?([\u4e00-\u9fffA-Za-z0-9]{{0,6}}?(?:{_UNIT_HEADS_ZH}))"
                       r"(?=的|是|在|有|最|比|以|于|获|开|如何|怎么|什么|多少|哪|几|[？?，,]"
                       r"|现在|目前|如今|已|还|都|共|一共|曾|近|主要|每|由|被|把|为|与|和|将|能|可|位于|属于)")
_UNIT_HEADS_EN = ("centre|center|department|campus|ward|clinic|unit|base|platform|station|team|project|programme|"
                  "program|plan|laboratory|lab|building|branch|alliance|consortium")
_THING_EN_OF = re.compile(rf"\bthe\s+((?:[\w-]+\s+){{0,3}}?(?:{_UNIT_HEADS_EN})s?)\s+(?:of|at)\s+$", re.I)
_THING_EN_S = re.compile(rf"'s\s+((?:[\w-]+\s+){{0,3}}?(?:{_UNIT_HEADS_EN})s?)\b", re.I)
# a role right after the hospital's name in the previous question (荆州一医党委书记说…): who 他 / 她 is
# when the answer shown named no one
_ROLE_ZH = re.compile(rf"^的?([\u4e00-\u9fff]{{0,6}}?(?:{ROLE_WORDS}))")
# 这个科 / 该中心 / 那个院区: the unit of that kind the conversation last named (泌尿外科 in the answer shown)
_THIS_UNIT_ZH = re.compile(r"(?:这个|那个|这|那|该)(科室|科|中心|院区|病区|病房|门诊|部门|团队|平台|基地|实验室|工作室"
                           r"|学科|专科|项目|工程)")
_THING_PRONOUN = re.compile(r"它|其|it|its", re.I)
_PERSON_PRONOUN = re.compile(rf"他|她|he|she|him|his|her|{_PERSON_REF_ZH}", re.I)
_ASKS_ZH = re.compile(r"多少|几|什么|哪|谁|怎么|如何|是否|吗|有没有|多久|多长|多大|多远|多高|为何|为什么|啥|咋"
                      r"|(?:了|过)没有?[？?]?$")  # 买了没有: a yes-or-no question of its own
_ASKS_EN = re.compile(r"\b(?:how|what|which|who|when|where|why|is|are|was|were|did|does|do)\b", re.I)
_LATIN_TERM = re.compile(r"(?<![A-Za-z])[A-Z][A-Z0-9-]*[A-Z0-9](?![A-Za-z])")  # ECMO, PET-CT, GCP: acronyms
_QUOTED = re.compile(r"[“\"「『]([^”\"」』]{2,16})[”\"」』]")
# a place followed by one of these is the region it names (邵阳地区, 荆州全市), not the one hospital it otherwise
# stands for in a follow-up (邵阳那家呢？)
_REGION_AFTER = re.compile(r"地区|一带|境内|周边|范围|当地|全市|全省|全区|市民|人民(?!医院)|各地|以外|之外")
_SHORT = 8  # a follow-up this short (characters, punctuation left out) says too little of its own


@dataclass(frozen=True)
class Turn:
    """An earlier turn: the question asked and the answer text the user was shown (None: no answer)."""

    question: str
    answer: str | None = None


@dataclass(frozen=True)
class Understood:
    """How a question was understood: the standalone ``question`` searched, the earlier turn it drew on
    (0-based, oldest first; None when it needed no history), the entities the conversation carried into
    it (ids), and ``how``: none, switch, pronoun, ellipsis, drill or shift."""

    question: str
    drew_on: int | None = None
    entities: tuple[str, ...] = ()
    how: str = "none"
    names: tuple[str, ...] = ()  # the carried entities' names, for display
    typed: str = ""  # the question as the user typed it
    part: str = ""  # a drill's part of the hospital (荆州一医关沮院区), carried to the next follow-up


# a hospital of the conversation by its order (那第一家现在有多少党员？ / and the first one?): 第一家 followed by
# no noun of its own (全市第一家标准化发热门诊 is the first of its kind, not a reference)
_NTH_ZH = re.compile(r"(第[一二三四五]家|头一家|前一家|上一家|前面那家|刚才那家)(?:医院)?"
                     r"(?=$|[^\u4e00-\u9fff]|的|呢|现在|目前|有|是|一共|总共|共|在|也|还|那边|这边|又|当时|呀|啊|吗)")
_NTH_EN = re.compile(r"\b(?:the\s+)?(first|second|third|previous|other|former|earlier)\s+(?:one|hospital)\b", re.I)
# "sorry, I meant Shaoyang Central Hospital": the previous question, of the hospital meant (不是，我问的是区二院 is a
# bare switch already: nothing asked of its own)
_CORRECTION_EN = re.compile(r"\bI\s+(?:meant|mean|was\s+asking\s+about|am\s+asking\s+about)\b|\bI'm\s+asking\s+about\b",
                            re.I)
_NTH = {"第一家": 1, "头一家": 1, "第二家": 2, "第三家": 3, "第四家": 4, "第五家": 5, "first": 1, "second": 2,
        "third": 3}


_REFERS_BACK_ZH = re.compile(r"这|那|其中|其他|其余|剩下|另外|里面|里|该|此|上述|加上")
_UNIT_NOUNS = frozenset("人 人次 例 次 名 位 天 年 个 项 家 台 张 元 钱".split())


def _counts_its_own(question: str) -> bool:
    """Whether a Chinese count names what it counts, beside the count and without pointing back (ECMO有几台,
    十星级党支部几个, 多少张床, 几台呼吸机): then that, not the previous question's attribute, is asked about. Not
    采了多少人次 (what was collected is the previous question's), 术后几天能下地, 这83例里确诊的有几个."""
    if _REFERS_BACK_ZH.search(question):
        return False
    tokens = [(w, f) for w, f in fast_tokens(question) if f != "x" and w not in "吗呢啊呀？?"]
    at = next((i for i, (w, f) in enumerate(tokens) if f == "m" and w.startswith(("几", "多少"))), None)
    if at is None:
        return False
    before = at - 1
    while before >= 0 and tokens[before][0] in ("有", "一共", "总共", "共", "共有", "总共有"):
        before -= 1
    if before >= 0 and tokens[before][1] in ("n", "nz", "j", "eng", "l") and tokens[before][0] not in _UNIT_NOUNS:
        return True
    measured = at + 1 < len(tokens) and tokens[at + 1][1] == "q"  # 多少|张|床: a one-character noun after a measure
    after = at + 1 + measured
    return (after == len(tokens) - 1 and tokens[after][1] in ("n", "nz", "eng")
            and tokens[after][0] not in _UNIT_NOUNS and (measured or len(tokens[after][0]) >= 2))


def _is_zh(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


def _put(question: str, pronoun: re.Match, name: str) -> str:
    """``question`` with ``pronoun`` replaced by ``name``; a possessive (its / his) becomes ``name's`` when the
    name is written in English (荆州一医's matched worse than 荆州一医 in English text: the dev3 conversations)."""
    possessive = pronoun.group().lower() in ("its", "his") and not _is_zh(name)
    said = f"{name}'s" if possessive else name
    return question[: pronoun.start()] + said + question[pronoun.end():]


# a time a switch brings (荆州二医疫情最难的那四十多天里呢？ after 区二院在2022年总共开展了多少台次手术？): it takes
# the place of the previous question's year, which would otherwise be asked of the new hospital
_TIME_ZH = re.compile(r"(?:年|月|天|日|周|期间|时期|时候|之际|以来|前后|里)$")
_YEAR_PHRASE_ZH = re.compile(r"(?:在|于)?(?:19|20)[0-9]{2}年(?:全年|上半年|下半年|度)?")


def _another_time(switched: str, brought: str) -> str:
    """``switched`` with its year phrase replaced by the time phrase a switch fragment ``brought``, if any."""
    brought = re.sub(r"^(?:那边|这边|那家|这家|的)+|[的呢？?\s]+$", "", brought)
    if len(brought) < 2 or not _TIME_ZH.search(brought) or not _YEAR_PHRASE_ZH.search(switched):
        return switched
    return _YEAR_PHRASE_ZH.sub(brought, switched, count=1)


def _owns_a_part(after: str, zh: bool) -> bool:
    """Whether a possessive pronoun is followed by a part of a hospital (its stroke center, 它的卒中中心): then it
    stands for the hospital that has the part, not for the part the previous question was about."""
    if zh:
        return re.match(rf"的?[\u4e00-\u9fffA-Za-z0-9]{{0,6}}?(?:{_UNIT_HEADS_ZH})", after) is not None
    return re.match(rf"\s+(?:[\w-]+\s+){{0,3}}?(?:{_UNIT_HEADS_EN})s?\b", after, re.I) is not None


# "that year": the year the conversation last named (那年 / 那一年 / 同年 / 当年 / in that year / the same year)
_THAT_YEAR_ZH = re.compile(r"那一?年|同一?年|当年|这一年")
_THAT_YEAR_EN = re.compile(r"\b(?:in\s+)?(?:that|the\s+same)\s+year\b", re.I)


def _dated(understood: Understood, states: list) -> Understood:
    """``understood`` with a "that year" written as the year the conversation last named: in the latest earlier
    question that names one, else in the latest answer shown that does (2021年荆州一医… then "And how did its
    visits change that year?"). Unchanged when no earlier turn names a year."""
    text = understood.question
    anaphor = _THAT_YEAR_EN.search(text)
    zh = anaphor is None
    anaphor = anaphor or _THAT_YEAR_ZH.search(text)
    if anaphor is None or not states:
        return understood
    latest_first = range(len(states) - 1, -1, -1)
    texts = [(i, states[i][0].question) for i in latest_first] + [(i, states[i][3] or "") for i in latest_first]
    found = next(((i, m) for i, earlier in texts if (m := YEAR.search(earlier))), None)
    if found is None:
        return understood
    position, said = found
    year = f"{said.group(1)}年" if zh else f"in {said.group(1)}"
    drew_on = understood.drew_on if understood.drew_on is not None else position
    return replace(understood, question=text[: anaphor.start()] + year + text[anaphor.end():], drew_on=drew_on)


def _bare(text: str) -> str:
    return re.sub(r"[\s？?！!。，,、：:；;“”\"'‘’（）()]", "", text)


class Resolver:
    """Resolves follow-ups against one retriever's entities."""

    def __init__(self, retriever: Retriever) -> None:
        self.retriever = retriever
        self.table = retriever.entities

    # ---------------------------------------------------------------- the conversation's state

    def _subjects(self, question: str) -> list[tuple[str, str]]:
        """(surface, entity id) of the organisations and people ``question`` names; a place stands for the
        one subject of the documents that bears its name (回到江津 → 江津区第二人民医院)."""
        return [(surface, eid) for surface, eid, _ in self._named(question)]

    def _named(self, question: str) -> list[tuple[str, str, bool]]:
        """(surface, entity id, whether the surface only stands for the entity: a place standing for its one
        subject, or a bare numbered abbreviation (二医, 一医); such a surface is written as the entity's name)."""
        out = []
        for surface, eid in self.retriever.mentions(question).spans:
            entity = self.table.by_id[eid]
            if entity.kind in ("org", "person"):
                out.append((surface, eid, entity.kind == "org" and BARE_ABBREVIATION.fullmatch(surface) is not None))
            elif entity.kind == "place":
                if _REGION_AFTER.match(question, question.find(surface) + len(surface)):
                    continue  # 邵阳地区第一个…: the region, not its hospital
                owners = [e for e in self.table.subjects() if e.place == entity.name]
                if len(owners) == 1:
                    out.append((surface, owners[0].id, True))
        return out

    def _is_subject(self, eid: str) -> bool:
        entity = self.table.by_id.get(eid)
        return bool(entity and entity.main_of)

    def _answer_subject(self, answer: str | None) -> str | None:
        """The main subject of the document an answer text came from."""
        row = self._answer_row(answer)
        if row is None:
            return None
        main = self.table.main_entity(self.retriever.index.passages[row].doc_id)
        return main.id if main else None

    def _answer_row(self, answer: str | None) -> int | None:
        """The row of the passage an answer shown came from, or None."""
        needle = squeeze(fold(answer or ""))[:40]
        return self.retriever.passage_with(needle) if len(needle) >= 4 else None

    def _asked(self, text: str) -> Asked:
        """What ``text`` asks for, the entities it names left out of its terms."""
        named = tuple(s for s, _ in self.retriever.mentions(text).spans)
        return asked(text, named, not _is_zh(text))

    def resolve(self, question: str, history: Sequence[Turn]) -> Understood:
        """The standalone form of ``question`` after ``history`` (oldest first, at most :data:`MAX_TURNS`)."""
        history = list(history)[-MAX_TURNS:]
        # (understood, topic, surfaces, the answer shown)
        states: list[tuple[Understood, str | None, dict[str, str], str | None]] = []
        topic: str | None = None
        surfaces: dict[str, str] = {}  # entity id -> how the user wrote it (zh / en), latest first
        for i, turn in enumerate(history):
            understood = self._one(turn.question, states, topic, surfaces, i)
            named = self._named(understood.question)
            for surface, eid, via_place in named:
                if not (via_place and _is_zh(surface)):  # 江津 stands for the hospital, not a name to write it by
                    surfaces[f"{eid}:{'zh' if _is_zh(surface) else 'en'}"] = surface
            if named:
                topic = named[0][1]
            elif understood.how == "shift" or not understood.entities:
                topic = self._answer_subject(turn.answer) or topic
            states.append((understood, topic, dict(surfaces), turn.answer))
        return self._one(question, states, topic, surfaces, len(history))

    def _one(self, question: str, states: list, topic: str | None, surfaces: dict[str, str],
             position: int) -> Understood:
        return replace(_dated(self._resolved(question, states, topic, surfaces, position), states), typed=question)

    # ---------------------------------------------------------------- one question

    def _surface(self, eid: str, zh: bool, surfaces: dict[str, str]) -> str:
        key = f"{eid}:{'zh' if zh else 'en'}"
        if key in surfaces:
            return surfaces[key]
        entity = self.table.by_id[eid]
        if not zh:
            if f"{eid}:zh" in surfaces:
                return surfaces[f"{eid}:zh"]
            english = english_name(entity)  # never written by the user (the subject of an answer)
            if english and eid in self.retriever.mentions(english).entities:
                return english
        return entity.short_name

    def _resolved(self, question: str, states: list, topic: str | None, surfaces: dict[str, str],
                  position: int) -> Understood:
        if not states:
            return Understood(question)
        prev = states[-1][0].question
        last = len(states) - 1
        zh = _is_zh(question)
        question = self._nth_hospital(question, states, zh, surfaces)
        named = self._named(question)
        what = asked(question, tuple(s for s, _, _ in named), not zh)
        if what.kind == "org":  # 哪家医院… / which hospital…: it asks for the entity itself
            return Understood(question, None, (), "shift")
        fragment = self._fragment(question)
        pronoun = (_PRONOUN_ZH if zh else _PRONOUN_EN).search(question)
        if pronoun is not None and pronoun.group() == "IT":  # which IT systems: information technology, not "it"
            pronoun = _PRONOUN_EN.search(question, pronoun.end())
        if named and pronoun is not None and topic is not None and not any(self._is_subject(e) for _, e, _ in named):
            named = []  # What is Zhu Xi's position there?: a person named, the hospital still a pronoun
        unit = _THIS_UNIT_ZH.search(question) if zh and topic is not None and not named else None
        if unit is not None:
            said = self._last_unit(unit.group(1), states)
            if said is not None:  # 这个科都擅长看哪些病？ after an answer about 泌尿外科's 朱西
                name = self._surface(topic, zh, surfaces)
                said = said if name in said else f"{name}{said}"
                return Understood(question[: unit.start()] + said + question[unit.end():], last, (topic,),
                                  "pronoun")
        if named:
            surface, eid, via_place = named[0]
            anaphor = not zh and _ANAPHOR_EN.search(question) is not None
            # 荆州一医也有吗？ / 区二院有没有？ / 荆州一医怎么样？ / 那 Shaoyang 那边一共多少个？: no word of its own
            rest = re.sub(r"^(?:那边|这边|那家|这家|那里|的)", "", _bare(question.replace(surface, "", 1)).lstrip("那"))
            bare_switch = (self._is_subject(eid) and not what.terms and len(rest) <= 7
                           and not re.search(r"[A-Za-z]{2,}", rest))  # 邵阳市中心医院有ECMO吗？ asks of its own
            corrected = not zh and self._is_subject(eid) and _CORRECTION_EN.search(question) is not None
            if fragment is not None or anaphor or bare_switch or corrected:  # 那荆州一医呢？ / Does Jiangjin No.2 …?
                current = {} if via_place and zh else {f"{eid}:{'zh' if zh else 'en'}": surface}
                switched = self._switch(prev, states[-1][1], eid, {**surfaces, **current}, states[-1][2])
                if zh and fragment is not None:
                    switched = _another_time(switched, fragment.replace(surface, "", 1))
                return Understood(switched, last, (eid,), "switch")
            if via_place and zh:  # 邵阳那家有ECMO吗？: the place stands for its one hospital, written by name
                at = question.find(surface)
                rest = re.sub(r"^(?:那家医院|这家医院|那家|这家|那边|这边|的医院|医院)", "",
                              question[at + len(surface):])
                text = question[:at] + self.table.by_id[eid].short_name + rest
                return Understood(text, None, (eid,), "shift")
            return Understood(question, None, (), "shift")
        if topic is None:
            if fragment is not None:
                return Understood(self._replace_term(prev, fragment), last, (), "ellipsis")
            return Understood(question)
        name = self._surface(topic, zh, surfaces)
        if pronoun is not None and _PERSON_PRONOUN.fullmatch(pronoun.group()):
            person = next((p for state in reversed(states)  # the latest answer about this hospital naming one
                           if state[1] == topic and (p := self._answered_person(state[3], state[0].question))),
                          None)
            if person is not None:  # 他 after 区二院的院长是谁？, answered with 李永兵: 李永兵
                text = _put(question, pronoun, person)
                return Understood(text if name in text else (f"{name}{text}" if zh else f"{text} ({name})"), last,
                                  (topic,), "pronoun")
            role = self._role(prev, topic) if zh else None
            if role is not None:  # 他叫什么？ after 荆州一医党委书记说…？, answered without a name: that 党委书记
                return Understood(question[: pronoun.start()] + role + question[pronoun.end():], last, (topic,),
                                  "pronoun")
            pronoun = None  # he / 他 is not the hospital: the question is read as a drill below
        if pronoun is not None:
            thing = (self._thing(prev, topic) if _THING_PRONOUN.fullmatch(pronoun.group())
                     and not _owns_a_part(question[pronoun.end():], zh) else None)
            if thing is not None:  # 它 after 荆州一医卒中中心的…: the centre, not the hospital
                return Understood(_put(question, pronoun, thing), last, (topic,), "pronoun")
            text = _put(question, pronoun, f"at {name}" if pronoun.group().lower() == "there" else name)
            # short, asking nothing of its own, or pointing back besides (How many staff did it send out for that?)
            if len(_bare(question)) <= _SHORT or not what.terms or (
                    not zh and _THAT_AT_END_EN.search(question[pronoun.end():]) is not None):
                focus = self._focus(prev, topic)
                text = f"{focus}{text}" if zh else (f"{text} ({focus})" if focus else text)  # never "()"
            return Understood(text, last, (topic,), "pronoun")
        if fragment is not None:
            return Understood(self._replace_term(prev, fragment), last, (topic,), "ellipsis")
        carries_focus = not zh and any(p.search(question) is not None  # Which ones? / Does it have one too?
                                       for p in (_DEMONSTRATIVE_EN, _CONTINUATION_EN, _ANAPHOR_EN))
        if len(_bare(question)) <= _SHORT or len(what.terms) <= 1 or carries_focus:
            part = self._part(states[-1][0], topic)  # 荆州一医卒中中心 when it was about that part
            about = part or name
            # a count of something the follow-up names itself (ECMO有几台, 十星级党支部几个, 多少张床): the hospital or
            # its part carried, not the previous question's attribute (牌子 of 啥牌子的 before ECMO有几台)
            own = zh and what.measure is not None and _counts_its_own(question)
            focus = "" if own else self._focus(self._focus_source(states[-1][0]), topic,
                                               leave_out=about + question if zh else "")  # 病人 once
            text = f"{about}{focus}{question}" if zh else f"{question} ({about}; {focus})"
            return Understood(text, last, (topic,), "drill", part=part or "")
        text = f"{name}{question}" if zh else f"{question} ({name})"
        return Understood(text, last, (topic,), "ellipsis")

    def _nth_hospital(self, question: str, states: list, zh: bool, surfaces: dict[str, str]) -> str:
        """``question`` with a hospital referred to by its order in the conversation (那第一家 / 上一家 / the first
        one / the other one) written by its name, when two or more of the documents' subjects were talked about;
        the question as typed otherwise."""
        order: list[str] = []  # the subjects talked about, first mention first
        for state in states:
            if state[1] is not None and self._is_subject(state[1]) and state[1] not in order:
                order.append(state[1])
        if len(order) < 2:
            return question
        match = (_NTH_ZH if zh else _NTH_EN).search(question)
        if match is None:
            return question
        word = match.group(1).lower()
        if word in _NTH:
            if _NTH[word] > len(order):
                return question
            eid = order[_NTH[word] - 1]
        else:  # 上一家 / the previous one / the other one: the one before the hospital now talked about
            current = states[-1][1]
            earlier = [e for e in order if e != current]
            if not earlier:
                return question
            eid = earlier[-1]
        before = question[: match.start()]
        if zh and before.strip() in ("那", "那么"):  # 那第一家…: the question, of that hospital, without its 那
            before = ""
        return before + self._surface(eid, zh, surfaces) + question[match.end():]

    def _answered_person(self, answer: str | None, question: str = "") -> str | None:
        """The person an answer named (李永兵 in 院长李永兵讲廉政党课), else, when its question asked who, the one its
        passage names nearest to it (哪位医生…？ answered with a sentence about the operation, beside 朱西), if any."""
        if not answer:
            return None
        for surface, eid in self.retriever.mentions(answer).spans:
            if self.table.by_id[eid].kind == "person":
                return surface
        passage = self._passage_of(answer) if question and self._asked(question).kind == "person" else None
        if passage is None:
            return None
        folded = squeeze(fold(passage))
        at = folded.find(squeeze(fold(answer))[:40])
        people = [(abs(where - at), surface) for surface, eid in self.retriever.mentions(passage).spans
                  if self.table.by_id[eid].kind == "person" and (where := folded.find(surface)) >= 0]
        return min(people)[1] if people else None

    def _passage_of(self, answer: str | None) -> str | None:
        """The text of the passage an answer shown came from."""
        row = self._answer_row(answer)
        return self.retriever.index.passages[row].text if row is not None else None

    def _last_unit(self, head: str, states: list) -> str | None:
        """The unit (department, centre, campus …) of kind ``head`` (科 / 中心 …) the conversation named last:
        in the latest earlier question, then the answer shown, and so back."""
        head = "科" if head == "科室" else head  # a 科室 is written …科 (泌尿外科); a 中心 …中心
        for understood, topic, _, answer in reversed(states):
            thing = self._thing(understood.question, topic) if topic else None
            said = (self._unit_in(understood.question, head)
                    or (thing if thing is not None and thing.endswith(head) else None)
                    or self._unit_in(answer, head) or self._unit_in(self._passage_of(answer), head))
            if said:
                return said
        return None

    def _unit_in(self, text: str | None, head: str) -> str | None:
        """The last unit of kind ``head`` that ``text`` names, or None."""
        units = [s for s, e in self.retriever.mentions(text or "").spans
                 if self.table.by_id[e].kind == "unit" and s.endswith(head)]
        return units[-1] if units else None

    def _part(self, prev: Understood, topic: str) -> str | None:
        """The part of the hospital the previous question was about (:meth:`_thing`), or the one a drill
        carried into it (多少张床？ after 荆州一医的关沮院区…: still 关沮院区 at the next turn)."""
        return self._thing(prev.question, topic) or (prev.part if prev.part and prev.entities == (topic,) else None)

    def _role(self, prev: str, topic: str) -> str | None:
        """The hospital's name and the role the previous (Chinese) question named right after it
        (荆州一医党委书记), or None."""
        for surface, eid in self._subjects(prev):
            if eid == topic and surface in prev:
                m = _ROLE_ZH.match(prev[prev.index(surface) + len(surface):])
                return f"{surface}{m.group(1)}" if m else None
        return None

    def _thing(self, prev: str, topic: str) -> str | None:
        """The part of the hospital the previous question was about, with the hospital's name, when it was
        about one (荆州一医卒中中心的… / the Guanju campus of Jingzhou First People's Hospital): what 它 / it
        then stands for. None when it was about the hospital itself."""
        for surface, eid in self._subjects(prev):
            if eid != topic or surface not in prev:
                continue
            after = prev[prev.index(surface) + len(surface):]
            if _is_zh(prev):
                m = _THING_ZH.match(after)
                return f"{surface}{m.group(1)}" if m else None
            before = prev[: prev.index(surface)]
            m = _THING_EN_OF.search(before)
            if m:
                return f"the {m.group(1)} of {surface}"
            m = _THING_EN_S.match(after)
            return f"{surface}'s {m.group(1)}" if m else None
        return None

    def _fragment(self, question: str) -> str | None:
        """X of a fragment follow-up (那荆州一医呢？ / 远程影像呢 / What about X? / And the X?), else None."""
        text = question.strip()
        if _is_zh(text):
            if not re.search(r"呢[？?。！!\s]*$|^(?:那么?|还有|至于|换成|回到)", text) or len(_bare(text)) > 26:
                return None
            m = _FRAGMENT_ZH.match(text)
            if not m:
                return None
            x = re.sub(r"^(?:那么?|还有|至于|换成|回到)", "", m.group("x")).rstrip("的")
            if _ASKS_ZH.search(x) or re.search(r"[，,；;]", x):
                return None  # 回到江津，员工满意度提升了多少？ asks a question of its own
            return x or None
        m = _FRAGMENT_EN.match(text)
        if not m:
            return None
        x = (m.group("x") or m.group("y") or "").strip()
        if _ASKS_EN.search(x):
            return None  # And how many expert consultations were organised? asks a question of its own
        return re.sub(r"^the\s+", "", x, flags=re.I) or None

    def _switch(self, prev: str, prev_topic: str | None, eid: str, surfaces: dict[str, str],
                prev_surfaces: dict[str, str]) -> str:
        """The previous question about ``eid`` instead of the entity it was about (``eid`` written as the
        user wrote it, in the previous question's language when the user wrote it so)."""
        prev_zh = _is_zh(prev)
        new_name = self._surface(eid, prev_zh, surfaces)
        subjects = self._subjects(prev)
        if any(old == eid for _, old in subjects) and not any(old != eid and self._is_subject(old)
                                                               for _, old in subjects):
            return prev  # it was about ``eid`` already (十堰那家 twice): never the name written twice
        for surface, old in subjects:
            if old != eid and surface in prev:
                return prev.replace(surface, new_name)
        if prev_topic and prev_topic != eid:
            old_name = self._surface(prev_topic, prev_zh, prev_surfaces)
            if old_name in prev:
                return prev.replace(old_name, new_name)
        return f"{new_name}{prev}" if prev_zh else f"{prev} ({new_name})"

    def _terms(self, question: str) -> list[str]:
        named = tuple(s for s, _ in self.retriever.mentions(question).spans)
        what = self._asked(question)
        if _is_zh(question):
            # a phrase the user quoted is one term (“三降一合理”, not 合理), and an interrogative (干什么) is none
            quoted = [squeeze(fold(q)) for q in _QUOTED.findall(question)]
            words = [t[0] for t in what.terms if not _ASKS_ZH.search(t[0]) and not any(t[0] in q for q in quoted)]
            # and an acronym outside the names that the documents write (有没有ECMO: ECMO, which 几台？ then counts;
            # not ICU, which they never write: carried, it would make every later turn ask of an unknown name)
            latin = [w for w in _LATIN_TERM.findall(question)
                     if not any(w in s for s in named) and not any(w.lower() in t for t in [*quoted, *words])
                     and self.retriever.corpus_has(squeeze(fold(w)))]
            folded = squeeze(fold(question))
            found = list(dict.fromkeys([*quoted, *words, *latin]))
            return sorted(found, key=lambda t: (folded.find(squeeze(fold(t))) % (len(folded) + 1)))
        rest = question
        for surface in sorted(named, key=len, reverse=True):
            rest = rest.replace(surface, " ")
        return [w for w in re.findall(r"[A-Za-z][\w'-]+", rest) if w.lower() not in _EN_FUNCTION]

    def _focus_source(self, prev: Understood) -> str:
        """Where the previous question's attribute words are read: what the user typed, when it was itself a
        follow-up with attribute words of its own (多少张床？ after a question about 关沮院区's 性质: 床, not 性质 and
        床, and not every earlier turn's words piled up), else the question it was understood as. Chinese only:
        an English follow-up (And how many …? With how many staff?) goes on from all that was asked before."""
        typed = prev.typed
        if (prev.how in ("drill", "ellipsis", "pronoun") and _is_zh(typed) and _is_zh(prev.question)
                and self._terms(typed)):
            return typed
        return prev.question

    def _focus(self, prev: str, topic: str | None, leave_out: str = "") -> str:
        """The previous question's attribute words (what it was about, its entity left out), but those already
        in ``leave_out`` (the part of the hospital written before them: 荆州一医观井院区, not 观井院区 twice)."""
        terms = [t for t in self._terms(prev) if t not in leave_out]
        return ("" if _is_zh(prev) else " ").join(terms) if terms else ""

    def _replace_term(self, prev: str, x: str) -> str:
        """The previous question with ``x`` in place of its most similar attribute term (shared characters,
        or the same last character: 检验科 / 呼吸内科); with none similar, ``x`` added in front."""
        zh = _is_zh(prev)
        terms = self._terms(prev)
        if zh and _is_zh(x):
            scored = [(len(set(t) & set(x)) + (1 if t[-1] == x[-1] else 0), t) for t in terms]
            scored = [s for s in scored if s[0] > 0]
            if scored:
                best = max(scored)[1]
                return prev.replace(best, x, 1)
            return f"{x}，{prev}"
        if not zh and not _is_zh(x):
            words = x.split()
            head = words[-1].lower() if words else ""
            m = re.search(rf"((?:\b[\w'-]+\s+){{0,2}}{re.escape(head)}s?)\b", prev, re.I) if head else None
            if m and head not in _EN_FUNCTION:
                return prev[: m.start()] + x + prev[m.end():]
            return f"{prev} ({x})"
        return f"{x} {prev}"


_EN_FUNCTION = frozenset(
    """what which who whom whose when where why how many much does did do is are was were be the a an of in on at
    to for from by with and or its it their they them this that has have had can could would should will about
    during after before""".split()
)


def resolve(retriever: Retriever, question: str, history: Sequence[Turn]) -> Understood:
    """The standalone form of ``question`` given the earlier turns (see the module docstring)."""
    if not history:
        return Understood(question)
    understood = Resolver(retriever).resolve(question, history)
    names = tuple(retriever.entities.by_id[e].name for e in understood.entities if e in retriever.entities.by_id)
    return replace(understood, names=names)
