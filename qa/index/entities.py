"""The named things the documents are about: organisations, places, people and units (departments, centres).

Built at index time from the documents themselves and stored beside the index as ``entities.json``; listed by
``qa entities`` and ``GET /api/entities``. The search stage reads it to ground an answer in the entity a
question names (a passage about another hospital is never a confident answer) and the conversation stage to
carry the entity a follow-up refers to.

How entities are found, per document (folded text, whitespace removed, jieba part-of-speech tokens):

* **Organisations**: a token that ends in an institution head (医院, 大学, 研究所, …) or is a numbered
  abbreviation (二医, 一院), extended to the left over name parts (places, names, ordinals 第一, admin words
  市/区, short nouns), and kept only when some part is a *name* (a place, an organisation or other proper
  noun, an abbreviation, an ordinal or a leading admin word: 市中心医院, 区二院): 公立医院 or 定点收治医院 are
  descriptions, not names. Declared short forms (以下简称“区二院”) are aliases of the name before them.
* **Aliases**: in one document, a shorter mention whose characters appear in order in a longer one with
  the same head is the same organisation (荆州二医 ⊂ 荆州市第二人民医院, 区二院 ⊂ 江津区第二人民医院). A name that
  starts with an admin word (市中心医院) is qualified by the document's own city (邵阳市中心医院).
* **Places**: place tokens that CC-CEDICT knows as proper nouns (or that end in an admin word), suffix dropped.
* **People**: person tokens of two or three characters starting with a common surname that CC-CEDICT does
  not list as an ordinary word, and ``X某``.
* **Units**: tokens ending in 中心, 科, 门诊, 实验室, 病区 and the like (胸痛中心, 呼吸内科).

Each entity records the documents that mention it (with counts), its passages, and whether it is the main
subject of a document (the organisation a document mentions most). English names are matched through the
pinyin of the place in the name, its ordinal and the CC-CEDICT glosses of its other parts
("Jingzhou No.2 Hospital" → 荆州市第二人民医院).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from ..text import fold, squeeze

ENTITIES_FILE = "entities.json"
FORMAT = 1
ORG_HEADS = (
    "医院", "卫生院", "保健院", "医学院", "大学", "学院", "学校", "中学", "小学", "研究院", "研究所", "科学院",
    "委员会", "卫健委", "政府", "公司", "集团", "银行", "基金会", "协会", "学会", "出版社", "电视台", "博物馆",
    "图书馆",
)
UNIT_SUFFIXES = ("中心", "内科", "外科", "科", "门诊", "实验室", "病区", "研究室", "工作站", "基地", "病房")
ADMIN = "省市区县州镇乡"
ORDINAL_DIGITS = "一二三四五六七八九十"
MAX_NAME = 20
# The hundred-odd most common Chinese surnames (single characters), for telling names from words.
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜"
    "崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤匡温庞"
)
_NAME_POS = frozenset({"ns", "nt", "nz", "nr", "nrt", "j"})
_DECLARED = re.compile(r"(?:以下)?简称[“\"「『]([^”\"」』]{2,10})[”\"」』]")
_ORDINAL = re.compile(rf"第?[{ORDINAL_DIGITS}]+")


@dataclass
class Entity:
    """One named thing and where the documents mention it."""

    id: str
    name: str  # the fullest form, folded (simplified Chinese)
    kind: str  # "org", "place", "person" or "unit"
    aliases: list[str]  # every surface form, folded, longest first (the name included)
    docs: dict[str, int]  # doc_id -> mentions
    main_of: list[str] = field(default_factory=list)  # the documents this is mainly about
    place: str = ""  # for an organisation: the place in its name (荆州)
    ordinal: int = 0  # for an organisation: 二 in 荆州市第二人民医院
    english: list[str] = field(default_factory=list)  # English words that may name it (jingzhou, people, …)

    @property
    def mentions(self) -> int:
        return sum(self.docs.values())

    @property
    def short_name(self) -> str:
        """How a question writes it: its shortest alias of four or more characters that keeps its place
        (荆州一医; 十堰市中西医结合医院, not 市中西医结合医院, which could be any city's), else its name."""
        names = [a for a in self.aliases if len(a) >= 4 and (not self.place or self.place in a)]
        return min(names, key=len) if names else self.name

    def summary(self) -> dict:
        """What ``qa entities --json`` and ``GET /api/entities`` show of it."""
        return {"id": self.id, "name": self.name, "kind": self.kind, "aliases": self.aliases,
                "mentions": self.mentions, "docs": self.docs, "main_of": self.main_of, "english": self.english,
                "english_name": english_name(self)}


# ------------------------------------------------------------------------------------ helpers


@lru_cache(maxsize=1)  # once: jieba.setLogLevel clears every logger's cache (logging.Logger.setLevel)
def _tagger():
    """jieba's part-of-speech tagger (its dictionary loaded once, quietly)."""
    import jieba
    import jieba.posseg

    jieba.setLogLevel(60)
    return jieba.posseg


def word_frequency(word: str) -> int:
    """How often jieba's dictionary counts ``word`` (0 for a word it does not have)."""
    tokenizer = _tagger().dt.tokenizer
    tokenizer.check_initialized()
    return int(tokenizer.FREQ.get(word) or 0)


@lru_cache(maxsize=1)
def _cedict():
    from ..glossary import reverse_dictionary

    return reverse_dictionary()


@lru_cache(maxsize=1)
def _pinyin() -> dict[str, str]:
    """Simplified word -> pinyin key ("荆州" -> "jingzhou") for CC-CEDICT's proper nouns."""
    return {word: key for key, words in _cedict().names.items() for word in words}


def _ordinal(text: str) -> int:
    """The number in an ordinal like 第二 / 二 (1-10), else 0."""
    m = re.search(rf"第([{ORDINAL_DIGITS}])|([{ORDINAL_DIGITS}])[医院]", text)
    if not m:
        return 0
    return ORDINAL_DIGITS.index(m.group(1) or m.group(2)) + 1


def is_subsequence(short: str, long: str) -> bool:
    """True when the characters of ``short`` appear in ``long`` in order."""
    it = iter(long)
    return all(c in it for c in short)


def full_head(name: str) -> str:
    """An ordinal hospital abbreviation with its head written whole: 荆州二医 and 荆州二院 -> 荆州二医院 (Chinese
    shortens 第二人民医院 to 二医 and to 二院 alike); any other name as it is."""
    if len(name) >= 2 and name[-1] in "医院" and name[-2] in ORDINAL_DIGITS:
        return name[:-1] + "医院"
    return name


def same_organisation(short: str, name: str) -> bool:
    """``short`` can abbreviate ``name``: its characters appear in order in it, it starts like it (or with an
    admin word it contains), it ends in the same head (医 or 院 for a hospital), and it keeps the ordinal. An
    ordinal abbreviation's head is read whole (:func:`full_head`): 荆州二院 and 荆州二医 name one hospital."""
    if len(short) < 2 or short == name:
        return False
    short, name = full_head(short), full_head(name)
    if short == name:
        return True
    if not is_subsequence(short, name):
        return False
    if short[0] != name[0] and not (short[0] in ADMIN and short[0] in name):
        return False
    if short[-1] not in name[-2:]:
        return False
    if any(word not in name for word in _words_of(short)):
        return False  # 十堰市中医医院 (a TCM hospital): its word 中医 is none of 十堰市中西医结合医院's
    return _ordinal(short) == _ordinal(name) or not _ordinal(name)


@lru_cache(maxsize=8192)
def _words_of(name: str) -> tuple[str, ...]:
    """The dictionary words of two or more characters in an organisation's name, numbered ones (二医) left out: an
    abbreviation drops characters between them, never writes a word its full name does not have."""
    return tuple(w for w, _ in _tagger().cut(name, HMM=False)
                 if len(w) >= 2 and not any(c in ORDINAL_DIGITS for c in w))


def _is_place(word: str, flag: str) -> bool:
    if flag != "ns" or len(word) < 2:
        return False
    return word in _cedict().proper_nouns or (len(word) >= 3 and word[-1] in ADMIN)


def place_core(word: str) -> str:
    """荆州市 -> 荆州 (the admin suffix of a place of three or more characters dropped)."""
    return word[:-1] if len(word) >= 3 and word[-1] in ADMIN else word


def is_person(word: str, flag: str) -> bool:
    """A person's name as the tagger tags one (张国华/nr; X某), not a place or a common word."""
    if flag not in ("nr", "nrt"):
        return False
    if len(word) == 2 and word[1] == "某":
        return word[0] in SURNAMES
    if not 2 <= len(word) <= 3 or word[0] not in SURNAMES:
        return False
    glosses = _cedict()
    return word not in glosses.proper_nouns and not is_common_word(word)


@lru_cache(maxsize=1)
def _common_words() -> frozenset[str]:
    words: set[str] = set()
    for simps in _cedict().glosses.values():
        words.update(simps)
    return frozenset(words)


def is_common_word(word: str) -> bool:
    """A word CC-CEDICT glosses (建成: built): not a name when a surname stands before it."""
    return word in _common_words()


def head_of(word: str) -> str | None:
    """The institution head ``word`` ends in, or ``"abbrev"`` for 二医 / 区二院, else None."""
    for head in ORG_HEADS:
        if word.endswith(head):
            return head
    if 2 <= len(word) <= 3 and word[-1] in "医院" and word[-2] in ORDINAL_DIGITS:
        return "abbrev"
    return None


def org_mentions(tokens: Sequence[tuple[str, str]]) -> list[str]:
    """Organisation names in a token sequence (see the module docstring).

    Going left from a head, plain nouns (人民, 市中心, 区) may stand only between the head and the first name
    part; left of a name part only further name parts, ordinals and admin words follow (初心 in
    初心江津区第二人民医院 is not part of the name).
    """
    found: list[str] = []
    for i, (word, flag) in enumerate(tokens):
        head = head_of(word)
        if head is None or (i + 1 < len(tokens) and head_of(tokens[i + 1][0])):
            continue  # 医学院 inside 医学院附属医院: the name ends at the last head
        parts = [word]
        named = head == "abbrev" or (flag in ("nt", "nz") and len(word) >= len(head) + 2)
        seen_name = False
        j = i - 1
        while j >= 0:
            w, f = tokens[j]
            if sum(len(p) for p in parts) + len(w) > MAX_NAME or not w.strip() or head_of(w):
                break
            if f in ("nr", "nrt") and w[0] in "这那哪某每":  # 那阵子荆州二医: jieba takes 那阵子 for a name
                break
            if f in _NAME_POS and (f not in ("nr", "nrt") or len(w) >= 2):
                named = seen_name = True
            elif _ORDINAL.fullmatch(w) or (len(w) == 1 and w in ADMIN):
                named = True
            elif seen_name:
                break
            elif f == "v" and w == "结合" and j > 0 and tokens[j - 1][1] in ("j", "n", "nz"):
                pass  # 中西医结合医院
            elif (f == "b" and w == "附属") or (f == "n" and len(w) <= 3):
                pass
            else:
                break
            parts.insert(0, w)
            j -= 1
        name = "".join(parts)
        core = name[1:] if name[0] in ADMIN else name
        if core.startswith("级") or len(name) < 3:  # 市级医院, 三级医院: a rank, not a name
            continue
        if core[:1] in ADMIN:  # 县市医院, 省市医院: hospitals of two levels, no name
            continue
        if name[0] in ADMIN and len(core) >= 3:
            named = True
        if named:
            found.append(name)
    return found


def _count(text: str, aliases: Sequence[str]) -> int:
    """Occurrences of any alias in ``text``, longest first, never counting a character twice."""
    total = 0
    for alias in sorted(aliases, key=len, reverse=True):
        n = text.count(alias)
        if n:
            total += n
            text = text.replace(alias, "\0")
    return total


def _entity_id(kind: str, name: str) -> str:
    return kind[0] + hashlib.sha1(f"{kind}:{name}".encode()).hexdigest()[:8]


# ----------------------------------------------------------------------------- per document


@dataclass
class _DocFacts:
    orgs: list[list[str]]  # clusters: aliases, the name first
    places: Counter
    people: Counter
    units: Counter


# The version of the rules below: an index whose entities were found by other rules is rebuilt by `qa build`
# (its manifest records them), though its sources are unchanged. 2: names split by the tagger (汪 / 建成); 3: an
# abbreviation writes no word its full name lacks (:func:`same_organisation`); 4: an organisation's English words
# from the longest dictionary words of its name (中心医院: 中心, 医院; before, 中, 心, 医, 院).
RULES = 4

# Roles written next to a person's name in Chinese text (院长李永兵, 记者 刘星欣, 李永兵院长).
ROLES = (
    "院长", "主任", "书记", "医生", "医师", "护士", "护士长", "记者", "通讯员", "教授", "专家", "局长", "区长", "市长",
    "县长", "省长", "部长", "委员", "主席", "董事长", "经理", "科长", "处长", "队长", "组长", "博士", "硕士", "老师",
    "患者", "同志", "先生", "女士", "带头人", "名医",
)


def _near_role(tokens: Sequence[tuple[str, str]], i: int) -> bool:
    before = tokens[i - 1][0] if i > 0 else ""
    after = tokens[i + 1][0] if i + 1 < len(tokens) else ""
    return before.endswith(ROLES) or after.startswith(ROLES)


_ROLE_AT = re.compile("|".join(sorted(ROLES, key=len, reverse=True)))
_SOMEONE = re.compile(r"[\u4e00-\u9fff]某")
_ABBREV = re.compile(rf"^[{ORDINAL_DIGITS}]$")
# a numbered abbreviation of a hospital on its own: 一医, 二医, 二院
BARE_ABBREVIATION = re.compile(rf"[{ORDINAL_DIGITS}][医院]")


def fast_tokens(text: str) -> list[tuple[str, str]]:
    """Part-of-speech tokens from jieba's dictionary alone (its HMM for unknown words is twenty times slower
    and names are found otherwise, see :func:`people_in`), with a numbered abbreviation (二 医, 二 院) joined
    into one token as the HMM would have it."""
    tokens = [(w, f) for w, f in _tagger().cut(text, HMM=False)]
    out: list[tuple[str, str]] = []
    for word, flag in tokens:
        if word in ("医", "院") and out and _ABBREV.match(out[-1][0]):
            out[-1] = (out[-1][0] + word, "n")
        else:
            out.append((word, flag))
    return out


def people_in(text: str) -> Counter:
    """People named next to a role (院长李永兵, 李永兵院长) or as X某: the HMM tagger runs on a few characters
    around each role word only."""
    return _people(text)[0]


def _people(text: str) -> tuple[Counter, Counter]:
    """(:func:`people_in`, the names the tagger split after a role) of ``text``, each role's window tagged once.

    A split name is a surname and a word of the tagger's dictionary right after a role (学科带头人汪建成: 汪 / 建成,
    "built"), the word of one or two characters; only a candidate: a name is one when the document writes it more
    than once (:func:`_doc_facts`)."""
    found: Counter = Counter()
    split: Counter = Counter()
    tagger = _tagger()
    for m in _ROLE_AT.finditer(text):
        window = text[max(0, m.start() - 4) : m.end() + 4]
        tokens = [(w, f) for w, f in tagger.cut(window)]
        for i, (word, flag) in enumerate(tokens):
            if is_person(word, flag) and _near_role(tokens, i):
                found[word] += 1
            elif (0 < i < len(tokens) - 1 and flag == "nr" and len(word) == 1 and word in SURNAMES
                  and tokens[i - 1][0].endswith(ROLES) and 1 <= len(rest := tokens[i + 1][0]) <= 2
                  and all("\u4e00" <= c <= "\u9fff" for c in rest)):
                split[word + rest] += 1
    for m in _SOMEONE.finditer(text):
        if m.group()[0] in SURNAMES:
            found[m.group()] += 1
    return found, split


def _doc_facts(texts: Sequence[str]) -> _DocFacts:
    """The entities of one document, from its passages' folded texts."""
    mentions: list[str] = []
    places: Counter = Counter()
    people: Counter = Counter()
    split: Counter = Counter()  # surname + word candidates, kept when the document writes them twice
    units: Counter = Counter()
    for text in texts:
        tokens = fast_tokens(text)
        mentions.extend(org_mentions(tokens))
        mentions.extend(m.group(1) for m in _DECLARED.finditer(text))  # …（以下简称“区二院”）
        named, split_here = _people(text)
        people.update(named)
        split.update(split_here)
        for i, (word, flag) in enumerate(tokens):
            if _is_place(word, flag):
                places[place_core(word)] += 1
            elif (len(word) >= 3 and word.endswith(UNIT_SUFFIXES) and not word.endswith("学科")
                  and flag.startswith("n") and not head_of(word)
                  and not (i + 1 < len(tokens) and head_of(tokens[i + 1][0]))):
                units[word] += 1
    clusters: list[list[str]] = []
    for mention in sorted(set(mentions), key=len, reverse=True):
        for cluster in clusters:
            if same_organisation(mention, cluster[0]):
                cluster.append(mention)
                break
        else:
            if head_of(mention) != "abbrev" or len(mention) >= 4:
                clusters.append([mention])
    # A name that starts with an admin word (市中心医院) takes the document's own place of that level: one
    # written with it (十堰市), else the most mentioned place CC-CEDICT gives that level (邵阳: a city).
    levels = _cedict().place_levels
    whole = "".join(texts)
    for name in split:
        if (name not in people and whole.count(name) >= 2 and not is_common_word(name)
                and not any(p.startswith(name) for p in people)):  # 毛以 of 毛以国
            people[name] = whole.count(name)
    for cluster in clusters:
        name = cluster[0]
        if name[0] not in ADMIN:
            continue
        ranked = [p for p, _ in places.most_common()]
        written = [p for p in ranked if p + name[0] in whole]
        fitting = [p for p in ranked if levels.get(p) == name[0]]
        place = (written or fitting or [""])[0]
        if place:
            cluster.insert(0, place + name)
    return _DocFacts(clusters, places, people, units)


# ------------------------------------------------------------------------------------- table


class EntityTable:
    """The corpus's entities, and the look-ups the search and conversation stages need."""

    def __init__(self, entities: Sequence[Entity], passages: dict[str, list[int]] | None = None,
                 groups: dict[str, list[str]] | None = None, facts: dict[str, dict] | None = None) -> None:
        self.entities = list(entities)
        self.facts = facts or {}  # what each document's text gave, by a hash of that text (reused by the next build)
        self.by_id = {e.id: e for e in self.entities}
        self.passages = passages or {}  # entity id -> passage rows that mention it
        self.groups = groups or {}  # doc_id -> the documents of its article (same title)
        self._alias: dict[str, list[str]] = defaultdict(list)
        for e in self.entities:
            for alias in e.aliases:
                self._alias[alias].append(e.id)
        self._longest = max((len(a) for a in self._alias), default=0)
        self.main: dict[str, str] = {doc: e.id for e in self.entities for doc in e.main_of}

    # ---------------------------------------------------------------- building

    @classmethod
    def build(cls, documents: Sequence, passages: Sequence, previous: EntityTable | None = None) -> EntityTable:
        """Find the entities of ``documents`` (objects with ``id``, ``title``, ``text``) and the
        ``passages`` (objects with ``doc_id`` and ``text``, in index row order) that mention each; what a
        document's text gave before (``previous``, the index being replaced) is reused, so adding one
        document reads only that one."""
        folded = [squeeze(fold(p.text)) for p in passages]
        by_doc_texts: dict[str, list[str]] = defaultdict(list)
        for p, text in zip(passages, folded, strict=True):
            by_doc_texts[p.doc_id].append(text)
        per_doc: dict[str, _DocFacts] = {}
        texts: dict[str, str] = {}
        remembered: dict[str, dict] = {}
        known = previous.facts if previous is not None else {}
        for doc in documents:
            texts[doc.id] = "\n".join(by_doc_texts.get(doc.id, []))
            key = hashlib.sha256(f"{FORMAT}\0{texts[doc.id]}".encode("utf-8", "surrogatepass")).hexdigest()[:24]
            if key in known:
                per_doc[doc.id] = _DocFacts(known[key]["orgs"], Counter(known[key]["places"]),
                                            Counter(known[key]["people"]), Counter(known[key]["units"]))
            else:
                per_doc[doc.id] = _doc_facts(by_doc_texts.get(doc.id, []))
            f = per_doc[doc.id]
            remembered[key] = {"orgs": f.orgs, "places": dict(f.places), "people": dict(f.people),
                               "units": dict(f.units)}
        merged: dict[tuple[str, str], dict] = {}

        def add(kind: str, name: str, aliases: Iterable[str], doc_id: str, count: int) -> None:
            item = merged.setdefault((kind, name), {"aliases": {}, "docs": Counter()})
            for alias in aliases:
                item["aliases"][alias] = None
            item["docs"][doc_id] += count

        for doc_id, facts in per_doc.items():
            text = texts[doc_id]
            best: tuple[int, str] | None = None
            for cluster in facts.orgs:
                count = _count(text, cluster)
                if not count:
                    continue
                add("org", cluster[0], cluster, doc_id, count)
                if best is None or count > best[0]:
                    best = (count, cluster[0])
            if best and best[0] >= 2:
                merged[("org", best[1])].setdefault("main_of", []).append(doc_id)
            for kind, counter in (("place", facts.places), ("person", facts.people), ("unit", facts.units)):
                for name, count in counter.items():
                    add(kind, name, [name], doc_id, count)
        entities = []
        for (kind, name), item in merged.items():
            aliases = sorted(item["aliases"], key=len, reverse=True)
            if name not in aliases:
                aliases.insert(0, name)
            entity = Entity(
                id=_entity_id(kind, name), name=name, kind=kind, aliases=aliases, docs=dict(item["docs"]),
                main_of=sorted(item.get("main_of", [])),
            )
            if kind == "org":
                entity.place, entity.ordinal, entity.english = _org_english(name)
            elif kind == "place":
                entity.english = [_pinyin()[name]] if name in _pinyin() else []
            entities.append(entity)
        entities.sort(key=lambda e: (-len(e.main_of), -e.mentions, e.name))
        rows: dict[str, list[int]] = defaultdict(list)
        by_doc: dict[str, list[Entity]] = defaultdict(list)
        for e in entities:
            for doc in e.docs:
                by_doc[doc].append(e)
        for row, (p, text) in enumerate(zip(passages, folded, strict=True)):
            for e in by_doc.get(p.doc_id, ()):
                if any(a in text for a in e.aliases):
                    rows[e.id].append(row)
        titles: dict[str, list[str]] = defaultdict(list)
        for doc in documents:
            if doc.title and doc.title != doc.id:
                titles[doc.title].append(doc.id)
        groups = {d: sorted(ids) for ids in titles.values() if len(ids) > 1 for d in ids}
        return cls(entities, dict(rows), groups, remembered)

    # ---------------------------------------------------------------- storage

    def save(self, folder: Path) -> None:
        data = {"format": FORMAT, "rules": RULES, "entities": [asdict(e) for e in self.entities],
                "passages": self.passages, "groups": self.groups, "facts": self.facts}
        (folder / ENTITIES_FILE).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> EntityTable:
        """Read ``entities.json``; an index without one (built before it existed) has no entities."""
        path = folder / ENTITIES_FILE
        if not path.is_file():
            return cls([])
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls([Entity(**e) for e in data["entities"]], data.get("passages"), data.get("groups"),
                   data.get("facts") if data.get("format") == FORMAT and data.get("rules", 1) == RULES else None)

    # ---------------------------------------------------------------- look-ups

    def docs_of(self, entity_ids: Iterable[str]) -> set[str]:
        """The documents that mention any of ``entity_ids``, with the other parts of their articles."""
        docs: set[str] = set()
        for eid in entity_ids:
            for doc in self.by_id[eid].docs:
                docs.update(self.groups.get(doc, [doc]))
        return docs

    def main_entity(self, doc_id: str) -> Entity | None:
        """The organisation ``doc_id`` is mainly about, if any."""
        eid = self.main.get(doc_id)
        return self.by_id[eid] if eid else None

    def subjects(self) -> list[Entity]:
        """The entities some document is mainly about."""
        return [e for e in self.entities if e.main_of]

    def exact_mentions(self, text: str) -> list[tuple[int, int, list[str]]]:
        """(start, end, entity ids) of every known alias in folded ``text``, longest match first."""
        found = []
        i = 0
        while i < len(text):
            for size in range(min(self._longest, len(text) - i), 1, -1):
                ids = self._alias.get(text[i : i + size])
                if ids:
                    found.append((i, i + size, ids))
                    i += size
                    break
            else:
                i += 1
        return found


def name_place(name: str) -> str:
    """The place an organisation name starts with, admin suffix dropped (荆州市第一人民医院 -> 荆州), or ""."""
    levels = _cedict().place_levels
    place = next((name[:n] for n in range(min(6, len(name)), 1, -1) if name[:n] in levels), "")
    return place_core(place) if place_core(place) in levels else place


# how an English text writes the kind of a Chinese hospital's name (its last characters), most specific first
_ORG_HEADS_EN = (
    ("中西医结合医院", "Hospital of Integrated Chinese and Western Medicine"),
    ("中医医院", "Hospital of Traditional Chinese Medicine"), ("中医院", "Hospital of Traditional Chinese Medicine"),
    ("妇幼保健院", "Maternal and Child Health Hospital"), ("人民医院", "People's Hospital"),
    ("中心医院", "Central Hospital"), ("医院", "Hospital"), ("医", "Hospital"), ("院", "Hospital"),
)


def english_name(entity: Entity) -> str | None:
    """How an English question would write a hospital (荆州市第一人民医院 -> Jingzhou No.1 People's Hospital,
    邵阳市中心医院 -> Shaoyang Central Hospital): its place in pinyin, its ordinal, the kind of its name. None
    for anything else, or when CC-CEDICT has no reading of the place."""
    if entity.kind != "org" or not entity.place:
        return None
    key = _pinyin().get(entity.place)
    head = next((en for zh, en in _ORG_HEADS_EN if entity.name.endswith(zh)), None)
    if not key or head is None:
        return None
    number = f"No.{entity.ordinal} " if entity.ordinal else ""
    return f"{key.capitalize()} {number}{head}"


def _org_english(name: str) -> tuple[str, int, list[str]]:
    """(place, ordinal, English words) of an organisation name: 荆州市第一人民医院 -> (荆州, 1, [jingzhou,
    first, people, hospital, …]). The place is the longest start of the name CC-CEDICT knows as a place."""
    place = name_place(name)
    words = [_pinyin()[place]] if place in _pinyin() else []
    glosses = _gloss_index()
    rest = name[len(place):].lstrip(ADMIN[:4])
    for word, _ in _tagger().cut(rest):
        for part in _dictionary_parts(word, glosses):
            words.extend(glosses.get(part, ()))
    return place, _ordinal(name), sorted(set(words))


def _dictionary_parts(word: str, glosses: dict) -> list[str]:
    """``word`` cut into the longest words the dictionary glosses, from the left (中心医院 -> 中心, 医院), a
    character where none starts."""
    parts, i = [], 0
    while i < len(word):
        size = next((n for n in range(min(4, len(word) - i), 1, -1) if word[i : i + n] in glosses), 1)
        parts.append(word[i : i + size])
        i += size
    return parts


@lru_cache(maxsize=1)
def _gloss_index() -> dict[str, tuple[str, ...]]:
    """Simplified word -> the English words of its CC-CEDICT glosses."""
    out: dict[str, set[str]] = defaultdict(set)
    for gloss, simps in _cedict().glosses.items():
        for simp in simps:
            out[simp].update(gloss.split())
    return {k: tuple(sorted(v)) for k, v in out.items()}
