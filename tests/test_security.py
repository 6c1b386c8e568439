"""Hardening, in-process with the real app: security headers on every kind of response, no inline script or
style in any template, HEAD wherever GET works, the favicon, Bearer tokens, 415/431/408 in the one error
shape, CORS off unless configured, and the bind warning."""

from __future__ import annotations

import asyncio
import re

import pytest
from bs4 import BeautifulSoup
from conftest import ROOT, make_settings
from fastapi.testclient import TestClient
from test_api import assert_error

pytestmark = pytest.mark.slow

QUESTION = "荆州二医在封城期间接诊了多少发热患者？"
DOC = "000_769629a9341062f1"
TEMPLATES = ROOT / "web" / "templates"
HTML = {"accept": "text/html"}


def assert_secure(response) -> None:
    csp = response.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp, (response.url, csp)
    assert "object-src 'none'" in csp
    script_src = re.search(r"script-src ([^;]*)", csp).group(1)
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("method,path,status", [
    ("GET", "/", 200), ("GET", f"/documents/{DOC}", 200), ("GET", "/api/health", 200),
    ("GET", "/static/chat.css", 200), ("GET", "/favicon.ico", 200), ("GET", "/metrics", 200),
    ("GET", "/docs", 200), ("GET", "/openapi.json", 200), ("GET", "/no-such-page", 404),
    ("GET", "/api/documents/nope", 404), ("POST", "/api/health", 405), ("POST", "/api/ask", 422),
])
def test_every_response_carries_the_security_headers(client, method, path, status):
    response = client.request(method, path, headers=HTML if not path.startswith("/api") else None)
    assert response.status_code == status
    assert_secure(response)


def test_pages_policy_allows_no_inline_style_either(client):
    csp = client.get("/").headers["content-security-policy"]
    assert re.search(r"style-src 'self';", csp) and "unsafe-inline" not in csp


def test_docs_page_allows_only_its_own_inline_script_by_hash(client):
    response = client.get("/docs")
    inline = [s for s in BeautifulSoup(response.text, "html.parser").find_all("script") if not s.get("src")]
    assert inline, "Swagger UI bootstraps with an inline script"
    hashes = re.findall(r"'sha256-[A-Za-z0-9+/=]+'", response.headers["content-security-policy"])
    assert len(hashes) == len(inline)


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_templates_have_no_inline_script_or_style(template):
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    soup = BeautifulSoup(text, "html.parser")
    assert all(s.get("src") for s in soup.find_all("script")), f"inline <script> in {template}"
    assert not soup.find_all("style"), f"<style> in {template}"
    for tag in soup.find_all(True):
        assert "style" not in tag.attrs, f"style attribute on <{tag.name}> in {template}"
        assert not [a for a in tag.attrs if a.lower().startswith("on")], f"event handler on <{tag.name}>"
    assert "javascript:" not in text


@pytest.mark.parametrize("path", ["/", "/api/health", f"/documents/{DOC}", "/static/chat.js", "/favicon.ico",
                                  "/metrics", f"/api/documents/{DOC}", "/docs"])
def test_head_is_answered_wherever_get_is(client, path):
    get = client.get(path)
    head = client.head(path)
    assert get.status_code == 200 and head.status_code == 200, (path, head.status_code)
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    if "content-length" in get.headers and path not in ("/metrics", "/api/health"):  # these change per call
        assert head.headers["content-length"] == get.headers["content-length"]


def test_head_of_a_missing_page_is_404_without_body(client):
    response = client.head("/no-such-page")
    assert response.status_code == 404 and response.content == b""


def test_favicon_is_a_local_icon_and_the_page_links_it(client):
    response = client.get("/favicon.ico")
    assert response.headers["content-type"] == "image/x-icon"
    assert response.content[:4] == b"\x00\x00\x01\x00"  # the ICO signature
    page = BeautifulSoup(client.get("/").text, "html.parser")
    icons = [link["href"] for link in page.find_all("link", rel="icon")]
    assert "/favicon.ico" in icons and "/static/favicon.svg" in icons
    assert client.get("/static/favicon.svg").status_code == 200


# ------------------------------------------------------------------------------------------- tokens


@pytest.fixture(scope="module")
def admin_client(embedder, seed_index_dir, seed_index):
    from qa.serve.app import create_app

    app = create_app(make_settings(seed_index_dir, admin_token="s3cret"), embedder=embedder, index=seed_index,
                     watch=False)
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_bearer_scheme_is_case_insensitive(admin_client, scheme):
    response = admin_client.post("/api/admin/reload", headers={"Authorization": f"{scheme} s3cret"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("value", [None, "Bearer wrong", "Bearer s3cre", "Bearer s3crett", "Basic s3cret", "s3cret",
                                   "Bearer", "Bearer ", "Token s3cret"])
def test_a_401_says_how_to_authenticate(admin_client, value):
    headers = {"Authorization": value} if value is not None else {}
    response = admin_client.post("/api/admin/reload", headers=headers)
    assert_error(response, 401)
    assert response.headers["www-authenticate"] == 'Bearer realm="qa"'


def test_token_comparison_is_constant_time():
    import inspect

    from qa.serve import security

    assert "hmac.compare_digest" in inspect.getsource(security.check_bearer)


# ------------------------------------------------------------------------------------ request bodies


@pytest.mark.parametrize("path", ["/api/ask", "/api/feedback", "/api/admin/reload"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/xml"])
def test_a_body_that_is_not_json_gets_415_naming_its_type(client, path, content_type):
    response = client.post(path, content=b'{"question": "x"}', headers={"content-type": content_type})
    body = assert_error(response, 415)
    assert content_type.split(";")[0] in body["error"] and "application/json" in body["error"]


def test_json_with_a_charset_or_a_json_suffix_is_accepted(client):
    for content_type in ("application/json; charset=utf-8", "application/problem+json"):
        response = client.post("/api/ask", content='{"question": "荆州封城是哪一天？"}'.encode(),
                               headers={"content-type": content_type})
        assert response.status_code == 200, (content_type, response.text)


def test_a_body_without_content_type_gets_415(client):
    response = client.post("/api/ask", content=b'{"question": "x"}', headers={"content-type": ""})
    assert "no Content-Type" in assert_error(response, 415)["error"]


def test_oversized_headers_get_431_in_the_error_shape(client):
    body = assert_error(client.get("/api/health", headers={"x-padding": "a" * 20_000}), 431)
    assert "headers too large" in body["error"]
    assert_error(client.get("/", headers={"cookie": "c" * 20_000}), 431)


def test_a_stalled_body_times_out_with_408(embedder, seed_index_dir, seed_index):
    """The ASGI app itself, fed half a body and then nothing: 408 in the error shape after the setting."""
    from qa.serve.app import create_app

    app = create_app(make_settings(seed_index_dir, body_timeout_s=0.3), embedder=embedder, index=seed_index,
                     watch=False)
    sent: list[dict] = []
    chunks = [{"type": "http.request", "body": b'{"question": "', "more_body": True}]

    async def receive():
        if chunks:
            return chunks.pop(0)
        await asyncio.sleep(60)  # the client stalls
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/api/ask", "raw_path": b"/api/ask", "query_string": b"", "root_path": "",
             "headers": [(b"content-type", b"application/json"), (b"content-length", b"100")],
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}

    async def main():
        await asyncio.wait_for(app(scope, receive, send), timeout=10)

    asyncio.run(main())
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 408
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert b'"status":408' in body and b"did not arrive in time" in body


# --------------------------------------------------------------------------------------------- CORS


def test_cors_is_off_by_default(client):
    response = client.get("/api/health", headers={"origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in response.headers
    preflight = client.options("/api/ask", headers={"origin": "https://elsewhere.example",
                                                   "access-control-request-method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_allows_only_the_listed_origins(embedder, seed_index_dir, seed_index):
    from qa.serve.app import create_app

    settings = make_settings(seed_index_dir, cors_origins="https://a.example, https://b.example")
    with TestClient(create_app(settings, embedder=embedder, index=seed_index, watch=False)) as c:
        ok = c.get("/api/health", headers={"origin": "https://b.example"})
        assert ok.headers["access-control-allow-origin"] == "https://b.example"
        other = c.get("/api/health", headers={"origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


# ------------------------------------------------------------------------------------ binding warning


@pytest.mark.parametrize("host,token,warned,mentions_admin", [
    ("127.0.0.1", None, False, False), ("localhost", None, False, False), ("::1", None, False, False),
    ("127.0.0.2", None, False, False), ("0.0.0.0", None, True, True), ("::", None, True, True),
    ("192.168.1.10", None, True, True), ("0.0.0.0", "t", True, False), ("example.org", None, True, True),
])
def test_binding_beyond_loopback_is_warned(host, token, warned, mentions_admin):
    from qa.serve.server import exposure_warning

    warning = exposure_warning(host, token)
    assert (warning is not None) == warned
    if warning:
        assert warning.startswith("WARNING") and host in warning
        assert ("QA_ADMIN_TOKEN" in warning) == mentions_admin


def test_admin_endpoints_are_refused_without_a_token(client):
    assert_error(client.post("/api/admin/reload", headers={"Authorization": "Bearer x"}), 403)
