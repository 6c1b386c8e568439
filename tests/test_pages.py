"""The HTML pages without a browser: structure, the no-JavaScript form path, the source view, escaping, errors.

Uses the real model and the seeds index (the ``client`` fixture), so the answers are the service's real ones.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup

from qa.ingest.documents import Passage, normalize_whitespace
from qa.search.answer import Answer, Result
from qa.search.retriever import Hit
from qa.serve.pages import NOT_FOUND_TEXT, build_reply, document_lines

pytestmark = pytest.mark.slow

HTML = {"Accept": "text/html,application/xhtml+xml"}
QUESTION = "荆州二医在封城期间接诊了多少发热患者？"
# Questions the documents cannot answer; the first one the service calls "not found" is used.
UNANSWERABLE = ["火星上的医院有多少张床位？", "量子计算机的工作原理是什么？", "What is the capital of France?"]
CITE_HREF = re.compile(r"^/documents/(?P<doc>[\w-]+)\?start=(?P<start>\d+)&end=(?P<end>\d+)"
                       r"(?:&astart=(?P<astart>\d+)&aend=(?P<aend>\d+))?#L(?P<line>\d+)$")
LINES = re.compile(r"第 (?P<a>\d+)(?:-(?P<b>\d+))? 行")
EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:|//)", re.I)


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def citations(page: BeautifulSoup) -> list[tuple[str, str]]:
    """(href, label) of every citation link of every reply."""
    return [(a["href"], a.get_text(" ", strip=True)) for a in page.select("ol.passages a.cite-link")]


def api_ask(client, question: str) -> dict:
    response = client.post("/api/ask", json={"question": question, "top_k": 5})
    assert response.status_code == 200, response.text
    return response.json()


def unanswerable(client) -> str:
    for question in UNANSWERABLE:
        if not api_ask(client, question)["found"]:
            return question
    pytest.fail(f"the service claims an answer to every one of {UNANSWERABLE}")


# ----------------------------------------------------------------------------------------- chat page


def test_chat_page_structure(client):
    response = client.get("/", headers=HTML)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = soup(response)
    assert page.html["lang"] == "zh-CN"
    assert page.find("meta", attrs={"name": "viewport"})["content"].startswith("width=device-width")
    form = page.find("form", id="ask")
    assert form["method"].lower() == "post" and form["action"] == "/"
    textarea = form.find("textarea")
    assert textarea["name"] == "question"
    assert form.select_one("button.send[type=submit]").get_text(strip=True) == "发送"
    assert page.select_one("#history") is not None and not page.select(".turn")

    for tag in page.find_all(["link", "script", "img", "iframe", "source"]):
        for attr in ("src", "href"):
            value = tag.get(attr)
            if value:
                assert not EXTERNAL.match(value), f"{tag.name} loads a non-local resource: {value}"
    assert [link["href"] for link in page.find_all("link", rel="stylesheet")] == [
        "/static/chat.css", "/static/feedback.css", "/static/documents.css"]  # documents.css: the scope list
    assert [script["src"] for script in page.find_all("script")] == ["/static/chat.js", "/static/feedback.js"]
    assert "http://" not in response.text and "https://" not in response.text


@pytest.mark.parametrize("path", ["/static/chat.css", "/static/chat.js", "/static/feedback.css",
                                  "/static/feedback.js"])
def test_static_assets_are_local(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert "http://" not in response.text and "https://" not in response.text
    assert "@import" not in response.text and "@font-face" not in response.text
    if path.endswith(".js"):
        assert "innerHTML" not in response.text and "insertAdjacentHTML" not in response.text


def test_form_post_answers_with_citations(client, app):
    expected = api_ask(client, QUESTION)
    assert expected["found"], "the seeds answer this question"
    response = client.post("/", data={"question": QUESTION}, headers=HTML)
    assert response.status_code == 200
    page = soup(response)
    turns = page.select(".turn")
    assert len(turns) == 1
    assert turns[0].select_one(".bubble.question").get_text() == QUESTION
    reply = turns[0].select_one(".bubble.reply.found")
    answer = reply.select_one("p.answer mark").get_text()
    assert answer == expected["answer"]["display"]
    assert "近4000人次" in answer
    assert page.select_one(".intro").has_attr("hidden")

    cites = citations(page)
    assert len(cites) == len(expected["passages"]) > 0
    documents = app.state.service.current().index.documents
    for (href, label), passage in zip(cites, expected["passages"], strict=True):
        match = CITE_HREF.match(href)
        assert match, href
        assert match["doc"] == passage["doc_id"] and match["doc"] in documents
        assert int(match["start"]) == passage["char_start"] and int(match["end"]) == passage["char_end"]
        assert int(match["line"]) == passage["line_start"]
        assert label.startswith(f"[{passage['rank']}] {passage['title']}")
        lines = LINES.search(label)
        assert lines, label
        assert int(lines["a"]) == passage["line_start"]
        assert int(lines["b"] or lines["a"]) == passage["line_end"]

    # The answer sentence is highlighted inside the passage it comes from, and only there.
    items = reply.select("ol.passages > li.passage")
    rank = expected["answer"]["passage"]
    assert [i for i, li in enumerate(items, start=1) if li.select("blockquote mark")] == [rank]
    source = items[rank - 1]
    assert "has-answer" in source["class"]
    assert source.select_one("blockquote mark").get_text() == expected["answer"]["display"]
    match = CITE_HREF.match(source.select_one("a.cite-link")["href"])
    assert int(match["astart"]) == expected["answer"]["char_start"]
    assert int(match["aend"]) == expected["answer"]["char_end"]
    answer_ref = reply.select_one("p.answer a.answer-ref")
    assert answer_ref.get_text() == f"[{rank}]" and answer_ref["href"] == source.select_one("a.cite-link")["href"]

    # Copy-citation buttons carry "title, file, lines a-b" and the passage text.
    button = source.select_one("button.copy")
    passage = expected["passages"][rank - 1]
    assert button["data-cite"].startswith(f"{passage['title']}, {passage['source']}, line")
    assert str(passage["line_start"]) in button["data-cite"]
    assert button["data-text"] == passage["text"]


def test_form_post_not_found(client):
    question = unanswerable(client)
    expected = api_ask(client, question)
    page = soup(client.post("/", data={"question": question}, headers=HTML))
    reply = page.select_one(".turn .bubble.reply.not-found")
    assert reply is not None
    assert reply.select_one("p.answer").get_text(strip=True) == NOT_FOUND_TEXT
    assert reply.select_one("p.answer mark") is None
    details = reply.select_one("details.low-confidence")
    assert details is not None and not details.has_attr("open")
    assert "低置信度" in details.select_one("summary").get_text()
    assert len(details.select("li.passage")) == len(expected["passages"])
    assert not details.select("blockquote mark"), "no sentence is presented as the answer"


@pytest.mark.parametrize(("question", "term"), [("襄阳市中心医院的卒中中心在全国排第几？", "襄阳"),
                                              ("十堰市中西医结合医院一年的门诊量有多少？", "门诊量")])
def test_form_post_names_what_the_documents_never_mention(client, question, term):
    assert api_ask(client, question)["unknown_terms"] == [term]
    page = soup(client.post("/", data={"question": question}, headers=HTML))
    reply = page.select_one(".turn .bubble.reply.not-found")
    assert reply is not None
    assert reply.select_one("p.unknown-terms").get_text(strip=True) == f"文档中没有提到：{term}"


def test_form_post_of_raw_utf8_bytes(client):
    """`curl -d "question=…"` sends the UTF-8 bytes without percent-encoding them; the page still reads them."""
    question = "荆州二医在封城期间接诊了多少发热患者？"
    response = client.post("/", content=f"question={question}".encode(), headers={
        **HTML, "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200, response.text
    page = soup(response)
    assert page.select_one(".turn .bubble.question").get_text(strip=True) == question
    assert "近4000人次" in page.select_one(".turn p.answer mark").get_text()


@pytest.mark.parametrize("question", ["", "   \n  "])
def test_form_post_empty_question_shows_the_error(client, question):
    message = client.post("/api/ask", json={"question": question}).json()["error"]
    response = client.post("/", data={"question": question}, headers=HTML)
    assert response.status_code == 400
    page = soup(response)
    error = page.select_one(".turn .bubble.reply.error")
    assert error is not None and error["role"] == "alert"
    assert error.select_one(".error-message").get_text() == message
    assert "出错了" in error.get_text()
    assert page.find("form", id="ask") is not None, "the form is still there to try again"


def test_form_post_without_field(client):
    response = client.post("/", headers=HTML)
    assert response.status_code == 400
    assert soup(response).select_one(".bubble.reply.error") is not None


def test_question_markup_is_escaped(client):
    question = "<script>alert(1)</script>"
    response = client.post("/", data={"question": question}, headers=HTML)
    assert "<script>alert(1)" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    page = soup(response)
    assert page.select_one(".bubble.question").get_text() == question
    assert [s.get("src") for s in page.find_all("script")] == ["/static/chat.js", "/static/feedback.js"]


def test_passage_text_is_escaped(app):
    """Passage text, titles and file names are untrusted too."""
    evil = '<img src=x onerror="alert(1)">'
    passage = Passage(id="d#0", doc_id="d", title=f"t{evil}", source=f"s{evil}.txt", text=f"before {evil} after",
                      char_start=0, char_end=30, line_start=1, line_end=2, kind="body")
    answer = Answer(text=evil, display=evil, passage=1, doc_id="d", char_start=7, char_end=7 + len(evil))
    result = Result(question=evil, found=True, answer=answer, hits=[Hit(passage, 1.0, 0.9, 1.0, 1.0)], took_ms=1.0)
    html = app.state.templates.get_template("_answer.html").render(reply=build_reply(result),
                                                                     not_found_text=NOT_FOUND_TEXT)
    assert "<img" not in html
    page = BeautifulSoup(html, "html.parser")
    assert page.find("img") is None
    assert page.select_one("blockquote mark").get_text() == evil
    assert page.select_one("button.copy")["data-text"] == passage.text
    assert page.select_one("a.cite-link .title").get_text() == passage.title


# -------------------------------------------------------------------------------------- source view


def _doc_lines(text: str) -> list[str]:
    return re.split(r"\r\n|\r|\n", text)


def test_source_view_highlights_the_cited_passage(client, app):
    expected = api_ask(client, QUESTION)
    page = soup(client.post("/", data={"question": QUESTION}, headers=HTML))
    rank = expected["answer"]["passage"]
    href = page.select("a.cite-link")[rank - 1]["href"]
    url = urlsplit(href)
    response = client.get(f"{url.path}?{url.query}", headers=HTML)
    assert response.status_code == 200
    view = soup(response)
    passage = expected["passages"][rank - 1]
    doc = app.state.service.current().index.documents[passage["doc_id"]]
    assert view.select_one("h1").get_text() == doc.title
    assert doc.source in view.select_one(".doc-meta").get_text()

    rows = view.select(".doc-text > .line")
    lines = _doc_lines(doc.text)
    assert [row["id"] for row in rows] == [f"L{n}" for n in range(1, len(lines) + 1)]
    assert [row.select_one(".ln").get_text() for row in rows] == [str(n) for n in range(1, len(lines) + 1)]
    assert [row.select_one(".lt").get_text() for row in rows] == lines
    assert url.fragment == f"L{passage['line_start']}" and view.find(id=url.fragment) is not None

    marks = view.select(".doc-text mark")
    assert marks and all(set(m["class"]) & {"hl-passage", "hl-answer"} for m in marks)
    highlighted = "".join(m.get_text() for m in marks)
    assert normalize_whitespace(highlighted).replace(" ", "") == passage["text"].replace(" ", "")
    answer = "".join(m.get_text() for m in view.select(".doc-text mark.hl-answer"))
    raw = doc.text[expected["answer"]["char_start"]:expected["answer"]["char_end"]]
    assert answer == re.sub(r"\r\n|\r|\n", "", raw)
    assert "近4000人次" in normalize_whitespace(answer)
    cited = [int(row["id"][1:]) for row in rows if "cited" in row["class"]]
    assert cited == list(range(passage["line_start"], passage["line_end"] + 1))


def test_source_view_passage_and_answer_marks(client, app):
    """A passage with the answer inside: passage marks around the strong answer mark."""
    doc = next(iter(app.state.service.current().index.documents.values()))
    start, end = 10, 60
    astart, aend = 20, 30
    view = soup(client.get(f"/documents/{doc.id}?start={start}&end={end}&astart={astart}&aend={aend}", headers=HTML))
    text = "".join(m.get_text() for m in view.select(".doc-text mark"))
    assert text == "".join(re.split(r"\r\n|\r|\n", doc.text[start:end]))
    answer = "".join(m.get_text() for m in view.select(".doc-text mark.hl-answer"))
    assert answer == "".join(re.split(r"\r\n|\r|\n", doc.text[astart:aend]))
    assert view.select(".legend mark.hl-passage") and view.select(".legend mark.hl-answer")


@pytest.mark.parametrize("query", [
    "start=abc&end=def",
    "start=-5&end=10",
    "start=50&end=10",
    "start=10&end=99999999999",
    "start=1e3&end=2e3",
    "start=%EF%BC%91&end=%EF%BC%95",  # fullwidth digits
    "start=%D9%A1&end=%D9%A5",  # Arabic-Indic digits
    "start=1" + "0" * 5000 + "&end=2",
    "start=&end=",
    "start=1&end=5&start=x",
    "astart=1&aend=0",
])
def test_source_view_ignores_bad_offsets(client, app, query):
    doc_id = next(iter(app.state.service.current().index.documents))
    response = client.get(f"/documents/{doc_id}?{query}", headers=HTML)
    assert response.status_code == 200
    view = soup(response)
    assert view.select(".doc-text > .line")
    assert not view.select(".doc-text mark")


@pytest.mark.parametrize("path", [
    "/documents/nope",
    "/documents/000_769629a9341062f1.txt",
    "/documents/..%2F..%2Fetc%2Fpasswd",
    "/documents/..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/documents/%2e%2e%2fqa%2fsettings.py",
    "/documents/..%5C..%5Cpyproject.toml",
    "/documents/seeds%2F000_769629a9341062f1.txt",
])
def test_source_view_unknown_ids_are_404_pages(client, path):
    response = client.get(path, headers=HTML)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "root:" not in response.text and "[project]" not in response.text and "BaseSettings" not in response.text
    page = soup(response)
    assert page.html["lang"] == "zh-CN"
    assert page.select_one(".status").get_text() == "404"
    assert page.find("a", href="/") is not None
    assert re.search(r"[\u4e00-\u9fff]", page.select_one(".message").get_text())


def test_unknown_page_is_an_html_error(client):
    response = client.get("/no/such/page", headers=HTML)
    assert response.status_code == 404
    page = soup(response)
    assert "找不到" in page.select_one("h1").get_text()
    assert page.find("a", href="/") is not None


def test_generic_errors_are_said_in_chinese(client):
    response = client.put("/", headers=HTML)
    assert response.status_code == 405
    page = soup(response)
    assert page.select_one(".status").get_text() == "405"
    assert re.fullmatch(r"[^a-zA-Z]+", page.select_one(".message").get_text(strip=True))


def test_api_errors_stay_json(client):
    for method, path in [("get", "/api/nope"), ("get", "/api/documents/nope"), ("post", "/api/nope")]:
        response = client.request(method.upper(), path, headers=HTML)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert set(body) == {"ok", "status", "error"} and body["ok"] is False and body["status"] == 404


def test_document_lines_match_the_passage_line_numbers(app):
    """The source view numbers lines exactly as passages cite them."""
    index = app.state.service.current().index
    for passage in index.passages:
        doc = index.documents[passage.doc_id]
        lines = document_lines(doc.text, (passage.char_start, passage.char_end), None)
        cited = [line.number for line in lines if line.cited]
        assert cited[0] == passage.line_start and cited[-1] == passage.line_end, passage.id
        assert "".join(s.text for line in lines for s in line.segments if s.mark == "passage").replace(" ", "") \
            == re.sub(r"\r\n|\r|\n", "", doc.text[passage.char_start:passage.char_end]).replace(" ", "")


def test_document_lines_handle_crlf_and_cr():
    text = "一\r\n二\r三\n四"
    lines = document_lines(text, (text.index("二"), text.index("四") + 1), (text.index("三"), text.index("三") + 1))
    assert [(line.number, "".join(s.text for s in line.segments), line.cited) for line in lines] == [
        (1, "一", False), (2, "二", True), (3, "三", True), (4, "四", True)]
    assert [s.mark for s in lines[2].segments] == ["answer"]
