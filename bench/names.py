"""What the unknown-name rule (qa/names.py) costs and what it catches; no model needed, ~30 s.

Cost: the share of the public benchmarks' answerable Chinese questions (each against its own corpus) that
the rule would refuse. Catch: the share of off-topic questions (other benchmarks' questions asked against
the seeds) it refuses, and which seed_qa.jsonl questions it refuses.

    .venv/bin/python -m bench.names
"""

from __future__ import annotations

import json
import random

from qa.evaluation import load_queries, read_jsonl
from qa.keywords import tokenize
from qa.names import unknown_names

from ._common import EVAL, ROOT, machine, table, write_results

SETS = {
    "XQuAD zh": ("xquad_zh", "queries.zh.jsonl"),
    "CMRC 2018 dev": ("cmrc2018_dev", "queries.jsonl"),
    "DRCD dev": ("drcd_dev", "queries.jsonl"),
}


def bigrams(texts: list[str]) -> set[str]:
    return {t for text in texts for t in tokenize(text, "bigram")}


def main() -> None:
    rng = random.Random(13)
    seeds = bigrams([p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))])
    rows, results = [], {"machine": machine(), "sets": {}}
    for label, (folder, queries) in SETS.items():
        corpus = bigrams([r["text"] for r in read_jsonl(EVAL / folder / "corpus.jsonl")])
        questions = [r["text"] for r in read_jsonl(EVAL / folder / queries)]
        flagged = [(q, names) for q in questions if (names := unknown_names(q, corpus))]
        off = rng.sample(questions, min(300, len(questions)))
        caught = sum(1 for q in off if unknown_names(q, seeds))
        results["sets"][label] = {"answerable": len(questions), "refused": len(flagged),
                                  "examples": flagged[:10], "off_topic": len(off), "off_topic_refused": caught}
        rows.append([label, len(questions), f"{len(flagged) / len(questions):.2%}", len(off),
                     f"{caught / len(off):.1%}"])
    print(table(["set", "answerable", "refused by the rule", "asked of the seeds", "refused by the rule"], rows))
    seed_rows = []
    for q in load_queries(ROOT / "tests" / "data" / "seed_qa.jsonl"):
        if q.lang == "zh" and (names := unknown_names(q.text, seeds)):
            seed_rows.append([q.id, "answerable" if q.answerable else "unanswerable", " ".join(names)])
    print(table(["seed_qa", "kind", "unknown names"], seed_rows))
    results["seed_qa"] = seed_rows
    write_results("names.json", results)
    print(json.dumps({k: v["refused"] / v["answerable"] for k, v in results["sets"].items()}))


if __name__ == "__main__":
    main()
