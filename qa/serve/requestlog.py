"""One structured JSON log line per request, and the request metrics, from one ASGI middleware.

The middleware opens a small record for each request (a context variable); the service adds to it what
only the answer knows (found, stage timings, which index build answered). When the response is done the
record becomes one line on the ``qa.request`` logger and the request metrics are counted. The question
text is logged only when ``QA_LOG_QUESTIONS=1``.

Example line::

    {"ts": "2026-12-01T19:40:00.123Z", "level": "info", "event": "request", "id": "5f0c2a9e1b7d4c3a",
     "method": "POST", "route": "/api/ask", "status": 200, "ms": 41.7, "found": true, "cached": false,
     "timings_ms": {"encode": 30.1, "dense": 0.2, "keyword": 0.4, "fuse": 0.2, "answer": 0.3},
     "index": "20261201T193312-5a1c", "worker": 4242}
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import metrics

REQUEST_LOGGER = "qa.request"
log = logging.getLogger(REQUEST_LOGGER)
_record: ContextVar[dict[str, Any] | None] = ContextVar("qa_request_record", default=None)
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def note(**fields: Any) -> None:
    """Add fields to the current request's log line (no-op outside a request)."""
    record = _record.get()
    if record is not None:
        record.update(fields)


def note_answer(question: str, found: bool, timings_ms: dict[str, float], cached: bool, index: str,
                *, log_questions: bool) -> None:
    """What an answer adds to its request's line (the question only when ``log_questions``)."""
    fields: dict[str, Any] = {"found": found, "cached": cached, "timings_ms": dict(timings_ms), "index": index}
    if log_questions:
        fields["question"] = question
    note(**fields)


def route_of(scope: Scope) -> str:
    """The route template that answered (``/api/documents/{doc_id}``), never the raw path: bounded labels.

    A request refused before routing (a 431, a declared 413) or matching no route is ``unmatched``.
    """
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else "unmatched"


class JsonFormatter(logging.Formatter):
    """A log record as one JSON object: ts, level, then the record's ``fields`` (or its message)."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        data: dict[str, Any] = {"ts": ts, "level": record.levelname.lower()}
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            data.update(fields)
        else:
            data.update(logger=record.name, message=record.getMessage(), worker=record.process)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(data, ensure_ascii=False, default=str)


def configure(stream: Any = None) -> None:
    """Send the ``qa`` loggers (request lines and service events) to ``stream`` (stderr) as JSON lines."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    qa_logger = logging.getLogger("qa")
    for old in list(qa_logger.handlers):
        if isinstance(old.formatter, JsonFormatter):
            qa_logger.removeHandler(old)
    qa_logger.addHandler(handler)
    qa_logger.setLevel(logging.INFO)
    qa_logger.propagate = False


class RequestObserver:
    """Times every HTTP request, counts it in the metrics and writes its JSON log line.

    Also gives every response an ``X-Request-ID`` (the client's own, when it sent a sane one), which the
    log line carries as ``id``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = dict(scope.get("headers") or ()).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex[:16]
        record: dict[str, Any] = {}
        token = _record.set(record)
        status = 500

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message).setdefault("x-request-id", request_id)
            await send(message)

        metrics.IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, observe)
        finally:
            metrics.IN_FLIGHT.dec()
            _record.reset(token)
            seconds = time.perf_counter() - started
            route = route_of(scope)
            metrics.observe_request(route, scope["method"], status, seconds)
            line = {"event": "request", "id": request_id, "method": scope["method"], "route": route,
                    "status": status, "ms": round(seconds * 1000, 1), **record, "worker": os.getpid()}
            if route == "unmatched":
                line["path"] = scope.get("path", "")[:200]
            log.info("%s %s %s", scope["method"], route, status, extra={"fields": line})
