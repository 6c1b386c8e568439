"""GET /metrics and the request log, in-process with the real model: what each request, answer, shed request
and reload adds, in the Prometheus text format parsed by prometheus-client's own parser."""

from __future__ import annotations

import json
import logging
import re
import threading

import pytest
from conftest import make_settings
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.slow

QUESTION = "荆州二医在封城期间接诊了多少发热患者？"
REFUSED = "襄阳市中心医院的卒中中心在全国排第几？"


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_an_answer_is_counted_by_route_status_and_outcome(client):
    before = scrape(client)
    assert client.post("/api/ask", json={"question": QUESTION}).json()["found"] is True
    assert client.post("/api/ask", json={"question": REFUSED}).json()["found"] is False
    client.post("/api/ask", json={"question": ""})
    after = scrape(client)
    route = {"route": "/api/ask", "method": "POST"}
    assert value(after, "qa_http_requests_total", status="200", **route) - \
        value(before, "qa_http_requests_total", status="200", **route) == 2
    assert value(after, "qa_http_requests_total", status="400", **route) - \
        value(before, "qa_http_requests_total", status="400", **route) == 1
    assert value(after, "qa_answers_total", outcome="found") - value(before, "qa_answers_total", outcome="found") == 1
    assert value(after, "qa_answers_total", outcome="refused") - \
        value(before, "qa_answers_total", outcome="refused") == 1
    assert value(after, "qa_http_request_duration_seconds_count", **route) - \
        value(before, "qa_http_request_duration_seconds_count", **route) == 3
    # time in the model, and per stage
    assert value(after, "qa_model_encode_seconds_count") - value(before, "qa_model_encode_seconds_count") == 2
    assert value(after, "qa_model_encode_seconds_sum") > value(before, "qa_model_encode_seconds_sum")
    for stage in ("encode", "dense", "keyword", "answer"):
        assert value(after, "qa_answer_stage_seconds_count", stage=stage) - \
            value(before, "qa_answer_stage_seconds_count", stage=stage) == 2, stage


def test_routes_are_labelled_by_template_not_by_raw_path(client):
    client.get("/api/documents/000_769629a9341062f1")
    client.get("/api/documents/no-such-doc")
    client.get("/random/junk/path-1")
    samples = scrape(client)
    routes = {dict(labels).get("route") for (name, labels) in samples if name == "qa_http_requests_total"}
    assert "/api/documents/{doc_id}" in routes and "unmatched" in routes
    assert not [r for r in routes if r and ("no-such-doc" in r or "junk" in r)]


def test_index_and_build_info(client, seed_index):
    samples = scrape(client)
    assert value(samples, "qa_index_documents") == len(seed_index.documents)
    assert value(samples, "qa_index_passages") == len(seed_index.passages)
    assert value(samples, "qa_index_up") == 1
    info = [dict(labels) for (name, labels) in samples if name == "qa_build_info"]
    from qa import __version__

    assert any(i["version"] == __version__ and i["model"] == seed_index.manifest["model"] and i["backend"]
               for i in info), info


def test_a_shed_request_is_counted(embedder, seed_index_dir, seed_index):
    """One slot, no queue: while the model slot is held, the next question is shed with 503."""
    from qa.serve.app import create_app

    settings = make_settings(seed_index_dir, max_concurrency=1, max_queue=0, queue_timeout_s=0.1)
    app = create_app(settings, embedder=embedder, index=seed_index, watch=False)
    with TestClient(app) as c:
        before = value(scrape(c), "qa_shed_requests_total")
        held, release = threading.Event(), threading.Event()

        def hold():
            with app.state.service.gate:
                held.set()
                release.wait(10)

        holder = threading.Thread(target=hold)
        holder.start()
        try:
            assert held.wait(10)
            response = c.post("/api/ask", json={"question": QUESTION})
        finally:
            release.set()
            holder.join(10)
        assert response.status_code == 503 and response.headers["retry-after"] == "1"
        assert value(scrape(c), "qa_shed_requests_total") - before == 1


def test_reloads_are_counted(embedder, seed_index_dir, seed_index, tmp_path):
    from qa.serve.app import create_app

    settings = make_settings(seed_index_dir, admin_token="t")
    app = create_app(settings, embedder=embedder, index=seed_index, watch=False)
    with TestClient(app) as c:
        before = scrape(c)
        assert c.post("/api/admin/reload", headers={"Authorization": "Bearer t"}).status_code == 200
        after = scrape(c)
        assert value(after, "qa_index_reloads_total", result="ok") - \
            value(before, "qa_index_reloads_total", result="ok") == 1
        app.state.service.settings = make_settings(tmp_path / "missing", admin_token="t")
        c.post("/api/admin/reload", headers={"Authorization": "Bearer t"})
        failed = scrape(c)
        assert value(failed, "qa_index_reloads_total", result="failed") - \
            value(after, "qa_index_reloads_total", result="failed") == 1
        assert value(failed, "qa_index_up") == 1  # the loaded index keeps serving


# -------------------------------------------------------------------------------------- request log


def _lines(caplog) -> list[dict]:
    from qa.serve.requestlog import REQUEST_LOGGER, JsonFormatter

    formatter = JsonFormatter()
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == REQUEST_LOGGER]


def test_one_json_line_per_request_with_stage_timings(client, caplog):
    caplog.set_level(logging.INFO, logger="qa.request")
    client.post("/api/ask", json={"question": QUESTION}, headers={"x-request-id": "my-id-1"})
    client.get("/api/health")
    lines = _lines(caplog)
    assert len(lines) == 2
    ask, health = lines
    assert ask["event"] == "request" and ask["route"] == "/api/ask" and ask["method"] == "POST"
    assert ask["status"] == 200 and ask["ms"] > 0 and ask["found"] is True and ask["id"] == "my-id-1"
    assert set(ask["timings_ms"]) >= {"encode", "dense", "keyword", "answer"}
    assert ask["index"] and isinstance(ask["worker"], int)
    assert "question" not in ask and QUESTION not in json.dumps(ask, ensure_ascii=False)
    assert health["route"] == "/api/health" and "found" not in health
    assert ask["ts"].endswith("Z") and ask["level"] == "info"


def test_the_response_carries_the_request_id(client):
    assert client.get("/api/health", headers={"x-request-id": "abc.123"}).headers["x-request-id"] == "abc.123"
    generated = client.get("/api/health", headers={"x-request-id": "bad id; <x>"}).headers["x-request-id"]
    assert generated != "bad id; <x>" and re.fullmatch(r"[0-9a-f]{16}", generated)


def test_question_text_is_logged_only_when_asked_for(embedder, seed_index_dir, seed_index, caplog):
    from qa.serve.app import create_app

    caplog.set_level(logging.INFO, logger="qa.request")
    app = create_app(make_settings(seed_index_dir, log_questions=True), embedder=embedder, index=seed_index,
                     watch=False)
    with TestClient(app) as c:
        c.post("/api/ask", json={"question": QUESTION})
    assert [line.get("question") for line in _lines(caplog)] == [QUESTION]


def test_errors_and_early_refusals_are_logged_too(client, caplog):
    caplog.set_level(logging.INFO, logger="qa.request")
    client.post("/api/ask", content=b"x", headers={"content-type": "text/plain"})
    client.get("/api/health", headers={"x-pad": "p" * 20_000})
    lines = _lines(caplog)
    assert [(line["route"], line["status"]) for line in lines] == [("/api/ask", 415), ("unmatched", 431)]
    assert lines[1]["path"] == "/api/health"
