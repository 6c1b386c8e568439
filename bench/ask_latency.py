"""What answering costs beyond the model: ``qa.search.answer.ask`` against a bare question encode, in process,
paired question by question on the seed index (issue #16's budget: p50 at most 1.5x the bare encode, the
found decision, entity grounding and the answer sentence included).

Each question is asked with a space appended per round, so no cache (mentions, folding, answers) answers it.

    python -m bench.ask_latency [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from qa.evaluation.benchmark import load_queries
from qa.search.answer import ask
from qa.settings import Settings

from ._common import ROOT, SEED_QA, machine, seed_retriever, write_results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    settings = Settings()
    retriever = seed_retriever(settings)
    questions = [q.text for q in load_queries(SEED_QA)
                 + load_queries(ROOT / "bench" / "data" / "seed_questions.dev.jsonl")]
    for q in questions[:20]:  # warm the model's threads and the tagger
        ask(retriever, q, 5)
    encode, answer = [], []
    for round_ in range(args.rounds):
        pad = " " * (round_ + 1)
        for q in questions:
            started = time.perf_counter()
            retriever.embedder.embed_queries([q + pad])
            encode.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            ask(retriever, q + pad, 5)
            answer.append((time.perf_counter() - started) * 1000)
    result = {"machine": machine(), "backend": settings.backend, "questions": len(questions), "rounds": args.rounds,
              "encode_p50_ms": round(statistics.median(encode), 2), "ask_p50_ms": round(statistics.median(answer), 2),
              "ratio": round(statistics.median(answer) / statistics.median(encode), 3)}
    write_results("ask_latency", result)
    print(f"{settings.backend}: encode p50 {result['encode_p50_ms']} ms, ask p50 {result['ask_p50_ms']} ms, "
          f"{result['ratio']}x")


if __name__ == "__main__":
    main()
