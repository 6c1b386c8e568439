"""Prometheus metrics (prometheus-client) and ``GET /metrics``.

With one worker the metrics live in this process's default registry. ``qa serve --workers N`` sets
``PROMETHEUS_MULTIPROC_DIR`` before the workers start, so every worker writes its values to files there
and ``/metrics`` (answered by any worker) adds them up: prometheus-client's multiprocess mode.
"""

from __future__ import annotations

import os

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

from .. import __version__

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
disable_created_metrics()  # no *_created series: they double the output and nobody graphs them
_SECONDS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter("qa_http_requests", "HTTP requests answered, by route template, method and status",
                   ["route", "method", "status"])
LATENCY = Histogram("qa_http_request_duration_seconds", "Time to answer an HTTP request, by route template",
                    ["route", "method"], buckets=_SECONDS)
IN_FLIGHT = Gauge("qa_http_requests_in_flight", "HTTP requests being answered now", multiprocess_mode="livesum")
MODEL = Histogram("qa_model_encode_seconds", "Time in the model: encoding one question (timings_ms.encode)",
                  buckets=_SECONDS)
STAGES = Histogram("qa_answer_stage_seconds", "Time per answer stage (encode, dense, keyword, fuse, answer, ...)",
                   ["stage"], buckets=_SECONDS)
ANSWERS = Counter("qa_answers", "Questions answered, by outcome: found, or refused (no reliable answer)",
                  ["outcome"])
CACHE_HITS = Counter("qa_answer_cache_hits", "Answers served from the short-lived answer cache")
SHED = Counter("qa_shed_requests", "Requests refused with 503 + Retry-After because the model was busy")
RELOADS = Counter("qa_index_reloads", "Index loads (start-up, rebuilds picked up, admin reloads), by result",
                  ["result"])
DOCUMENTS = Gauge("qa_index_documents", "Documents in the served index", multiprocess_mode="livemostrecent")
PASSAGES = Gauge("qa_index_passages", "Passages in the served index", multiprocess_mode="livemostrecent")
INDEX_UP = Gauge("qa_index_up", "1 while an index is loaded, 0 without one", multiprocess_mode="livemin")
FEEDBACK = Counter("qa_feedback", "Feedback votes stored, by vote", ["vote"])
BUILD_INFO = Gauge("qa_build_info", "This service: version, model and backend (value 1)",
                   ["version", "model", "backend"], multiprocess_mode="livemax")

router = APIRouter(include_in_schema=False)


def multiprocess_mode() -> bool:
    """Whether metrics are shared between worker processes (``PROMETHEUS_MULTIPROC_DIR`` is set)."""
    return bool(os.environ.get(MULTIPROC_ENV))


@router.get("/metrics")
def metrics() -> Response:
    """Every metric, in the Prometheus text format (all workers together in multiprocess mode)."""
    if multiprocess_mode():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def set_build_info(model: str, backend: str) -> None:
    BUILD_INFO.labels(version=__version__, model=model, backend=backend).set(1)


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(route=route, method=method, status=str(status)).inc()
    LATENCY.labels(route=route, method=method).observe(seconds)


def observe_answer(found: bool, timings_ms: dict[str, float], cached: bool) -> None:
    """Count one answer and, when it was computed now, the time of each stage."""
    ANSWERS.labels(outcome="found" if found else "refused").inc()
    if cached:
        CACHE_HITS.inc()
        return
    for stage, ms in timings_ms.items():
        STAGES.labels(stage=stage).observe(ms / 1000)
    if "encode" in timings_ms:
        MODEL.observe(timings_ms["encode"] / 1000)


def observe_index(ok: bool, served: tuple[int, int] | None) -> None:
    """Record one index load and what the served index holds: ``(documents, passages)``, or None without one
    (a failed reload keeps serving the index loaded before, when there is one)."""
    RELOADS.labels(result="ok" if ok else "failed").inc()
    INDEX_UP.set(0 if served is None else 1)
    DOCUMENTS.set(served[0] if served else 0)
    PASSAGES.set(served[1] if served else 0)


def worker_exit(pid: int | None = None) -> None:
    """Drop a finished worker's live gauges from the multiprocess files."""
    if multiprocess_mode():
        multiprocess.mark_process_dead(pid or os.getpid())
