"""Validate the evaluation data in this folder against the seed articles (standard library only).

Run: ``python bench/data/check.py`` (``--seeds DIR`` for another copy of the articles, ``--public DIR`` for the
public sets, default ``../shared/eval`` beside the checkout when it is there). Prints every error and warning
and the counts per file, kind, language and answerability; exit status 1 when there is any error.

Checks:
* every line is a JSON object with the fields of its format and the right types; ids unique over all files;
* ``lang`` is zh or en; seed ``kind`` and conversation ``kind`` are known values; 2-4 turns a conversation;
* an answerable item names an existing ``doc``, has at least one evidence string and an answer; every evidence
  string occurs verbatim, all whitespace removed on both sides (the rule of ``shared/eval/evaluate.py``), in that
  article and in no other, so that a passage of the wrong hospital can never count as a hit;
* an unanswerable item has ``evidence: []`` and ``answer: null``; its optional ``absent`` strings (the asked
  attribute or name, as the articles would write it) occur in no article (``doc`` null) or not in its ``doc``;
* a conversation's first turn is answerable and its ``standalone`` is the question itself;
* held-out files are independent of the development files: no evidence span of a held-out item overlaps an
  evidence span of a development item, no question (or standalone rewrite) is repeated, no junk line is shared
  (every development junk file against every held-out one);
* no line of a development junk file repeats a line of another development junk file;
* no item repeats a question of the public ``seed_qa.jsonl`` / ``conversations.jsonl`` or overlaps their evidence.
Evidence outside 8-40 characters is a warning.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
_WS = re.compile(r"[\s\u200b\u200c\u200d\u2060\ufeff\u00ad]+")

SEED_FIELDS = {"id", "question", "lang", "answerable", "doc", "evidence", "answer"}
SEED_OPTIONAL = {"kind", "absent"}
SEED_KINDS = {"answerable", "attribute", "entity", "swap"}
TURN_FIELDS = {"question", "lang", "answerable", "doc", "evidence", "answer", "standalone"}
CONV_KINDS = {"switch", "pronoun", "ellipsis", "drill", "shift", "unanswerable", "english"}
LANGS = {"zh", "en"}
SEED_FILES = ("seed_questions.dev.jsonl", "seed_questions.heldout.jsonl", "seed_questions.dev2.jsonl",
              "seed_questions.dev3.jsonl", "seed_questions.dev4.jsonl", "seed_questions.dev5.jsonl",
              "seed_questions.dev6.jsonl", "seed_questions.dev7.jsonl",
              "seed_questions.dev8.jsonl")
CONV_FILES = ("conversations.dev.jsonl", "conversations.heldout.jsonl", "conversations.dev2.jsonl",
              "conversations.dev3.jsonl", "conversations.dev4.jsonl", "conversations.dev5.jsonl",
              "conversations.dev6.jsonl", "conversations.dev7.jsonl",
              "conversations.dev8.jsonl", "conversations.dev9.jsonl", "conversations.dev10.jsonl",
              "conversations.dev11.jsonl", "conversations.dev12.jsonl")
JUNK_FILES = ("junk.txt", "junk.heldout.txt", "junk.dev2.txt", "junk.dev3.txt", "junk.dev4.txt", "junk.dev5.txt",
              "junk.dev6.txt")

Span = tuple[str, str, int, int]  # doc, where, start, end


def squeeze(text: str) -> str:
    """Remove every whitespace (and zero-width) character, as evaluate.py does for evidence."""
    return _WS.sub("", text)


@dataclass
class Result:
    """What one file holds, for the counts and the cross-file checks."""

    rows: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    spans: list[Span] = field(default_factory=list)
    questions: list[tuple[str, str]] = field(default_factory=list)
    lines: set[str] = field(default_factory=set)
    line_no: dict[str, int] = field(default_factory=dict)  # junk files: first line number of each line


class Checker:
    """Collects errors and warnings while it reads the files."""

    def __init__(self, docs: dict[str, str]) -> None:
        self.docs = docs
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.ids: set[str] = set()

    def error(self, where: str, msg: str) -> None:
        self.errors.append(f"{where}: {msg}")

    def warn(self, where: str, msg: str) -> None:
        self.warnings.append(f"{where}: {msg}")

    def spans(self, doc: str, evidence: str) -> list[tuple[int, int]]:
        text, needle, out = self.docs[doc], squeeze(evidence), []
        start = text.find(needle)
        while start >= 0 and needle:
            out.append((start, start + len(needle)))
            start = text.find(needle, start + 1)
        return out

    def read_jsonl(self, path: Path) -> list[tuple[str, dict[str, Any]]]:
        rows = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                self.error(f"{path.name}:{n}", f"not JSON ({exc})")
                continue
            if not isinstance(row, dict):
                self.error(f"{path.name}:{n}", "not a JSON object")
                continue
            rows.append((f"{path.name}:{n}", row))
        return rows

    def new_id(self, where: str, row: dict[str, Any]) -> str:
        rid = row.get("id")
        if not isinstance(rid, str) or not rid:
            self.error(where, "id must be a non-empty string")
            return where
        if rid in self.ids:
            self.error(where, f"duplicate id {rid}")
        self.ids.add(rid)
        return f"{where.split(':')[0]}:{rid}"

    def item(self, where: str, item: dict[str, Any], res: Result) -> None:
        """The fields a seed question and a conversation turn share."""
        if not isinstance(item.get("question"), str) or not item["question"].strip():
            self.error(where, "question must be a non-empty string")
        if item.get("lang") not in LANGS:
            self.error(where, f"lang {item.get('lang')!r} is not zh or en")
        if not isinstance(item.get("answerable"), bool):
            self.error(where, "answerable must be true or false")
            return
        doc, evidence, answer = item.get("doc"), item.get("evidence"), item.get("answer")
        if doc is not None and doc not in self.docs:
            self.error(where, f"doc {doc!r} is not one of the articles")
            return
        if not isinstance(evidence, list) or not all(isinstance(e, str) for e in evidence):
            self.error(where, "evidence must be a list of strings")
            return
        if not item["answerable"]:
            if evidence:
                self.error(where, "an unanswerable item has evidence []")
            if answer is not None:
                self.error(where, "an unanswerable item has answer null")
            return
        if doc is None:
            self.error(where, "an answerable item names its doc")
            return
        if not evidence:
            self.error(where, "an answerable item needs evidence")
        if not isinstance(answer, str) or not answer.strip():
            self.error(where, "an answerable item needs an answer")
        for ev in evidence:
            found = self.spans(doc, ev)
            if not found:
                self.error(where, f"evidence not in {doc}: {ev!r}")
                continue
            others = [d[:3] for d in self.docs if d != doc and self.spans(d, ev)]
            if others:
                self.error(where, f"evidence also occurs in {', '.join(others)} (not specific): {ev!r}")
            if not 8 <= len(squeeze(ev)) <= 40:
                self.warn(where, f"evidence is {len(squeeze(ev))} characters: {ev!r}")
            res.spans.extend((doc, where, a, b) for a, b in found)

    def seed_file(self, path: Path) -> Result:
        res = Result()
        for where, row in self.read_jsonl(path):
            keys = set(row)
            if not SEED_FIELDS <= keys or keys - SEED_FIELDS - SEED_OPTIONAL:
                self.error(where, f"fields {sorted(keys)}; expected {sorted(SEED_FIELDS)}"
                                  f" (+ optional {sorted(SEED_OPTIONAL)})")
                continue
            where = self.new_id(where, row)
            self.item(where, row, res)
            answerable = row["answerable"] is True
            kind = row.get("kind", "answerable" if answerable else "unanswerable")
            if "kind" in row:
                if kind not in SEED_KINDS:
                    self.error(where, f"kind {kind!r} is not one of {sorted(SEED_KINDS)}")
                elif (kind == "answerable") != answerable:
                    self.error(where, f"kind {kind!r} does not agree with answerable={row['answerable']}")
                elif kind == "entity" and row["doc"] is not None:
                    self.error(where, "an unknown-entity item has doc null")
                elif kind in ("attribute", "swap") and row["doc"] is None:
                    self.error(where, f"a {kind} item names the asked hospital's doc")
            absent = row.get("absent", [])
            if not isinstance(absent, list) or not all(isinstance(a, str) and a.strip() for a in absent):
                self.error(where, "absent must be a list of non-empty strings")
                absent = []
            if absent and answerable:
                self.error(where, "absent is only for unanswerable items")
            for term in absent:
                inside = [d[:3] for d in self.docs if row["doc"] in (None, d) and self.spans(d, term)]
                if inside:
                    self.error(where, f"absent term {term!r} occurs in {', '.join(inside)}")
            res.rows += 1
            res.questions.append((squeeze(str(row.get("question"))), where))
            state = "answerable" if answerable else "unanswerable"
            res.counts[state] += 1
            res.counts[f"{state} {row.get('lang')}"] += 1
            res.counts[f"kind {kind}"] += 1
            if answerable and row["doc"] in self.docs:
                res.counts[f"answerable doc {row['doc'][:3]}"] += 1
        return res

    def conv_file(self, path: Path) -> Result:
        res = Result()
        for where, row in self.read_jsonl(path):
            if set(row) != {"id", "kind", "turns"}:
                self.error(where, f"fields {sorted(row)}; expected ['id', 'kind', 'turns']")
                continue
            where = self.new_id(where, row)
            if row["kind"] not in CONV_KINDS:
                self.error(where, f"kind {row['kind']!r} is not one of {sorted(CONV_KINDS)}")
            turns = row["turns"]
            if not isinstance(turns, list) or not 2 <= len(turns) <= 4:
                self.error(where, "turns must be a list of 2-4 turns")
                continue
            res.rows += 1
            res.counts[f"kind {row['kind']}"] += 1
            for i, turn in enumerate(turns):
                tw = f"{where}#{i + 1}"
                if not isinstance(turn, dict) or set(turn) != TURN_FIELDS:
                    self.error(tw, f"a turn has exactly the fields {sorted(TURN_FIELDS)}")
                    continue
                self.item(tw, turn, res)
                if not isinstance(turn["standalone"], str) or not turn["standalone"].strip():
                    self.error(tw, "standalone must be a non-empty string")
                    continue
                if i == 0 and turn["answerable"] is not True:
                    self.error(tw, "the first turn is a normal, answerable question")
                if i == 0 and turn["standalone"] != turn["question"]:
                    self.error(tw, "a first turn's standalone is the question itself")
                res.questions.append((squeeze(turn["standalone"]), tw))
                role = "first" if i == 0 else "follow-up"
                res.counts["turns"] += 1
                res.counts[f"turns {turn.get('lang')}"] += 1
                res.counts[f"{role} {'answerable' if turn['answerable'] is True else 'unanswerable'}"] += 1
        return res

    def junk_file(self, path: Path) -> Result:
        res = Result()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{path.name}:{n}"
            if not line.strip():
                self.error(where, "empty line")
                continue
            if line != line.strip():
                self.error(where, "leading or trailing whitespace")
            if line in res.lines:
                self.error(where, f"duplicate line {line!r}")
            res.lines.add(line)
            res.line_no.setdefault(line, n)
            res.rows += 1
        return res

    def overlaps(self, held: list[Span], other: list[Span], what: str) -> None:
        by_doc: dict[str, list[tuple[str, int, int]]] = {}
        for doc, where, a, b in other:
            by_doc.setdefault(doc, []).append((where, a, b))
        for doc, where, a, b in held:
            hit = next((w for w, oa, ob in by_doc.get(doc, []) if a < ob and oa < b), None)
            if hit:
                self.error(where, f"evidence overlaps {what} {hit} in {doc[:3]}")

    def repeats(self, held: list[tuple[str, str]], other: list[tuple[str, str]], what: str) -> None:
        seen = dict(other)
        for q, where in held:
            if q in seen:
                self.error(where, f"question repeats {what} {seen[q]}")


def public_sets(checker: Checker, folder: Path) -> Result:
    """The public seed_qa.jsonl and conversations.jsonl, read with their own ids (not counted)."""
    res = Result()
    shadow = Checker(checker.docs)
    for name in ("seed_qa.jsonl", "conversations.jsonl"):
        path = folder / name
        if not path.exists():
            continue
        for _where, row in shadow.read_jsonl(path):
            turns = row.get("turns", [row])
            for i, turn in enumerate(turns):
                tw = f"{name}:{row.get('id')}" + (f"#{i + 1}" if "turns" in row else "")
                if turn.get("answerable") and turn.get("doc") in checker.docs:
                    for ev in turn.get("evidence") or []:
                        res.spans.extend((turn["doc"], tw, a, b) for a, b in shadow.spans(turn["doc"], ev))
                res.questions.append((squeeze(str(turn.get("question"))), tw))
                if turn.get("standalone"):
                    res.questions.append((squeeze(turn["standalone"]), tw))
    return res


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", type=Path, default=ROOT / "seeds", help="folder of the five articles")
    parser.add_argument("--public", type=Path, default=ROOT.parent / "shared" / "eval",
                        help="folder of the public seed_qa.jsonl and conversations.jsonl (skipped when absent)")
    args = parser.parse_args(argv)
    docs = {p.name: squeeze(p.read_text(encoding="utf-8")) for p in sorted(args.seeds.glob("*.txt"))}
    if not docs:
        print(f"No articles in {args.seeds}; pass --seeds DIR.")
        return 1
    checker = Checker(docs)
    results: dict[str, Result] = {}
    readers = [(SEED_FILES, checker.seed_file), (CONV_FILES, checker.conv_file), (JUNK_FILES, checker.junk_file)]
    for names, reader in readers:
        for name in names:
            if (HERE / name).exists():
                results[name] = reader(HERE / name)
            else:
                checker.error(name, "missing")
                results[name] = Result()
    # every file that is not held out is development data (dev2, dev3: later development sets)
    dev = [r for name, r in results.items() if name.endswith(".jsonl") and "heldout" not in name]
    held = [r for name, r in results.items() if name.endswith(".jsonl") and "heldout" in name]
    dev_spans = [s for r in dev for s in r.spans]
    dev_questions = [q for r in dev for q in r.questions]
    for r in held:
        checker.overlaps(r.spans, dev_spans, "development item")
        checker.repeats(r.questions, dev_questions, "development item")
    dev_junk = [name for name in JUNK_FILES if "heldout" not in name]
    held_junk = [name for name in JUNK_FILES if "heldout" in name]
    for h in held_junk:
        for line in sorted(results[JUNK_FILES[0]].lines & results[h].lines):
            checker.error(h, f"line also in {JUNK_FILES[0]}: {line!r}")
        for d in dev_junk[1:]:  # later development junk files: the development line is the one to delete
            for line in sorted(results[d].lines & results[h].lines, key=results[d].line_no.get):
                checker.error(f"{d}:{results[d].line_no[line]}", f"line also in {h}: {line!r}")
    for i, d in enumerate(dev_junk):
        for earlier in dev_junk[:i]:
            for line in sorted(results[d].lines & results[earlier].lines, key=results[d].line_no.get):
                checker.error(f"{d}:{results[d].line_no[line]}", f"line also in {earlier}: {line!r}")
    if args.public.is_dir():
        pub = public_sets(checker, args.public)
        for r in dev + held:
            checker.overlaps(r.spans, pub.spans, "public item")
            checker.repeats(r.questions, pub.questions, "public item")
        print(f"compared with the public sets in {args.public}")
    else:
        print(f"public sets not found at {args.public}: not compared")
    for name, r in results.items():
        detail = ", ".join(f"{k} {v}" for k, v in sorted(r.counts.items()))
        unit = "lines" if name.endswith(".txt") else "conversations" if name in CONV_FILES else "questions"
        print(f"{name}: {r.rows} {unit}" + (f" ({detail})" if detail else ""))
    for w in checker.warnings:
        print("warning:", w)
    for e in checker.errors:
        print("ERROR:", e)
    print(f"{len(checker.errors)} errors, {len(checker.warnings)} warnings")
    return 1 if checker.errors else 0


if __name__ == "__main__":
    sys.exit(main())
