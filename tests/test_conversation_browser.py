"""A conversation on the chat page in a real browser (Debian's Chromium via Playwright, real model and app):
three turns that lean on each other, 理解为, a reload that keeps the conversation, 新对话, the Markdown export,
and the same conversation without JavaScript (hidden fields carry it)."""

from __future__ import annotations

import pytest
from test_browser import DESKTOP, TIMEOUT_MS, ask, browser, live_server, page  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.slow, pytest.mark.browser]

TURNS = ["邵阳市中心医院的胸痛中心建得怎么样了？", "十堰中西医结合医院的呢？", "那荆州二医呢"]


def test_three_turns_reload_and_start_over(page, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    first = ask(page, TURNS[0])
    expect(first.locator(".understood")).to_have_count(0)  # a first question needs no history
    second = ask(page, TURNS[1])
    expect(second.locator(".understood")).to_contain_text("理解为：")
    expect(second.locator(".understood")).to_contain_text("胸痛中心")
    third = ask(page, TURNS[2], press_enter=True)
    expect(third.locator(".understood")).to_contain_text("荆州二医")
    expect(third.locator(".understood")).to_contain_text("胸痛中心")

    # markup in a question is text everywhere, the history included
    marked = ask(page, "<b>区二院</b>呢？")
    expect(marked.locator(".bubble.question")).to_have_text("<b>区二院</b>呢？")
    assert page.locator("#history b").count() == 0

    with page.expect_download(timeout=TIMEOUT_MS) as download:
        page.click("#ask button.export")
    exported = tmp_path / "conversation.md"
    download.value.save_as(exported)
    markdown = exported.read_text(encoding="utf-8")
    assert markdown.startswith("# 文档问答")
    for question in TURNS:
        assert question in markdown
    assert "理解为：" in markdown and "/documents/" in markdown

    page.reload()
    expect(page.locator("#history .turn")).to_have_count(4)
    expect(page.locator("#history .turn").nth(1).locator(".understood")).to_contain_text("胸痛中心")

    page.click("#ask .new-chat")
    expect(page.locator("#history .turn")).to_have_count(0)
    expect(page.locator(".intro")).to_be_visible()
    fresh = ask(page, TURNS[1])  # nothing to lean on any more
    expect(fresh.locator(".understood")).to_have_count(0)
    page.reload()
    expect(page.locator("#history .turn")).to_have_count(1)


def test_conversation_without_javascript(browser, live_server):  # noqa: F811
    from playwright.sync_api import expect

    context = browser.new_context(viewport=DESKTOP, base_url=live_server, java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        tab = context.new_page()
        tab.goto("/")
        for n, question in enumerate(TURNS[:2], 1):
            tab.fill("#question", question)
            tab.click("#ask button.send")
            tab.wait_for_load_state()
            expect(tab.locator("#history .turn")).to_have_count(n)
        turns = tab.locator("#history .turn")
        expect(turns.nth(0).locator(".bubble.question")).to_have_text(TURNS[0])
        expect(turns.nth(1).locator(".understood")).to_contain_text("胸痛中心")
        expect(tab.locator('#ask input[name="turn"]')).to_have_count(2)
        expect(turns.nth(0).locator("a.cite-link").first).to_be_visible()
        tab.click("#ask .new-chat")
        tab.wait_for_load_state()
        expect(tab.locator("#history .turn")).to_have_count(0)
    finally:
        context.close()
