"""The JSON API in-process, with the real model and the seeds index: answers, citations, every error shape,
the admin reload and the OpenAPI description."""

from __future__ import annotations

import json
import re

import pytest
from conftest import make_settings
from fastapi.testclient import TestClient

pytestmark = pytest.mark.slow

QUESTION = "荆州二医在封城期间接诊了多少发热患者？"
QUESTION_EN = "How many fever patients did Jingzhou No.2 Hospital receive during the lockdown?"
FEVER_DOC = "000_769629a9341062f1"
ASK_KEYS = {"question", "found", "answer", "passages", "unknown_terms", "took_ms", "timings_ms", "understood_as",
            "drew_on", "carried", "confidence"}
PASSAGE_KEYS = {
    "rank", "id", "doc_id", "title", "source", "text", "score", "dense_score", "keyword_score", "confident",
    "line_start", "line_end", "char_start", "char_end", "page_start", "page_end", "section",
}
ANSWER_KEYS = {"text", "display", "passage", "doc_id", "char_start", "char_end"}
HEALTH_KEYS = {"ok", "version", "model", "dim", "documents", "passages", "built_at", "index", "error"}
BREAK = re.compile(r"\r\n|\r|\n")


def assert_error(response, status: int) -> dict:
    """Every error of the API: exactly ``{"ok": false, "status": N, "error": "<what to do>"}``, as JSON."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.headers["content-type"]
    body = response.json()
    assert set(body) == {"ok", "status", "error"}, body
    assert body["ok"] is False
    assert body["status"] == status
    assert isinstance(body["error"], str) and body["error"].strip(), body
    return body


def line_of(text: str, offset: int) -> int:
    return len(BREAK.findall(text[:offset])) + 1


def ask(client, question: str, **extra) -> dict:
    response = client.post("/api/ask", json={"question": question, **extra})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def documents(client) -> dict[str, dict]:
    """Every document the seeds index holds, fetched through the API once."""
    health = client.get("/api/health").json()
    assert health["documents"] == 5
    out = {}
    for doc_id in ("000_769629a9341062f1", "001_fb1151e4e454f8fb", "002_3a274bbbdd8f06d7",
                   "003_05d70a71f3258940", "004_418b4fb8ab4a92f7"):
        response = client.get(f"/api/documents/{doc_id}")
        assert response.status_code == 200
        out[doc_id] = response.json()
    return out


# ----------------------------------------------------------------------------------------- success


def assert_citations(body: dict, documents: dict[str, dict]) -> None:
    assert set(body) == ASK_KEYS
    assert isinstance(body["took_ms"], (int, float)) and body["took_ms"] >= 0
    assert [p["rank"] for p in body["passages"]] == list(range(1, len(body["passages"]) + 1))
    for p in body["passages"]:
        assert set(p) == PASSAGE_KEYS
        doc = documents[p["doc_id"]]
        assert p["title"] == doc["title"]
        assert p["source"] == doc["source"] == f"{p['doc_id']}.txt"
        assert 0 <= p["char_start"] < p["char_end"] <= len(doc["text"])
        assert p["line_start"] == line_of(doc["text"], p["char_start"])
        assert p["line_end"] == line_of(doc["text"], p["char_end"] - 1)
        squeezed = re.sub(r"\s", "", doc["text"][p["char_start"] : p["char_end"]])
        assert re.sub(r"\s", "", p["text"]) == squeezed
        assert p["id"].startswith(p["doc_id"])
        assert isinstance(p["confident"], bool)
    scores = [p["score"] for p in body["passages"]]
    assert scores == sorted(scores, reverse=True)


def test_ask_chinese(client, documents):
    body = ask(client, QUESTION)
    assert_citations(body, documents)
    assert body["question"] == QUESTION
    assert body["found"] is True
    assert len(body["passages"]) == 5
    top = body["passages"][0]
    assert "近4000人次" in top["text"]
    assert (top["doc_id"], top["line_start"], top["line_end"]) == (FEVER_DOC, 35, 41)
    answer = body["answer"]
    assert answer is not None and set(answer) == ANSWER_KEYS
    doc = documents[answer["doc_id"]]
    assert doc["text"][answer["char_start"] : answer["char_end"]] == answer["text"]
    assert "近4000人次" in answer["display"]
    assert "\n" not in answer["display"]
    cited = body["passages"][answer["passage"] - 1]
    assert cited["doc_id"] == answer["doc_id"]
    assert cited["char_start"] <= answer["char_start"] < answer["char_end"] <= cited["char_end"]


def test_ask_english(client, documents):
    body = ask(client, QUESTION_EN)
    assert_citations(body, documents)
    found = [p for p in body["passages"] if (p["doc_id"], p["line_start"], p["line_end"]) == (FEVER_DOC, 35, 41)]
    assert found, [(p["doc_id"], p["line_start"], p["line_end"]) for p in body["passages"]]
    assert "近4000人次" in found[0]["text"]
    if body["answer"]:
        doc = documents[body["answer"]["doc_id"]]
        assert doc["text"][body["answer"]["char_start"] : body["answer"]["char_end"]] == body["answer"]["text"]


def test_ask_about_what_the_documents_never_mention(client, documents):
    body = ask(client, "襄阳市中心医院的卒中中心在全国排第几？")
    assert body["found"] is False and body["answer"] is None
    assert body["unknown_terms"] == ["襄阳"]
    assert body["passages"] and not any(p["confident"] for p in body["passages"])
    assert_citations(body, documents)
    assert ask(client, QUESTION)["unknown_terms"] == []
    counted = ask(client, "十堰市中西医结合医院一年的门诊量有多少？")
    assert counted["found"] is False and counted["unknown_terms"] == ["门诊量"]


def test_identical_question_is_answered_from_the_cache(embedder, seed_index, seed_index_dir):
    from qa.serve.service import Service

    service = Service(make_settings(seed_index_dir, cache_size=8), embedder, seed_index)
    first = service.ask("襄阳市中心医院的卒中中心在全国排第几？")
    again = service.ask("  襄阳市中心医院的卒中中心在全国排第几？ ")  # the same question once stripped
    assert service.cache.hits == 1
    assert again.took_ms == 0.0 < first.took_ms
    assert (again.question, again.found, again.answer, again.hits, again.unknown_terms) == (
        first.question, first.found, first.answer, first.hits, first.unknown_terms)
    assert again.unknown_terms == ("襄阳",)


@pytest.mark.parametrize("top_k", [1, 3, 50])
def test_top_k(client, documents, top_k):
    body = ask(client, QUESTION, top_k=top_k)
    assert len(body["passages"]) in (top_k, top_k + 1)
    if len(body["passages"]) > top_k:  # only the answer's own passage, ranked below the first top_k
        assert body["answer"]["passage"] == top_k + 1
    assert_citations(body, documents)


def test_the_decision_does_not_depend_on_top_k(client):
    """The decision reads the first 10 passages whatever is shown: the same question, the same verdict and
    answer sentence at top_k 1 and 10; with one passage shown, the answer's own passage is still there."""
    question = "区二院2022年一共做了多少台手术？"
    one, ten = ask(client, question, top_k=1), ask(client, question, top_k=10)
    assert (one["found"], one["confidence"]) == (ten["found"], ten["confidence"])
    assert one["found"] and one["answer"]["display"] == ten["answer"]["display"]
    cited = one["passages"][one["answer"]["passage"] - 1]
    assert cited["doc_id"] == one["answer"]["doc_id"] and one["answer"]["display"] in "".join(cited["text"].split())


def test_question_is_stripped_and_1000_chars_allowed(client):
    assert ask(client, f"  {QUESTION}\n")["question"] == QUESTION
    assert ask(client, "问" * 1000, top_k=1)["question"] == "问" * 1000


def test_document(client, documents):
    response = client.get(f"/api/documents/{FEVER_DOC}")
    assert response.status_code == 200
    doc = response.json()
    assert set(doc) == {"id", "title", "source", "encoding", "text", "format", "pages", "has_file"}
    assert doc["id"] == FEVER_DOC
    assert doc["title"] == "抢抓机遇乘势而上 同心筑梦共创未来"
    assert doc["source"] == f"{FEVER_DOC}.txt"
    assert doc["encoding"] == "utf-8"
    assert "近4000人次" in doc["text"]


def test_health(client, seed_index):
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == HEALTH_KEYS
    assert body["ok"] is True
    assert body["model"] == seed_index.manifest["model"]
    assert body["dim"] == 384
    assert body["documents"] == 5
    assert body["passages"] == len(seed_index.passages) == seed_index.manifest["passages"]
    assert body["built_at"] == seed_index.manifest["built_at"]
    assert body["index"] == str(seed_index.path)
    assert body["error"] is None


# ----------------------------------------------------------------------------------------- errors

JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    "payload,status",
    [
        ({"question": ""}, 400),
        ({"question": "   \n\t\u3000 "}, 400),
        ({"question": "问" * 1001}, 400),
        ({"question": " " + "问" * 1001 + " "}, 400),
        ({"question": "荆州\x00二医"}, 400),
        ({"question": "荆州二医\x07接诊"}, 400),
        ({"question": "\x1b[31m荆州"}, 400),
        ({"question": QUESTION, "top_k": 0}, 422),
        ({"question": QUESTION, "top_k": 51}, 422),
        ({"question": QUESTION, "top_k": -1}, 422),
        ({"question": 5}, 422),
        ({"question": ["荆州"]}, 422),
        ({"question": None}, 422),
        ({"question": {"text": "荆州"}}, 422),
        ({"question": QUESTION, "top_k": "five"}, 422),
        ({"question": QUESTION, "top_k": 5.5}, 422),
        ({"question": QUESTION, "top_k": [5]}, 422),
        ({"question": QUESTION, "top_k": None}, 422),
        ({}, 422),
        ({"top_k": 3}, 422),
        ({"question": QUESTION, "extra": 1}, 422),
        ({"question": QUESTION, "top_k": 5, "lang": "zh"}, 422),
        ([QUESTION], 422),
        (QUESTION, 422),
        (None, 422),
        (42, 422),
    ],
    ids=lambda v: json.dumps(v, ensure_ascii=True)[:40] if not isinstance(v, int) else str(v),
)
def test_ask_invalid_json_bodies(client, payload, status):
    body = assert_error(client.post("/api/ask", content=json.dumps(payload).encode(), headers=JSON), status)
    if status == 422 and isinstance(payload, dict) and "extra" in payload:
        assert "extra" in body["error"]


def test_ask_too_long_names_the_limit(client):
    body = assert_error(client.post("/api/ask", json={"question": "问" * 1001}), 400)
    assert "1000" in body["error"]


@pytest.mark.parametrize(
    "raw",
    [b'{"question": ', b"{question: 1}", b"", b"not json", b'{"question": "a"} trailing', b"\xef\xbb\xbf{"],
    ids=["truncated", "unquoted", "empty", "text", "trailing", "bom-truncated"],
)
def test_malformed_json(client, raw):
    assert_error(client.post("/api/ask", content=raw, headers=JSON), 422)


@pytest.mark.parametrize(
    "raw",
    ['{"question": "荆州二医"}'.encode("gb18030"), b'{"question": "\xff\xfe\xfd"}', b"\x80\x81\x82"],
    ids=["gb18030", "invalid-bytes", "garbage"],
)
def test_non_utf8_body(client, raw):
    assert_error(client.post("/api/ask", content=raw, headers=JSON), 400)


def test_lone_surrogate_is_a_control_character(client):
    assert_error(client.post("/api/ask", content=b'{"question": "\\ud800 \\u8350"}', headers=JSON), 400)


def test_body_too_large(client, app):
    limit = app.state.settings.max_body_bytes
    body = assert_error(client.post("/api/ask", json={"question": "x" * (limit + 10)}), 413)
    assert str(limit) in body["error"]


def test_body_too_large_without_content_length(client, app):
    """A chunked body (no Content-Length) is cut off while it is read: also 413."""
    limit = app.state.settings.max_body_bytes
    half = limit // 2 + 10

    def chunks():
        yield b'{"question": "' + b"x" * half
        yield b"x" * half
        yield b'"}'

    assert_error(client.post("/api/ask", content=chunks(), headers=JSON), 413)


def test_declared_length_not_a_number(client):
    assert_error(client.post("/api/ask", content=b"{}", headers={**JSON, "content-length": "abc"}), 413)


@pytest.mark.parametrize("path", ["/api/nope", "/api/ask/more", "/api/documents/a/b", "/api/documents/a/x/b", "/api"])
def test_unknown_route(client, path):
    assert_error(client.get(path), 404)


@pytest.mark.parametrize(
    "method,path",
    [("GET", "/api/ask"), ("PUT", "/api/ask"), ("DELETE", "/api/ask"), ("POST", "/api/health"),
     ("PATCH", f"/api/documents/{FEVER_DOC}"), ("GET", "/api/admin/reload")],
)
def test_wrong_method(client, method, path):
    assert_error(client.request(method, path), 405)


@pytest.mark.parametrize("doc_id", ["nope", "000_769629a9341062f", "..%2F..%2Fetc%2Fpasswd", "%E8%8D%86%E5%B7%9E"])
def test_unknown_document(client, doc_id):
    assert_error(client.get(f"/api/documents/{doc_id}"), 404)


def test_no_index_loaded(embedder, tmp_path):
    from qa.serve.app import create_app

    app = create_app(make_settings(tmp_path / "none"), embedder=embedder, watch=False)
    with TestClient(app) as c:
        body = assert_error(c.post("/api/ask", json={"question": QUESTION}), 503)
        assert "qa build" in body["error"]
        assert_error(c.get(f"/api/documents/{FEVER_DOC}"), 503)
        assert_error(c.post("/api/ask", json={"question": ""}), 400)  # a bad question is still the client's fault
        health = c.get("/api/health")
        assert health.status_code == 200
        h = health.json()
        assert set(h) == HEALTH_KEYS
        assert h["ok"] is False
        assert h["documents"] == h["passages"] == 0
        assert h["built_at"] is None
        assert "qa build" in h["error"]
        assert h["model"] == embedder.name


# ----------------------------------------------------------------------------------------- admin


def test_admin_reload_disabled_without_token(client):
    body = assert_error(client.post("/api/admin/reload"), 403)
    assert "QA_ADMIN_TOKEN" in body["error"]
    assert_error(client.post("/api/admin/reload", headers={"Authorization": "Bearer anything"}), 403)


@pytest.fixture(scope="module")
def admin_client(embedder, seed_index_dir, tmp_path_factory):
    from qa.serve.app import create_app

    settings = make_settings(seed_index_dir, admin_token="s3cret-token")
    with TestClient(create_app(settings, embedder=embedder, watch=False)) as c:
        yield c


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-token"}, {"Authorization": "Basic s3cret-token"},
     {"Authorization": "Bearer s3cret-token-and-more"}, {"Authorization": "Bearer "}],
    ids=["none", "wrong", "no-scheme", "basic", "longer", "empty"],
)
def test_admin_reload_wrong_token(admin_client, headers):
    assert_error(admin_client.post("/api/admin/reload", headers=headers), 401)


def test_admin_reload_with_token(admin_client, seed_index):
    response = admin_client.post("/api/admin/reload", headers={"Authorization": "Bearer s3cret-token"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == HEALTH_KEYS
    assert body["ok"] is True
    assert body["passages"] == len(seed_index.passages)
    assert body["built_at"] == seed_index.built_at


def test_read_only_api_needs_no_token(admin_client):
    assert admin_client.get("/api/health").status_code == 200
    assert admin_client.get(f"/api/documents/{FEVER_DOC}").status_code == 200
    assert ask(admin_client, QUESTION)["found"] is True


def test_admin_reload_without_index_is_503(embedder, tmp_path):
    from qa.serve.app import create_app

    app = create_app(make_settings(tmp_path / "none", admin_token="t"), embedder=embedder, watch=False)
    with TestClient(app) as c:
        body = assert_error(c.post("/api/admin/reload", headers={"Authorization": "Bearer t"}), 503)
        assert "qa build" in body["error"]


# ----------------------------------------------------------------------------------------- OpenAPI


def test_openapi(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    assert {"/api/ask", "/api/documents/{doc_id}", "/api/health", "/api/admin/reload"} <= set(paths)
    assert set(paths["/api/ask"]) == {"post"}
    responses = paths["/api/ask"]["post"]["responses"]
    for status in ("200", "400", "413", "422", "503"):
        assert status in responses, status
    error = spec["components"]["schemas"]["ErrorOut"]
    assert set(error["properties"]) == {"ok", "status", "error"}
    ask_request = spec["components"]["schemas"]["AskRequest"]
    assert ask_request["required"] == ["question"]
    assert ask_request["additionalProperties"] is False
    assert ask_request["properties"]["top_k"]["minimum"] == 1
    assert ask_request["properties"]["top_k"]["maximum"] == 50


def test_docs_page(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "swagger" in response.text.lower()
    assert "/openapi.json" in response.text
