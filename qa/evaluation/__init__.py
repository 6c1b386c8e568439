"""Measuring the service: benchmark recall and refusal (``benchmark``)."""

from .benchmark import (
    KS,
    HitRule,
    Query,
    Row,
    format_summary,
    load_queries,
    metrics,
    norm,
    read_jsonl,
    run,
    run_legs,
    summarize,
)

__all__ = [
    "KS",
    "HitRule",
    "Query",
    "Row",
    "format_summary",
    "load_queries",
    "metrics",
    "norm",
    "read_jsonl",
    "run",
    "run_legs",
    "summarize",
]
