"""The chat page in a real browser: Debian's Chromium driven by Playwright against the real app (real model,
seeds index) served by uvicorn on 127.0.0.1. Every wait is bounded.

Needs /usr/bin/chromium (`make browser` installs it); never Playwright's own browser download.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
TIMEOUT_MS = 20_000  # one question takes about a second on this machine; the first one loads more
QUESTION = "荆州二医在封城期间接诊了多少发热患者？"
QUESTION_EN = "How many fever patients did Jingzhou No.2 Hospital receive during the lockdown?"
UNANSWERABLE = ["火星上的医院有多少张床位？", "量子计算机的工作原理是什么？", "What is the capital of France?"]
NOT_FOUND = "文档中没有找到可靠的答案。"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def live_server(app) -> Iterator[str]:
    """The session's app served by uvicorn in a background thread on a free port of 127.0.0.1."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        if server.started:
            try:
                if httpx.get(f"{base}/api/health", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
        if not thread.is_alive():
            pytest.fail("the live server thread died while starting")
        time.sleep(0.1)
    else:
        server.should_exit = True
        pytest.fail(f"the live server did not answer on {base} within 10 s")
    yield base
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` to install Debian's chromium for the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=60_000,
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh tab (fresh storage) on the chat page; fails the test on any script error in the page."""
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context(viewport=DESKTOP, base_url=live_server, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and not _http_status_log(msg.text)
           else None)
    tab.goto("/")
    yield tab
    context.close()
    assert not errors, f"errors in the page: {errors}"


def _http_status_log(text: str) -> bool:
    """Chromium logs every non-2xx or refused fetch as a console error; those are expected here."""
    return text.startswith("Failed to load resource")


def api_ask(base: str, question: str) -> dict:
    response = httpx.post(f"{base}/api/ask", json={"question": question, "top_k": 5}, timeout=30.0)
    return response.json()


def ask(page, question: str, *, press_enter: bool = False):
    """Type a question, send it, and return the locator of its (finished) turn."""
    from playwright.sync_api import expect

    turns = page.locator("#history .turn")
    before = turns.count()
    page.fill("#question", question)
    if press_enter:
        page.press("#question", "Enter")
    else:
        page.click("#ask button.send")
    expect(turns).to_have_count(before + 1)
    turn = turns.nth(before)
    expect(turn.locator(".bubble.reply:not(.working)")).to_have_count(1)
    return turn


def check_reply_matches_api(turn, expected: dict) -> None:
    """The reply shows what the API says: the answer (or the not-found sentence) and every citation."""
    from playwright.sync_api import expect

    cites = turn.locator("a.cite-link")
    expect(cites).to_have_count(len(expected["passages"]))
    for i, passage in enumerate(expected["passages"]):
        href = cites.nth(i).get_attribute("href")
        assert href.startswith(f"/documents/{passage['doc_id']}?start={passage['char_start']}&"), href
        assert href.endswith(f"#L{passage['line_start']}"), href
        expect(cites.nth(i)).to_contain_text(f"[{passage['rank']}]")
        expect(cites.nth(i)).to_contain_text(re.compile(rf"第 {passage['line_start']}(-\d+)? 行"))
    if expected["found"]:
        expect(turn.locator("p.answer mark")).to_have_text(expected["answer"]["display"])
        expect(cites.first).to_be_visible()
    else:
        expect(turn.locator("p.answer")).to_have_text(NOT_FOUND)
        details = turn.locator("details.low-confidence")
        expect(details).to_have_count(1)
        assert details.get_attribute("open") is None, "the closest passages start collapsed"
        expect(details.locator("summary")).to_contain_text("低置信度")


def shoot(page, path: Path, *, full_page: bool = True) -> Path:
    page.screenshot(path=str(path), full_page=full_page, animations="disabled", timeout=TIMEOUT_MS)
    assert path.stat().st_size > 1000
    return path


# ------------------------------------------------------------------------------------------- scenarios


def test_chinese_then_english_keeps_history(page, live_server, tmp_path, capsys):
    from playwright.sync_api import expect

    expected = api_ask(live_server, QUESTION)
    assert expected["found"]
    first = ask(page, QUESTION, press_enter=True)
    expect(first.locator(".bubble.question")).to_have_text(QUESTION)
    check_reply_matches_api(first, expected)
    expect(first.locator("p.answer mark")).to_contain_text("近4000人次")
    source = first.locator("li.passage.has-answer")
    expect(source).to_have_count(1)
    expect(source.locator("blockquote mark")).to_contain_text("近4000人次")

    expected_en = api_ask(live_server, QUESTION_EN)
    second = ask(page, QUESTION_EN)
    expect(second.locator(".bubble.question")).to_have_text(QUESTION_EN)
    check_reply_matches_api(second, expected_en)

    expect(page.locator("#history .turn")).to_have_count(2)
    expect(page.locator("#history .turn").first.locator(".bubble.question")).to_have_text(QUESTION)
    expect(page.locator("#history .turn").first.locator("p.answer mark")).to_contain_text("近4000人次")
    expect(page.locator(".intro")).to_be_hidden()
    expect(page.locator("#question")).to_have_value("")

    desktop = shoot(page, tmp_path / "chat-desktop.png")
    page.set_viewport_size(PHONE)
    page.evaluate("window.scrollTo(0, 0)")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways at 375 px ({width} px wide)"
    expect(page.locator("#question")).to_be_in_viewport()  # the composer stays reachable on a phone
    phone = shoot(page, tmp_path / "chat-375.png", full_page=False)
    with capsys.disabled():
        print(f"\nscreenshots: {desktop}\n             {phone}")


def test_citation_opens_the_highlighted_source(page, live_server, tmp_path, capsys):
    from playwright.sync_api import expect

    expected = api_ask(live_server, QUESTION)
    turn = ask(page, QUESTION)
    rank = expected["answer"]["passage"]
    passage = expected["passages"][rank - 1]
    link = turn.locator("a.cite-link").nth(rank - 1)
    link.click()
    page.wait_for_url(re.compile(r"/documents/"))
    url = urlsplit(page.url)
    assert url.path == f"/documents/{passage['doc_id']}"
    assert url.fragment == f"L{passage['line_start']}"

    expect(page.locator("h1")).to_have_text(passage["title"])
    answer = page.locator(".doc-text mark.hl-answer")
    expect(answer.first).to_be_visible()
    assert "近4000人次" in "".join(answer.all_text_contents())
    expect(page.locator(f"#L{passage['line_start']}")).to_be_in_viewport()
    expect(page.locator(f"#L{passage['line_start']} .ln")).to_have_text(str(passage["line_start"]))
    expect(page.locator(".doc-text .line.cited")).to_have_count(passage["line_end"] - passage["line_start"] + 1)
    highlighted = "".join(page.locator(".doc-text mark").all_text_contents())
    assert re.sub(r"\s", "", highlighted) == re.sub(r"\s", "", passage["text"])
    view = shoot(page, tmp_path / "source-view.png", full_page=False)
    page.set_viewport_size(PHONE)
    page.locator(".doc-text mark.hl-answer").first.scroll_into_view_if_needed()
    view_phone = shoot(page, tmp_path / "source-view-375.png", full_page=False)
    with capsys.disabled():
        print(f"\nscreenshots: {view}\n             {view_phone}")

    # Back to the chat: the conversation of this tab is still there.
    page.go_back()
    expect(page.locator("#history .turn .bubble.question")).to_have_text([QUESTION])
    expect(page.locator("#history .turn p.answer mark")).to_contain_text("近4000人次")


def test_unanswerable_question(page, live_server):
    from playwright.sync_api import expect

    question = next((q for q in UNANSWERABLE if not api_ask(live_server, q)["found"]), None)
    assert question, f"the service claims an answer to every one of {UNANSWERABLE}"
    expected = api_ask(live_server, question)
    turn = ask(page, question)
    check_reply_matches_api(turn, expected)
    expect(turn.locator("details.low-confidence li.passage").first).to_be_hidden()
    turn.locator("details.low-confidence summary").click()
    expect(turn.locator("details.low-confidence li.passage").first).to_be_visible()
    expect(turn.locator("mark")).to_have_count(0)


@pytest.mark.parametrize(("question", "term"), [("襄阳市中心医院的卒中中心在全国排第几？", "襄阳"),  # a name
                                              ("十堰市中西医结合医院一年的门诊量有多少？", "门诊量")])  # what it counts
def test_question_about_what_the_documents_never_mention(page, live_server, question, term):
    from playwright.sync_api import expect

    assert api_ask(live_server, question)["unknown_terms"] == [term]
    turn = ask(page, question)
    expect(turn.locator(".bubble.reply.not-found p.unknown-terms")).to_have_text(f"文档中没有提到：{term}")
    expect(turn.locator("mark")).to_have_count(0)


def test_empty_question_shows_the_api_error(page, live_server):
    from playwright.sync_api import expect

    message = httpx.post(f"{live_server}/api/ask", json={"question": ""}, timeout=10).json()["error"]
    turn = ask(page, "")
    error = turn.locator(".bubble.reply.error")
    expect(error).to_have_attribute("role", "alert")
    expect(error.locator(".error-message")).to_have_text(message)
    expect(error).to_contain_text("400")


def test_script_question_is_shown_as_text(page):
    from playwright.sync_api import expect

    question = "<script>window.__xss=1</script>"
    turn = ask(page, question)
    expect(turn.locator(".bubble.question")).to_have_text(question)
    assert "&lt;script&gt;" in turn.locator(".bubble.question").inner_html()
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("script").count() == len(page.locator("head script[src]").all())  # only ours


def test_enter_sends_and_shift_enter_adds_a_line(page):
    from playwright.sync_api import expect

    box = page.locator("#question")
    box.click()
    box.press_sequentially("荆州二医")
    box.press("Shift+Enter")
    box.press_sequentially("接诊了多少发热患者？")
    expect(box).to_have_value("荆州二医\n接诊了多少发热患者？")
    expect(page.locator("#history .turn")).to_have_count(0)
    box.press("Enter")
    expect(page.locator("#history .turn")).to_have_count(1)
    expect(page.locator("#history .turn .bubble.question")).to_have_text("荆州二医\n接诊了多少发热患者？")
    expect(box).to_have_value("")
    expect(page.locator("#history .turn .bubble.reply:not(.working)")).to_have_count(1)


def test_working_indicator_then_server_down(page):
    """While the answer is on its way a working indicator shows; a dead server gives a clear message."""
    from playwright.sync_api import expect

    held = []
    page.route("**/api/ask", lambda route: held.append(route))
    page.fill("#question", QUESTION)
    page.click("#ask button.send")
    working = page.locator(".bubble.reply.working")
    expect(working).to_be_visible()
    expect(working).to_contain_text("正在检索…")
    expect(page.locator("#ask button.send")).to_be_disabled()
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the page never asked the API"
    held[0].abort("connectionrefused")
    error = page.locator(".bubble.reply.error")
    expect(error).to_contain_text("无法连接到问答服务")
    expect(working).to_have_count(0)
    expect(page.locator("#ask button.send")).to_be_enabled()
    expect(page.locator("#question")).to_have_value(QUESTION)


def test_copy_citation(page, browser, live_server):
    from playwright.sync_api import expect

    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    expected = api_ask(live_server, QUESTION)
    turn = ask(page, QUESTION)
    button = turn.locator("button.copy").first
    button.click()
    expect(button).to_have_text("已复制")
    copied = page.evaluate("navigator.clipboard.readText()")
    first = expected["passages"][0]
    assert copied.startswith(f"{first['title']}, {first['source']}, line")
    assert copied.endswith(first["text"])
    expect(button).to_have_text("复制引用", timeout=5_000)


def test_without_javascript_the_form_still_works(browser, live_server):
    from playwright.sync_api import expect

    context = browser.new_context(viewport=DESKTOP, base_url=live_server, java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        page.goto("/")
        page.fill("#question", "<script>window.__xss=1</script>" + QUESTION)
        page.click("#ask button.send")
        page.wait_for_load_state()
        expect(page.locator(".turn .bubble.question")).to_have_text("<script>window.__xss=1</script>" + QUESTION,
                                                                    timeout=TIMEOUT_MS)
        expect(page.locator(".turn .bubble.reply")).to_have_count(1, timeout=TIMEOUT_MS)
        expect(page.locator(".turn a.cite-link").first).to_be_visible(timeout=TIMEOUT_MS)
        expect(page.locator("button.copy").first).to_be_hidden(timeout=TIMEOUT_MS)
    finally:
        context.close()
