"""Which of the index's entities a question names, in Chinese or in English, and which names it uses that the
documents never mention.

Chinese: every known alias is matched longest first in the folded question; organisation names the
question writes differently (十堰中西医结合医院, 荆州市第二人民医院 for 荆州二医) are found with the same name
grammar the index uses and matched when one is an abbreviation of the other
(:func:`qa.index.entities.same_organisation`); a name of that shape that matches nothing is unknown.

English: a run of capitalised words ("Jingzhou No.2 Hospital", "the First Hospital") is matched on the place
its pinyin spells (CC-CEDICT), the ordinal (first, 2nd, No.2) and the glosses of the name's other parts; a
person's name on its pinyin (Zhu Xi → 朱西). A place CC-CEDICT knows that the documents never mention
("Xiangyang") is unknown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import cached_property, lru_cache

from ..glossary import american, lemmas, reverse_dictionary, spell
from ..index.entities import (
    ADMIN,
    BARE_ABBREVIATION,
    ORDINAL_DIGITS,
    SURNAMES,
    Entity,
    EntityTable,
    fast_tokens,
    head_of,
    name_place,
    org_mentions,
    people_in,
    place_core,
    same_organisation,
)
from ..text import fold, squeeze

# the lower-case words inside an English name (the Shiyan Hospital of Integrated Traditional Chinese and …)
_CONNECTORS = ("of", "and", "for", "the", "de")
_CAP_RUN = re.compile(
    r"(?:(?<=\s)|^|(?<=[(\"“']))"
    r"((?:(?:No\.?\s?\d+|[A-Z][\w'’.-]*|\d+(?:st|nd|rd|th))(?:\s+(?:" + "|".join(_CONNECTORS)
    + r")\s+|\s+|(?=[?,.!:;)]|$)))+)"
)
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
             "ninth": 9, "tenth": 10, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5}
_HEAD_AFTER = re.compile(
    r"\s*((?:[a-z][\w'-]*\s+){0,3}(?:hospital|university|college|institute|centre|center|clinic)s?)\b"
)
_NUMBER = re.compile(r"\bno\.?\s?(\d+)\b|\bnumber\s+(\d+)\b", re.I)
_HEADS_EN = frozenset("hospital hospitals university college institute centre center school clinic academy "
                      "association society committee foundation company bureau commission".split())
_GENERIC_EN = frozenset("the of and hospital people people's s".split())
_GENERIC_STEMS = frozenset(s for w in _GENERIC_EN | _HEADS_EN for s in lemmas(w))
_SPELLED_TEXT_LIMIT = 5_000_000  # characters of documents whose names are spelled out in pinyin (built in memory)
_TITLED = re.compile(r"^(?:Dr|Doctor|Prof|Professor|Director|Mr|Mrs|Ms|Dean)\.?\s+")
_LEADING_QUESTION_WORDS = re.compile(r"^(?:(?:and|but|so|or|then|also|what|which|who|how|where|when|why|is|are|"
                                     r"does|did|do|was|were|can|could|about)\s+)+", re.I)
_QUESTION_WORDS = frozenset("what which who whom whose when where why how does did do is are was were can could "
                            "would should will has have had and or but about".split())


@dataclass(frozen=True)
class Mentions:
    """What a question names: ``entities`` (ids, in order), ``unknown`` (names the documents never mention)
    and ``spans`` ((surface as written, entity id) pairs, for rewriting follow-ups)."""

    entities: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    spans: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.entities or self.unknown)


def _words(text: str) -> list[str]:
    """The lower-case words of ``text``, a possessive's 's dropped (Shaoyang Central Hospital's → hospital)."""
    return [w.removesuffix("'s") for w in re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower().replace("’", "'"))]


def english_ordinal(span: str) -> int:
    m = _NUMBER.search(span)
    if m:
        return int(m.group(1) or m.group(2))
    for word in _words(span):  # Jingzhou First's stroke centre: first
        if word in _ORDINALS:
            return _ORDINALS[word]
    return 0


@lru_cache(maxsize=4096)
def _known_place(word: str, corpus_has) -> tuple[str, bool]:
    """(Chinese place, known to the corpus) that an English word spells, or ("", False)."""
    candidates = reverse_dictionary().names.get(word.lower(), [])
    places = [c for c in candidates if c in reverse_dictionary().place_levels]
    for place in places:
        if corpus_has(place):
            return place, True
    return ("/".join(places), False) if places else ("", False)


class MentionFinder:
    """Finds entity mentions in questions for one :class:`EntityTable`.

    Args:
        table: the index's entities.
        corpus_has: tells whether a folded Chinese string occurs in the documents.
        corpus_text: gives the documents' folded text (read once, for the names they write that no entity holds).
    """

    def __init__(self, table: EntityTable, corpus_has, corpus_text: Callable[[], str] | None = None) -> None:
        self.table = table
        self.corpus_has = corpus_has
        self.corpus_text = corpus_text
        self.orgs = [e for e in table.entities if e.kind == "org"]
        self.people = {spell(e.name): e for e in table.entities if e.kind == "person" and spell(e.name)}
        self.places = {e.name: e for e in table.entities if e.kind == "place"}
        self.subject_orgs = [e for e in self.orgs if e.main_of]

    def find(self, question: str) -> Mentions:
        """The entities ``question`` names and the names it uses that the documents never mention."""
        ids: list[str] = []
        unknown: list[str] = []
        spans: list[tuple[str, str]] = []
        folded = squeeze(fold(question))
        names: list[tuple[int, int]] = []  # organisation names the grammar finds, longer than a known alias
        tokens: list[tuple[str, str]] = []
        if any("\u4e00" <= c <= "\u9fff" for c in folded):
            tokens = fast_tokens(folded)  # the same tokens the index found its names with
            for name in org_mentions(_joined(tokens)):
                at = folded.find(name)
                if at >= 0:
                    names.append((at, at + len(name)))
        exact = self.table.exact_mentions(folded)
        if tokens:
            # a person named beside a role (朱东医生, 王强院长) whom the documents never write: unknown
            unknown.extend(name for name in people_in(folded) if not self.corpus_has(name))
            exact = sorted(exact + self._short_abbreviations(tokens, exact, names, unknown))
        for start, end, eids in exact:
            if any(a <= start and end <= b and (b - a) > (end - start) for a, b in names):
                continue  # 市中心医院 inside 襄阳市中心医院: the whole name decides
            best = self._prefer(eids)
            ids.append(best)
            spans.append((folded[start:end], best))
        for a, b in names:
            name = folded[a:b]
            if any(s <= a and b <= e for s, e, _ in exact):
                continue  # a known alias already
            match = self._org_variant(name)
            if match is not None:
                ids.append(match.id)
                spans.append((name, match.id))
            elif not self.corpus_has(name):  # written in the documents, though not taken for an entity: known
                unknown.append(name)
        # a name written in lower case (jingzhou no.2 hospital number of party branches; How many Party members from
        # jingzhou first people's hospital …?): capitalised, then written back as the user wrote it (the same
        # letters at the same places); in a question with capitals of its own only a place followed by an
        # organisation's head word is taken for a name
        capitalised = (self._capitalised(question, need_head=re.search(r"[A-Z]", question) is not None)
                       if re.search(r"[a-z]", question) else question)
        if capitalised != question:
            found: list[tuple[str, str]] = []
            self._english(capitalised, ids, unknown, found)
            spans.extend((question[at : at + len(surface)] if (at := capitalised.find(surface)) >= 0 else surface, eid)
                         for surface, eid in found)
        else:
            self._english(question, ids, unknown, spans)
        # a foreign place a question is about (Charité in Berlin, the best beaches in Thailand), which the documents
        # never write: only after in / at, since an encyclopaedia's translated names (Scottish, Methodist) are often
        # not the dictionary's (XQuAD English: 37 answerable questions lost when every capitalised word was judged)
        named = " ".join(s for s, _ in spans)
        unknown.extend(w.group() for w in _INNER_CAPITAL.finditer(question)
                       if w.group() not in named and self._foreign(w.group()) and w.group() not in " ".join(unknown))
        return Mentions(tuple(dict.fromkeys(ids)), tuple(dict.fromkeys(unknown)), tuple(spans))

    def _short_abbreviations(self, tokens: list[tuple[str, str]], exact: list, names: list[tuple[int, int]],
                             unknown: list[str]) -> list[tuple[int, int, list[str]]]:
        """一医 / 二医 / 二院 on their own (那二医呢？): the one subject of the documents an alias of which ends in
        it (荆州二医, 区二院), outside the names already found (荆州二院 is the grammar's); not when a one-character
        noun or a suffix follows (二院制, a bicameral system), though before a word (二医全院, 一医核酸, 二医速度).
        After a place, that place's hospital of that number, and when the documents have none (邵阳那家二院), the
        place and the number go to ``unknown``."""
        found, at = [], 0
        for i, (word, _) in enumerate(tokens):
            start, at = at, at + len(word)
            if not BARE_ABBREVIATION.fullmatch(word) or any(a <= start < b for a, b in names) or any(
                    s <= start < e for s, e, _ in exact):
                continue
            after = tokens[i + 1] if i + 1 < len(tokens) else ("", "")
            if after[1][:1] == "k" or (after[1][:1] == "n" and len(after[0]) == 1):
                continue  # 二院制 (a bicameral system): a word of its own, not the hospital; 二医全院, 一医核酸: it is
            place = _place_before(tokens, i, self.places)
            if place:  # 荆州那家二院, 江津的二医: the hospital of that number in that place (荆州二医, not 区二院)
                owners = [e for e in self.table.subjects() if e.kind == "org" and e.place == place
                          and e.ordinal == ORDINAL_DIGITS.index(word[0]) + 1]
            else:
                owners = [e for e in self.table.subjects() if e.kind == "org"
                          and any(a.endswith(word) and len(a) > len(word) for a in e.aliases)]
            if len(owners) == 1:
                found.append((start, at, [owners[0].id]))
            elif place and not owners:
                unknown.append(place + word)
        return found

    def _prefer(self, eids: list[str]) -> str:
        """Of entities sharing an alias, the one documents are mainly about, else the most mentioned."""
        return max(eids, key=lambda i: (bool(self.table.by_id[i].main_of), self.table.by_id[i].mentions))

    def _org_variant(self, name: str) -> Entity | None:
        """The organisation ``name`` abbreviates (十堰中西医结合医院) or spells out (荆州市第二人民医院 for 荆州二医),
        also behind the province or city that contains its place (湖北省荆州市第二人民医院, 重庆江津区第二人民医院);
        a name that starts with another place than the organisation's is another organisation."""
        for candidate in (name, *_inner_names(name)):
            place = name_place(candidate)
            fits = [e for e in self.orgs
                    if any(candidate == alias or same_organisation(candidate, alias) for alias in e.aliases)
                    or (any(same_organisation(alias, candidate) for alias in e.aliases)
                        and (not place or place == e.place))]
            if fits:
                return max(fits, key=lambda e: (bool(e.main_of), e.mentions))
        return None

    # ------------------------------------------------------------------------------------ English

    def _english(self, question: str, ids: list[str], unknown: list[str], spans: list[tuple[str, str]]) -> None:
        for m in _CAP_RUN.finditer(question):
            span = m.group(1).strip(" ?,.!:;")
            span = _LEADING_QUESTION_WORDS.sub("", span)  # "And Shaoyang", "What about" capitalised at the start
            spelled = self._pinyin_name(span)
            if spelled is not None:  # Jingzhou Er Yi, Shaoyang Zhongxin Yiyuan: the name in pinyin
                ids.append(spelled[1].id)
                spans.append((spelled[0], spelled[1].id))
                continue
            tail = _HEAD_AFTER.match(question, m.end(1))
            # the Shiyan integrated medicine hospital, Shaoyang's central hospital; but Jingzhou First's stroke centre
            # is a part of the hospital, whose name ends at the possessive
            part = re.search(r"['’]s$", span) and tail and re.search(r"(?:centre|center|clinic)s?$", tail.group(1))
            if tail and not any(w in _HEADS_EN for w in _words(span)) and not part:
                span = f"{span} {tail.group(1)}"
            words = [w for w in _words(span) if w not in _QUESTION_WORDS]
            if not words:
                continue
            places, missing = [], []
            for word in words:
                place, known = _known_place(word, self.corpus_has)
                if place and known:
                    places.append(place)
                elif place and not self._spelled_in_names(word):  # Xiangshan: 德国橡山医院's 橡山, not 象山
                    missing.append(f"{word.capitalize()} ({place})")
            person = self._person(words)
            if person is not None:
                ids.append(person.id)
                spans.append((span, person.id))
            elif _TITLED.match(span) and 2 <= len(name := _words(_TITLED.sub("", span))) <= 3 and all(
                    _pinyin(w) for w in name) and self._written_names is not None and "".join(name).replace(
                    "'", "") not in self._written_names:
                unknown.append(span)  # Dr. Chen Songlin: a person in pinyin whom the documents never write
                continue
            ordinal = english_ordinal(span)
            headed = any(w in _HEADS_EN for w in words)
            plural = bool(words) and words[-1].endswith("s") and words[-1][:-1] in _HEADS_EN
            if missing and not places:
                unknown.extend(missing)
                continue
            if not (ordinal or headed):  # a bare place: western Hubei
                for place in places:
                    if place in self.places:
                        ids.append(self.places[place].id)
                        spans.append((span, self.places[place].id))
                continue
            words = [w for w in _words(span) if w not in _QUESTION_WORDS]
            org = self._english_org(words, places, ordinal)
            if org is not None:
                ids.append(org.id)
                spans.append((span, org.id))
            elif headed and not plural and (places or ordinal) and (ordinal or _specific(words, places) or not any(
                    e.main_of and e.place in places for e in self.orgs)) and not re.search(
                    r"-(?:style|like|type)\b", span) and not self._rendered(words, places):
                # Jingzhou Central Hospital; not "the Jingzhou hospital" (two there) nor "Chongqing hospitals" (a kind)
                unknown.append(span)
            elif headed and not plural and not places and not ordinal and any(
                    self._foreign(w) for w in re.findall(rf"[A-Za-zÀ-ÿ]{_NAME_WORD}", span)
                    if w.lower() not in _GENERIC_EN and w.lower() not in _HEADS_EN):
                unknown.append(span)  # Massachusetts General Hospital, the Cleveland Clinic: a name the documents lack
            for place in places:
                entity = self.places.get(place)
                if entity is not None and org is None:
                    ids.append(entity.id)
                    spans.append((span, entity.id))

    def _pinyin_name(self, span: str) -> tuple[str, Entity] | None:
        """(surface, organisation) when ``span`` starts with a place and then spells, in pinyin, the name of one of
        the documents' subjects (Jingzhou Er Yi: 荆州二医; Jiangjin Qu Di'er Renmin Yiyuan; Shaoyang Zhongxin Yiyuan:
        邵阳市中心医院, its 市 left out), every reading of a character allowed (合: he)."""
        words = list(re.finditer(r"[A-Za-z][A-Za-z'’]*", span))
        if len(words) < 2 or not _known_place(words[0].group().lower(), self.corpus_has)[1]:
            return None
        letters = [re.sub(r"[^a-z]", "", re.sub(r"['’]s$", "", w.group().lower())) for w in words]  # Er Yi's
        for n in range(len(words), 1, -1):
            entity = self._subject_spellings.get("".join(letters[:n]))
            if entity is not None:
                end = words[n - 1].end() - (2 if re.search(r"['’]s$", words[n - 1].group()) else 0)
                return span[words[0].start(): end], entity
        return None

    @cached_property
    def _subject_spellings(self) -> dict[str, Entity]:
        """The pinyin of each written form of the documents' subjects (:func:`_written_forms`), every reading of
        each character (at most 256 spellings a form), made on first need."""
        out: dict[str, Entity] = {}
        for entity in sorted(self.subject_orgs, key=lambda e: -e.mentions):
            for name in _written_forms(entity):
                for spelled in _spellings(name, 256):
                    out.setdefault(spelled, entity)
        return out

    def _rendered(self, words: list[str], places: list[str]) -> bool:
        """Whether the words of an English name after its place, rendered word by word (the dictionary's nominal
        senses), write a name the documents have (Jingzhou Public Health Centre: 公共卫生中心), though no entity."""
        place_keys = {spell(p) for p in places}
        rest = [w for w in _words_not_spelling(words, places) if w not in place_keys and w not in _CONNECTORS]
        senses = [reverse_dictionary().nominal.get(american(w), [])[:8] for w in rest]
        if not 2 <= len(senses) <= 4 or not all(senses):
            return False
        combos = [""]
        for options in senses:
            combos = [c + o for c in combos for o in options][:4096]
        return any(len(c) >= 4 and self.corpus_has(c) for c in combos)

    def _spelled_in_names(self, word: str) -> bool:
        """Whether a pinyin word spells two to four characters of a name the index knows (xiangshan: 橡山 of
        德国橡山医院), any reading of each character allowed."""
        return word in self._name_spellings

    @cached_property
    def _name_spellings(self) -> frozenset[str]:
        """The pinyin of every two to four characters of the index's names, each character in any of its readings
        (at most 16 spellings a piece), made on first need."""
        out: set[str] = set()
        for entity in self.table.entities:
            for alias in entity.aliases:
                for size in (2, 3, 4):
                    for start in range(0, len(alias) - size + 1):
                        out.update(_spellings(alias[start:start + size], 16))
        return frozenset(out)

    def _foreign(self, written: str) -> bool:
        """Whether a capitalised word of an English name is a foreign proper name the documents never write: not
        pinyin (Huaxia, Renji: maybe written in characters the dictionary lacks), in the documents neither as
        written nor in any rendering of a gloss it is a word of, and rendered by the dictionary only as proper
        nouns (Massachusetts, Cleveland, Hopkins: 约翰·霍金斯). A common word (General, Chest) is never one, nor
        a word whose name the documents write (Yangtze: 长江, of "Yangtze River")."""
        word = written.lower().replace("’", "'").removesuffix("'s")
        if not written[:1].isupper() or len(word) < 4 or not word.isalpha() or _pinyin(word):
            return False
        if (written.isupper() and len(written) <= 5) or self.corpus_has(word):
            return False  # COVID, PET: an acronym, not a name
        spelled = american(word)
        rendered = tuple(r for form in dict.fromkeys([*lemmas(word), *lemmas(spelled)])
                         for r in _gloss_words().get(form, ()))  # PhDs: phd; Centre: center
        proper = reverse_dictionary().proper_nouns
        # rendered, and only as names the documents lack (a word the dictionary lacks may be written any way: an
        # encyclopaedia's translated names are not the dictionary's)
        return bool(rendered) and not any((r not in proper and "·" not in r) or self.corpus_has(r) for r in rendered)

    def _capitalised(self, question: str, need_head: bool = False) -> str:
        """``question`` with its lower-case names capitalised, as the English rules expect them: each word
        that spells a place (CC-CEDICT), with the words after it up to an organisation's head word (hospital,
        centre …) within six words (shiyan integrated medicine hospital, jingzhou first hospital); with
        ``need_head``, only such a place and its organisation, not a place alone. Other words keep their case,
        so an ordinary lower-case word is never taken for a name."""
        words = list(re.finditer(r"[a-z][\w'.’-]*", question))
        starts: list[int] = []  # the first letter of each word of a name
        for i, m in enumerate(words):
            if not _known_place(m.group().removesuffix("'s").rstrip("."), self.corpus_has)[0]:
                continue
            end = i
            for j in range(i + 1, min(len(words), i + 7)):
                if words[j].group().rstrip(".") in _HEADS_EN:
                    end = j
                    break
            if need_head and end == i:
                continue
            starts.extend(words[k].start() for k in range(i, end + 1) if words[k].group() not in _CONNECTORS)
        out = list(question)
        for start in starts:
            out[start] = out[start].upper()
        return "".join(out)

    @cached_property
    def _written_names(self) -> frozenset[str] | None:
        """The pinyin (every reading) of each two or three characters of the documents that start with a surname:
        the names they write, whether or not the index took them for a person (特约记者潘健兴: panjianxing); None
        for a collection too large to spell out so (then no such name is judged unknown)."""
        text = self.corpus_text() if self.corpus_text is not None else ""
        if len(text) > _SPELLED_TEXT_LIMIT:
            return None
        sounds = reverse_dictionary().sounds
        out: set[str] = set()
        for i, c in enumerate(text):
            if c not in SURNAMES:
                continue
            keys = [""]
            for size, ch in enumerate(text[i : i + 3], 1):
                keys = [k + r for k in keys for r in sorted(sounds.get(ch, ()))[:3]]
                if size >= 2:
                    out.update(keys)
        return frozenset(out)

    def _person(self, words: list[str]) -> Entity | None:
        for size in (3, 2):
            for i in range(len(words) - size + 1):
                key = "".join(words[i : i + size]).replace("'s", "")
                if key in self.people:
                    return self.people[key]
        return None

    def _english_org(self, words: list[str], places: list[str], ordinal: int) -> Entity | None:
        pool = [e for e in self.orgs if e.place in places] if places else [e for e in self.orgs if e.main_of]
        if ordinal:
            pool = [e for e in pool if e.ordinal == ordinal]
        scored = []
        named_words = _specific(words, places)  # the name's own words (Central, Children's), if any
        for e in pool:
            english = {s for w in e.english for s in lemmas(w)}
            specific = {s for s in named_words if _matches(s, english)}
            # two hospitals in the place, or a name with words of its own none of which is this one's (Shaoyang
            # Children's Hospital is not Shaoyang Central Hospital): not this one
            if not (ordinal or specific) and (len(pool) > 1 or named_words):
                continue
            if not (places or ordinal) and len(specific) < 2:
                continue  # no place: one gloss shared by chance is no name (American Heart Association: 中心, heart)
            scored.append((len(specific), bool(e.main_of), e.mentions, e))
        if not scored:
            subjects = [e for e in pool if e.main_of]
            # the Shiyan hospital: nothing but the place and the head, and one document is about a hospital there
            plain = places and not ordinal and not _specific(words, places)
            return subjects[0] if plain and len(subjects) == 1 else None
        return max(scored, key=lambda t: t[:3])[3]


def _written_forms(entity: Entity) -> list[str]:
    """An organisation's aliases, those with the admin character after its place left out (邵阳中心医院) and, for
    a numbered one, its place with the number (江津二院, 荆州一医)."""
    forms = list(entity.aliases)
    place = entity.place or ""
    if place and 1 <= entity.ordinal <= len(ORDINAL_DIGITS):
        forms += [place + ORDINAL_DIGITS[entity.ordinal - 1] + head for head in "医院"]
    for alias in entity.aliases:
        admin = alias[len(place): len(place) + 1]
        if place and alias.startswith(place) and admin and admin in ADMIN:
            forms.append(place + alias[len(place) + 1:])
    return forms


def _spellings(name: str, cap: int) -> list[str]:
    """``name`` in toneless pinyin, each character in each of its readings (in their sorted order), at most ``cap``
    spellings; none when a character has no reading."""
    sounds = reverse_dictionary().sounds
    spellings = [""]
    for char in name:
        spellings = [s + r for s in spellings for r in sorted(sounds.get(char, ()))][:cap]
    return spellings


@lru_cache(maxsize=1)
def _gloss_words() -> dict[str, tuple[str, ...]]:
    """Each word of the dictionary's English glosses -> every Chinese word a gloss with it renders (yangtze -> 长江,
    of "Yangtze River")."""
    index: dict[str, list[str]] = {}
    for gloss, words in reverse_dictionary().glosses.items():
        for word in gloss.split():
            index.setdefault(word, []).extend(words)
    return {word: tuple(dict.fromkeys(words)) for word, words in index.items()}


@lru_cache(maxsize=1)
def _syllables() -> frozenset[str]:
    return frozenset(r for r in reverse_dictionary().readings.values() if r)


@lru_cache(maxsize=4096)
def _pinyin(word: str) -> bool:
    """Whether ``word`` is written wholly in pinyin syllables (huaxia, zhongxiyi)."""
    syllables = _syllables()
    ok = [True] + [False] * len(word)
    for end in range(1, len(word) + 1):
        ok[end] = any(ok[start] and word[start:end] in syllables for start in range(max(0, end - 6), end))
    return ok[-1]


def _joined(tokens: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Tokens with the pieces of a name the tagger split joined again: a number before a head word (北京|301|医院:
    301医院) and a lone 院 after a word it makes a head with (妇幼保健|院, 附二|院), so that a hospital the
    documents never name is found as one, and refused."""
    out: list[tuple[str, str]] = []
    for word, flag in tokens:
        if out and word == "院" and head_of(out[-1][0] + word) is not None:
            out[-1] = (out[-1][0] + word, "nz")
        elif out and out[-1][0].isdigit() and len(out[-1][0]) <= 4 and head_of(word) is not None:
            out[-1] = (out[-1][0] + word, "nz")
        else:
            out.append((word, flag))
    return out


_NAME_WORD = r"[A-Za-zÀ-ÿ'’-]*"  # the rest of a word of a name in Latin letters (Charité, Di'er)
_INNER_CAPITAL = re.compile(rf"(?<=\b(?:in|at) )[A-Z]{_NAME_WORD}")
_BETWEEN = frozenset("那 这 家 个 那家 这家 那个 这个 的 那边 这边 那里".split())


def _place_before(tokens: list[tuple[str, str]], i: int, known: Collection[str]) -> str:
    """The place (荆州, without 市) written just before token ``i``, across at most two words such as 那家 / 的
    (荆州那家二院), or "": a place word, or a word that is one of the ``known`` places (the tagger takes 邵阳 for a
    person's name)."""
    j = i - 1
    while j >= 0 and i - j <= 3 and tokens[j][0] in _BETWEEN:
        j -= 1
    if j < 0 or (tokens[j][1] != "ns" and place_core(tokens[j][0]) not in known):
        return ""
    return place_core(tokens[j][0])


def _inner_names(name: str) -> list[str]:
    """``name`` without the places in front of the one it starts from (湖北省荆州市第二人民医院 -> 荆州市第二人民医院;
    重庆江津区第二人民医院 -> 江津区第二人民医院): a province or city written before a place inside it."""
    levels = reverse_dictionary().place_levels
    out = []
    while True:
        outer = next((name[:n] for n in range(min(6, len(name) - 2), 1, -1) if name[:n] in levels), "")
        rest = name[len(outer):]
        if not outer or not name_place(rest) or len(rest) < 4:
            return out
        out.append(rest)
        name = rest


def _specific(words: list[str], places: list[str]) -> set[str]:
    """The words of an English organisation name beyond its place and generic words (Central in Jingzhou Central
    Hospital; none in the Shiyan hospital). A place is left out by its pinyin or by the word that spelled it
    (Shaoyang: 邵 has no reading in the pinyin table)."""
    place_keys = {spell(p) for p in places}
    return {s for w in _words_not_spelling(words, places) for s in lemmas(w)} - _GENERIC_STEMS - place_keys


def _words_not_spelling(words: list[str], places: list[str]) -> list[str]:
    """``words`` but those the dictionary spells as one of ``places`` (Shaoyang: 邵阳, whose 邵 has no reading in
    the pinyin table, so its pinyin key misses it)."""
    names = reverse_dictionary().names
    return [w for w in words if not any(c in places for c in names.get(w, []))]


def _matches(stem: str, english: set[str]) -> bool:
    """Whether an English stem is one of an organisation's gloss stems, or shares its first four letters with one
    (central / center: the dictionary glosses 中心 as center)."""
    return stem in english or (len(stem) >= 4 and any(w[:4] == stem[:4] and len(w) >= 4 for w in english))
