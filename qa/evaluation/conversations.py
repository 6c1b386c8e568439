"""`qa eval --conversations FILE`: follow-up turns asked with their history, alone, and as their rewrite.

Each conversation is played as the chat page plays it: turn 1 is asked alone, and every later turn is asked
with the earlier turns as its history, their answers being the answer sentences this service showed (None
when it found none). A turn is a hit like a seed_qa item (a passage containing its evidence). Follow-up
turns (every turn after the first, except shifts) are reported per conversation kind, three ways: with
their history (the product), alone (what a search box does), and as their ``standalone`` rewrite asked alone
(the ceiling). Shift turns are reported apart: history must not bend them.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..search.answer import Result, ask, ask_turn
from ..search.conversation import Turn
from ..search.retriever import Retriever
from .benchmark import read_jsonl

MODES = ("history", "alone", "standalone")


@dataclass
class TurnRow:
    conversation: str
    kind: str
    position: int
    question: str
    standalone: str
    understood: str
    answerable: bool
    shift: bool
    rank: dict[str, int | None] = field(default_factory=dict)
    found: dict[str, bool] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)


def _rank(result: Result, evidence: list[str]) -> int | None:
    squeezed = [("".join(h.passage.text.split()), i) for i, h in enumerate(result.hits, 1)]
    wanted = ["".join(e.split()) for e in evidence]
    return next((i for text, i in squeezed if any(w in text for w in wanted)), None)




def run_conversations(retriever: Retriever, path: Path, *, k: int = 10,
                      progress: Callable[[int], None] | None = None) -> list[TurnRow]:
    """Play every conversation of ``path`` (see the module docstring)."""
    rows: list[TurnRow] = []
    for conv in read_jsonl(path):
        history: list[Turn] = []
        for position, turn in enumerate(conv["turns"]):
            shift = conv["kind"] == "shift" and position > 0 and turn["standalone"] == turn["question"]
            row = TurnRow(conv["id"], conv["kind"], position, turn["question"], turn["standalone"], "",
                          bool(turn["answerable"]), shift)
            started = time.perf_counter()
            result = ask_turn(retriever, turn["question"], history, k)
            row.latency_ms["history"] = (time.perf_counter() - started) * 1000
            row.understood = result.understood.question if result.understood else turn["question"]
            row.rank["history"], row.found["history"] = _rank(result, turn["evidence"]), result.found
            for mode, text in (("alone", turn["question"]), ("standalone", turn["standalone"])):
                started = time.perf_counter()
                other = ask(retriever, text, k)
                row.latency_ms[mode] = (time.perf_counter() - started) * 1000
                row.rank[mode], row.found[mode] = _rank(other, turn["evidence"]), other.found
            rows.append(row)
            history.append(Turn(turn["question"], result.answer.display if result.answer else None))
        if progress:
            progress(1)
    return rows


def _recall(rows: list[TurnRow], mode: str) -> dict[str, float]:
    n = len(rows) or 1
    return {"n": len(rows), "R@1": round(sum(1 for r in rows if (r.rank[mode] or 99) <= 1) / n, 4),
            "R@5": round(sum(1 for r in rows if (r.rank[mode] or 99) <= 5) / n, 4)}


def summarize_conversations(rows: list[TurnRow]) -> dict[str, Any]:
    """Recall per kind and mode, shift turns, refusal of unanswerable follow-ups, latency."""
    follow = [r for r in rows if r.position > 0 and not r.shift and r.answerable]
    out: dict[str, Any] = {"follow_ups": {m: _recall(follow, m) for m in MODES}}
    by_kind: dict[str, list[TurnRow]] = defaultdict(list)
    for r in follow:
        by_kind[r.kind].append(r)
    out["by_kind"] = {kind: {m: _recall(rs, m) for m in MODES} for kind, rs in sorted(by_kind.items())}
    shifts = [r for r in rows if r.shift and r.answerable]
    if shifts:
        out["shift"] = {m: _recall(shifts, m) for m in ("history", "alone")}
    first = [r for r in rows if r.position == 0 and r.answerable]
    out["first_turns"] = _recall(first, "history")
    unanswerable = [r for r in rows if r.position > 0 and not r.answerable]
    answerable = [r for r in rows if r.answerable]
    out["refusal"] = {
        "unanswerable_follow_ups": len(unanswerable),
        "refused": round(sum(not r.found["history"] for r in unanswerable) / max(1, len(unanswerable)), 4),
        "answerable_turns": len(answerable),
        "answered": round(sum(r.found["history"] for r in answerable) / max(1, len(answerable)), 4),
    }
    with_history = [r.latency_ms["history"] for r in rows if r.position > 0]
    alone = [r.latency_ms["alone"] for r in rows if r.position > 0]
    if with_history and alone:
        out["latency_ms"] = {"p50_with_history": round(statistics.median(with_history), 1),
                             "p50_alone": round(statistics.median(alone), 1)}
    return out


def format_conversations(summary: dict[str, Any]) -> str:
    lines = [f"{'follow-up turns':<22}{'n':>5}" + "".join(f"{m + ' R@1':>17}{m + ' R@5':>17}" for m in MODES)]

    def line(label: str, stats: dict[str, dict[str, float]]) -> str:
        n = next(iter(stats.values()))["n"]
        return f"{label:<22}{n:>5}" + "".join(
            f"{stats[m]['R@1']:>17.3f}{stats[m]['R@5']:>17.3f}" for m in MODES if m in stats)

    lines.append(line("all", summary["follow_ups"]))
    for kind, stats in summary["by_kind"].items():
        lines.append(line(f"  {kind}", stats))
    if "shift" in summary:
        s = summary["shift"]
        lines.append(f"shift turns {s['history']['n']}: with history R@5 {s['history']['R@5']:.3f}, "
                     f"alone {s['alone']['R@5']:.3f}")
    r = summary["refusal"]
    lines.append(f"refused {r['refused']:.0%} of {r['unanswerable_follow_ups']} unanswerable follow-ups; "
                 f"answered {r['answered']:.0%} of {r['answerable_turns']} answerable turns")
    if "latency_ms" in summary:
        lat = summary["latency_ms"]
        lines.append(f"p50 latency: {lat['p50_with_history']:.0f} ms with history, {lat['p50_alone']:.0f} ms alone")
    return "\n".join(lines)
