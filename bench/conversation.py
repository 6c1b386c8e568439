"""Follow-up questions: the shipped resolution against the alternatives, side by side, and what a turn with
history costs.

Designs, each asked every follow-up turn of the conversation files (played as the chat page plays them: the
earlier turns and the answers the shipped path showed as history):

* ``alone``: the question as typed (a search box; Langchain-Chatchat's behaviour);
* ``rewrite`` (shipped): qa.search.conversation's standalone question, the carried entity as grounding context;
* ``topic``: the question as typed, the carried entity as grounding context only (topic tracking);
* ``concat``: the previous standalone question and this one, one after the other (history expansion);
* ``fused``: reciprocal-rank fusion of alone + rewrite + concat (three encodes).

Latency: p50 of the shipped path for turns with history against the same service asking the first turns
(no history), in process, paired in one run.

    python -m bench.conversation [FILE ...]
    # default: shared/eval/conversations.jsonl and bench/data/conversations.dev.jsonl
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from qa.evaluation.benchmark import read_jsonl
from qa.search.answer import ask, ask_turn
from qa.search.conversation import Turn, resolve
from qa.search.retriever import RRF_K, Retriever
from qa.settings import Settings

from ._common import EVAL, ROOT, machine, seed_retriever, write_results

DESIGNS = ("alone", "rewrite", "topic", "concat", "fused")


def _rank(hits, evidence: list[str]) -> int | None:
    wanted = ["".join(e.split()) for e in evidence]
    return next((i for i, h in enumerate(hits, 1) if any(w in "".join(h.passage.text.split()) for w in wanted)), None)


def _fused(*lists):
    scores: dict[int, float] = {}
    by_row = {}
    for hits in lists:
        for rank, h in enumerate(hits):
            scores[h.row] = scores.get(h.row, 0.0) + 1.0 / (RRF_K + rank + 1)
            by_row[h.row] = h
    return [by_row[r] for r in sorted(scores, key=lambda r: -scores[r])][:10]


def play(retriever: Retriever, path: Path) -> tuple[dict[str, list[int | None]], list[float], list[float]]:
    ranks: dict[str, list[int | None]] = {d: [] for d in DESIGNS}
    with_history, first = [], []
    for conv in read_jsonl(path):
        history: list[Turn] = []
        standalones: list[str] = []
        for position, turn in enumerate(conv["turns"]):
            started = time.perf_counter()
            shipped = ask_turn(retriever, turn["question"], history, 10)
            (with_history if history else first).append((time.perf_counter() - started) * 1000)
            understood = shipped.understood or resolve(retriever, turn["question"], [])
            follow = position > 0 and turn["answerable"] and not (conv["kind"] == "shift"
                                                                   and turn["standalone"] == turn["question"])
            if follow:
                alone = ask(retriever, turn["question"], 10).hits
                concat = ask(retriever, f"{standalones[-1]} {turn['question']}", 10).hits
                topic = ask(retriever, turn["question"], 10, context=understood.entities).hits
                for design, hits in (("alone", alone), ("rewrite", shipped.hits), ("topic", topic),
                                     ("concat", concat), ("fused", _fused(alone, shipped.hits, concat))):
                    ranks[design].append(_rank(hits, turn["evidence"]))
            standalones.append(understood.question)
            history.append(Turn(turn["question"], shipped.answer.display if shipped.answer else None))
    return ranks, with_history, first


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path,
                        default=[EVAL / "conversations.jsonl", ROOT / "bench" / "data" / "conversations.dev.jsonl"])
    args = parser.parse_args(argv)
    settings = Settings()
    retriever = seed_retriever(settings)
    results = {"machine": machine(), "files": {}}
    for path in args.files:
        ranks, with_history, first = play(retriever, path)
        table = {d: {"n": len(r), "R@1": round(sum(1 for x in r if x == 1) / max(1, len(r)), 3),
                     "R@5": round(sum(1 for x in r if x and x <= 5) / max(1, len(r)), 3)} for d, r in ranks.items()}
        p50h, p50f = statistics.median(with_history), statistics.median(first)
        results["files"][path.name] = {"follow_ups": table, "p50_ms_with_history": round(p50h, 1),
                                       "p50_ms_first_turns": round(p50f, 1), "ratio": round(p50h / p50f, 3)}
        print(path.name)
        for d, row in table.items():
            print(f"  {d:<8} n={row['n']:<4} R@1 {row['R@1']:.3f}  R@5 {row['R@5']:.3f}")
        print(f"  p50 with history {p50h:.0f} ms, first turns {p50f:.0f} ms: {p50h / p50f:.2f}x")
    write_results("conversation", results)
    print(json.dumps(results["files"], indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
