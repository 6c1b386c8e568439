"""What the unknown-term rules (qa/terms.py) cost and what they catch; no model needed, ~1 min.

Cost: the share of the public benchmarks' answerable Chinese questions that each rule would refuse, checked
against the benchmark's whole corpus (how the service would run over it) and against the question's own
article only (a few paragraphs, closer to the size of our five seed documents, so a harder test). Catch: the
share of off-topic questions (other benchmarks' questions asked against the seeds) each rule refuses, and
which seed_qa.jsonl questions it refuses.

    .venv/bin/python -m bench.terms
"""

from __future__ import annotations

import random
from collections import defaultdict

from qa.evaluation import load_queries, read_jsonl
from qa.index.keywords import tokenize
from qa.search.terms import counted_noun, name_bigrams, question_names
from qa.text import fold, squeeze

from ._common import EVAL, ROOT, machine, table, write_results

SETS = {
    "XQuAD zh": ("xquad_zh", "queries.zh.jsonl"),
    "CMRC 2018 dev": ("cmrc2018_dev", "queries.jsonl"),
    "DRCD dev": ("drcd_dev", "queries.jsonl"),
}


class Documents:
    """The folded text and bigrams of some documents: what the rules look words up in."""

    def __init__(self, texts: list[str]) -> None:
        self.text = "\n".join(squeeze(fold(t)) for t in texts)
        self.bigrams = {b for t in texts for b in tokenize(t, "bigram")}

    def unknown(self, question: str) -> dict[str, list[str]]:
        """The words each rule finds unknown in ``question``."""
        noun = counted_noun(question)
        return {
            "names": [n for n in question_names(question) if not any(b in self.bigrams for b in name_bigrams(n))],
            "counted": [noun] if noun and noun not in self.text else [],
        }


def main() -> None:
    rng = random.Random(13)
    seeds = Documents([p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))])
    rows, results = [], {"machine": machine(), "sets": {}}
    for label, (folder, queries) in SETS.items():
        corpus_rows = read_jsonl(EVAL / folder / "corpus.jsonl")
        corpus = Documents([r["text"] for r in corpus_rows])
        by_title: dict[str, list[str]] = defaultdict(list)
        title_of = {}
        for r in corpus_rows:
            by_title[r.get("title", "")].append(r["text"])
            title_of[r["id"]] = r.get("title", "")
        articles = {title: Documents(texts) for title, texts in by_title.items()}
        questions = [r for r in read_jsonl(EVAL / folder / queries) if r.get("answerable", True)]
        off = rng.sample([r["text"] for r in questions], min(300, len(questions)))
        entry = {"answerable": len(questions), "off_topic": len(off)}
        for rule in ("names", "counted"):
            whole = [(r["text"], u) for r in questions if (u := corpus.unknown(r["text"])[rule])]
            own = [(r["text"], u) for r in questions
                   if (u := articles[title_of[r["gold"][0]]].unknown(r["text"])[rule])]
            caught = sum(1 for q in off if seeds.unknown(q)[rule])
            entry[rule] = {"refused_whole_corpus": len(whole), "refused_own_article": len(own),
                           "off_topic_refused": caught, "examples_whole": whole[:10], "examples_own": own[:10]}
            rows.append([label, rule, len(questions), f"{len(whole) / len(questions):.2%}",
                         f"{len(own) / len(questions):.2%}", f"{caught / len(off):.1%}"])
        results["sets"][label] = entry
    print(table(["set", "rule", "answerable", "refused (whole corpus)", "refused (own article)",
                 "off-topic refused"], rows))
    seed_rows = []
    for q in load_queries(ROOT / "tests" / "data" / "seed_qa.jsonl"):
        if q.lang == "zh":
            unknown = seeds.unknown(q.text)
            if unknown["names"] or unknown["counted"]:
                seed_rows.append([q.id, "answerable" if q.answerable else "unanswerable",
                                  " ".join(unknown["names"] + unknown["counted"])])
    print(table(["seed_qa", "kind", "unknown terms"], seed_rows))
    results["seed_qa"] = seed_rows
    write_results("terms.json", results)


if __name__ == "__main__":
    main()
