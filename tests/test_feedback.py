"""Feedback: the API and the no-JavaScript form store votes in SQLite beside the index, bounded and rate-limited
per client; `qa feedback export` turns them into seed_qa items that `qa.evaluation` scores; `qa feedback
stats`; and in Chromium, 👍 under a reply rendered by chat.js is stored (no CSP violation on the way)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner
from conftest import make_settings
from fastapi.testclient import TestClient
from test_api import assert_error
from test_browser import browser, live_server  # noqa: F401  (fixtures: Chromium and the app on a port)

pytestmark = pytest.mark.slow

QUESTION = "荆州二医在封城期间接诊了多少发热患者？"
REFUSED = "襄阳市中心医院的卒中中心在全国排第几？"
HTML = {"accept": "text/html"}


@pytest.fixture
def fb_app(embedder, seed_index_dir, seed_index, tmp_path):
    from qa.serve.app import create_app

    settings = make_settings(seed_index_dir, feedback_db=tmp_path / "fb" / "feedback.sqlite3",
                             feedback_per_minute=5, feedback_max_rows=50)
    return create_app(settings, embedder=embedder, index=seed_index, watch=False)


@pytest.fixture
def fb(fb_app):
    with TestClient(fb_app) as c:
        yield c


def rows(app) -> list[dict]:
    from qa.serve.feedback import FeedbackStore, feedback_path

    return FeedbackStore(feedback_path(app.state.settings)).rows()


def answered(client, question: str = QUESTION) -> dict:
    body = client.post("/api/ask", json={"question": question}).json()
    return body


def test_feedback_lives_beside_the_index_outside_its_builds(tmp_path):
    from qa.serve.feedback import feedback_path

    settings = make_settings(tmp_path / "data" / "index")
    assert feedback_path(settings) == tmp_path / "data" / "index.feedback.sqlite3"
    assert feedback_path(make_settings(tmp_path / "i", feedback_db=tmp_path / "x.db")) == tmp_path / "x.db"


def test_an_up_vote_on_an_answer_is_stored_with_its_passage(fb, fb_app):
    body = answered(fb)
    passage = body["passages"][body["answer"]["passage"] - 1]
    response = fb.post("/api/feedback", json={"question": QUESTION, "passage_id": passage["id"], "vote": "up",
                                              "answer": body["answer"]["display"], "comment": "准确"})
    assert response.status_code == 201, response.text
    assert response.json()["ok"] is True and response.json()["id"] >= 1
    (row,) = rows(fb_app)
    assert (row["question"], row["vote"], row["comment"], row["passage_id"]) == (QUESTION, "up", "准确", passage["id"])
    assert row["doc_id"] == passage["doc_id"] and row["source"] == passage["source"]
    assert row["passage_text"] == passage["text"] and row["answer"] == body["answer"]["display"]
    assert len(row["client"]) == 16 and "127.0.0.1" not in row["client"] and "testclient" not in row["client"]


def test_a_vote_can_name_the_passage_by_its_citation(fb, fb_app):
    body = answered(fb)
    cited = body["passages"][1]
    response = fb.post("/api/feedback", json={"question": QUESTION, "doc_id": cited["doc_id"],
                                              "char_start": cited["char_start"], "vote": "down"})
    assert response.status_code == 201
    assert rows(fb_app)[-1]["passage_id"] == cited["id"]


def test_a_vote_on_not_found_has_no_passage(fb, fb_app):
    assert answered(fb, REFUSED)["found"] is False
    assert fb.post("/api/feedback", json={"question": REFUSED, "vote": "up"}).status_code == 201
    assert rows(fb_app)[-1]["passage_id"] is None


def test_an_answer_that_is_not_in_the_passage_is_not_kept_as_evidence(fb, fb_app):
    body = answered(fb)
    passage = body["passages"][0]
    fb.post("/api/feedback", json={"question": QUESTION, "passage_id": passage["id"], "vote": "up",
                                   "answer": "月亮是奶酪做的。"})
    assert rows(fb_app)[-1]["answer"] == ""


@pytest.mark.parametrize("body,status", [
    ({"question": QUESTION, "vote": "maybe"}, 422),
    ({"question": QUESTION}, 422),
    ({"question": "", "vote": "up"}, 400),
    ({"question": QUESTION, "vote": "up", "passage_id": "no-such-doc#0"}, 404),
    ({"question": QUESTION, "vote": "up", "doc_id": "000_769629a9341062f1", "char_start": 10 ** 9}, 404),
    ({"question": QUESTION, "vote": "up", "comment": "x" * 1001}, 422),
    ({"question": QUESTION, "vote": "up", "extra": 1}, 422),
    ({"question": "a\x00b", "vote": "up"}, 400),
])
def test_bad_feedback_is_refused_in_the_error_shape(fb, fb_app, body, status):
    assert_error(fb.post("/api/feedback", json=body), status)
    with pytest.raises(Exception, match="no feedback stored yet"):
        rows(fb_app)


def test_feedback_is_rate_limited_per_client(fb, fb_app):
    for _ in range(5):
        assert fb.post("/api/feedback", json={"question": REFUSED, "vote": "up"}).status_code == 201
    response = fb.post("/api/feedback", json={"question": REFUSED, "vote": "down"})
    assert_error(response, 429)
    assert response.headers["retry-after"] == "60"
    from qa.serve.feedback import FeedbackStore, Vote

    store = FeedbackStore(fb_app.state.settings.feedback_db, per_minute=5)
    store.add(Vote(question="另一个客户端", vote="up"), client="another-client")  # others are not limited


def test_the_store_keeps_the_newest_rows_only(tmp_path):
    from qa.serve.feedback import FeedbackStore, Vote

    store = FeedbackStore(tmp_path / "f.sqlite3", max_rows=3, per_minute=100)
    for i in range(7):
        store.add(Vote(question=f"问题{i}", vote="up"), client="c")
    assert [r["question"] for r in store.rows()] == ["问题4", "问题5", "问题6"]


def test_concurrent_writers_all_land(tmp_path):
    """Several processes' worth of writers on one file (WAL, one transaction per vote)."""
    from concurrent.futures import ThreadPoolExecutor

    from qa.serve.feedback import FeedbackStore, Vote

    store = FeedbackStore(tmp_path / "f.sqlite3", max_rows=1000, per_minute=1000)
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda i: store.add(Vote(question=f"q{i}", vote="down"), client=f"c{i % 3}"), range(80)))
    assert len(set(ids)) == 80 and len(store.rows()) == 80


def test_an_unwritable_store_is_a_503(embedder, seed_index_dir, seed_index, tmp_path):
    from qa.serve.app import create_app

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    settings = make_settings(seed_index_dir, feedback_db=blocker / "feedback.sqlite3")
    with TestClient(create_app(settings, embedder=embedder, index=seed_index, watch=False)) as c:
        body = assert_error(c.post("/api/feedback", json={"question": REFUSED, "vote": "up"}), 503)
        assert "feedback store" in body["error"]


# ------------------------------------------------------------------------------------ the page form


def test_every_reply_on_the_page_has_a_feedback_form(fb):
    from bs4 import BeautifulSoup

    page = BeautifulSoup(fb.post("/", data={"question": QUESTION}, headers=HTML).text, "html.parser")
    form = page.select_one(".bubble.reply form.feedback")
    assert form["method"] == "post" and form["action"] == "/feedback"
    fields = {i["name"]: i.get("value", "") for i in form.find_all("input")}
    assert fields["question"] == QUESTION and fields["passage_id"].startswith("000_769629a9341062f1#")
    assert fields["answer"] and "comment" in fields
    assert [(b["name"], b["value"]) for b in form.find_all("button")] == [("vote", "up"), ("vote", "down")]
    not_found = BeautifulSoup(fb.post("/", data={"question": REFUSED}, headers=HTML).text, "html.parser")
    assert not_found.select_one("form.feedback input[name=passage_id]")["value"] == ""


def test_the_form_post_stores_the_vote_and_thanks(fb, fb_app):
    from bs4 import BeautifulSoup

    page = BeautifulSoup(fb.post("/", data={"question": QUESTION}, headers=HTML).text, "html.parser")
    fields = {i["name"]: i.get("value", "") for i in page.select("form.feedback input")}
    response = fb.post("/feedback", data={**fields, "comment": "数字对的", "vote": "up"}, headers=HTML)
    assert response.status_code == 200
    assert "感谢反馈" in response.text and "有帮助" in response.text
    row = rows(fb_app)[-1]
    assert (row["question"], row["vote"], row["comment"]) == (QUESTION, "up", "数字对的")
    bad = fb.post("/feedback", data={**fields, "vote": "sideways"}, headers=HTML)
    assert bad.status_code == 400 and "text/html" in bad.headers["content-type"]


# ------------------------------------------------------------------------------------------- the CLI


def test_export_writes_seed_qa_items_that_evaluation_scores(fb, fb_app, retriever, tmp_path, monkeypatch):
    from qa import evaluation
    from qa.cli import cli

    body = answered(fb)
    passage = body["passages"][body["answer"]["passage"] - 1]
    fb.post("/api/feedback", json={"question": QUESTION, "passage_id": passage["id"], "vote": "up",
                                   "answer": body["answer"]["display"]})
    fb.post("/api/feedback", json={"question": REFUSED, "vote": "up"})
    fb.post("/api/feedback", json={"question": "荆州封城是哪一天？", "passage_id": passage["id"], "vote": "down",
                                   "comment": "答非所问"})
    db = str(fb_app.state.settings.feedback_db)
    out = tmp_path / "feedback_qa.jsonl"
    result = CliRunner().invoke(cli, ["feedback", "export", "--db", db, "--out", str(out)])
    assert result.exit_code == 0, result.output
    items = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(i["question"], i["answerable"]) for i in items] == [(QUESTION, True), (REFUSED, False)]
    assert items[0]["doc"] == passage["source"] and items[0]["lang"] == "zh"
    assert items[0]["evidence"] == ["".join(body["answer"]["display"].split())]
    assert set(items[0]) == {"id", "question", "lang", "answerable", "doc", "evidence", "answer"}
    # the exported file is an evaluation set: the answered question is found at rank 1, the other refused
    queries = evaluation.load_queries(out)
    scored = evaluation.run(retriever, queries, evaluation.HitRule({}))
    assert scored[0].rank == 1 and scored[1].found is False
    again = CliRunner().invoke(cli, ["feedback", "export", "--db", db, "--out", str(out)])
    assert again.exit_code == 1 and "exists" in again.output
    with_down = CliRunner().invoke(cli, ["feedback", "export", "--db", db, "--include-down"])
    down = [json.loads(line) for line in with_down.output.splitlines()][-1]
    assert down["needs_review"] is True and down["comment"] == "答非所问" and down["evidence"] == []


def test_stats_counts_votes(fb, fb_app):
    from qa.cli import cli

    fb.post("/api/feedback", json={"question": REFUSED, "vote": "up"})
    fb.post("/api/feedback", json={"question": REFUSED, "vote": "down", "comment": "应该能回答"})
    fb.post("/api/feedback", json={"question": REFUSED, "vote": "down"})
    db = str(fb_app.state.settings.feedback_db)
    result = CliRunner().invoke(cli, ["feedback", "stats", "--db", db, "--json"])
    stats = json.loads(result.output)
    assert (stats["votes"], stats["up"], stats["down"], stats["with_comment"], stats["questions"]) == (3, 1, 2, 1, 1)
    assert stats["most_down"] == [{"question": REFUSED, "down": 2}]
    text = CliRunner().invoke(cli, ["feedback", "stats", "--db", db])
    assert text.exit_code == 0 and text.output.startswith("3 votes (33% up)")


def test_stats_without_feedback_is_one_line(tmp_path):
    from qa.cli import cli

    result = CliRunner().invoke(cli, ["feedback", "stats", "--db", str(tmp_path / "none.sqlite3")])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and "no feedback stored yet" in result.output


def test_a_damaged_store_is_one_line(tmp_path):
    from qa.cli import cli

    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"this is not sqlite" * 100)
    result = CliRunner().invoke(cli, ["feedback", "export", "--db", str(bad)])
    assert result.exit_code == 1 and result.output.startswith("Error: ") and "Traceback" not in result.output
    assert bad.read_bytes() == b"this is not sqlite" * 100  # never replaced


# ----------------------------------------------------------------------------------------- the browser


@pytest.mark.browser
def test_voting_in_the_browser_stores_feedback(app, browser, live_server):  # noqa: F811
    from playwright.sync_api import expect
    from test_browser import TIMEOUT_MS

    from qa.serve.feedback import feedback_path

    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context(base_url=live_server, locale="zh-CN")
    tab = context.new_page()
    problems: list[str] = []
    tab.on("console", lambda msg: problems.append(msg.text) if msg.type in ("error", "warning") else None)
    tab.on("pageerror", lambda exc: problems.append(str(exc)))
    try:
        tab.goto("/")
        tab.fill("textarea[name=question]", QUESTION)
        tab.keyboard.press("Enter")
        reply = tab.locator(".bubble.reply.found").last
        expect(reply).to_be_visible()
        form = reply.locator("form.feedback")
        expect(form).to_be_visible()
        form.locator("input[name=comment]").fill("很有用")
        form.locator("button.vote.up").click()
        expect(form.locator(".feedback-result")).to_have_text("感谢反馈：有帮助")
        assert tab.url.rstrip("/") == live_server  # stayed on the page
    finally:
        context.close()
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
    path = feedback_path(app.state.settings)
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT question, vote, comment, passage_id FROM feedback ORDER BY id DESC LIMIT 1").fetchone()
    assert row[:3] == (QUESTION, "up", "很有用") and row[3].startswith("000_769629a9341062f1#")
