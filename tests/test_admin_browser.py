"""The admin page and the document scope in a real browser: Debian's Chromium (Playwright) against the real app
on an index of its own, served by uvicorn on 127.0.0.1, with the app's CSP (no inline script) in force.

The token is typed once, kept in sessionStorage and never in a URL; a Word file is uploaded, listed, replaced
and deleted through the page; on the chat page a question restricted to one document cites only it, with
JavaScript (the JSON path's filter) and without (the form's ``doc`` fields).
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from bench.docfiles import CHROMIUM, CHROMIUM_ARGS, article, write_docx

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SMALL = ("003_05d70a71f3258940", "004_418b4fb8ab4a92f7")
OTHER = "002_3a274bbbdd8f06d7"
TOKEN = "browser-admin-token"
TIMEOUT_MS = 60_000  # an upload embeds and rebuilds on two busy cores


@pytest.fixture(scope="module")
def server(tmp_path_factory, embedder, cache_dir):
    import uvicorn
    from conftest import make_settings

    from qa.index.build import build_index
    from qa.serve.app import create_app

    root = tmp_path_factory.mktemp("admin")
    docs = root / "docs"
    docs.mkdir()
    for doc_id in SMALL:
        shutil.copy(SEEDS / f"{doc_id}.txt", docs / f"{doc_id}.txt")
    index_dir = root / "index"
    build_index([docs], index_dir, embedder, cache_dir=cache_dir)
    app = create_app(make_settings(index_dir, admin_token=TOKEN), embedder=embedder, watch=False)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if server.started and httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    else:
        pytest.fail("the server did not start")
    yield base, root
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    from playwright.sync_api import expect

    base, _ = server
    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context(base_url=base, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []
    urls: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", lambda m: errors.append(m.text)
           if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    tab.on("request", lambda r: urls.append(r.url))
    tab.urls = urls
    yield tab
    context.close()
    assert not errors, errors  # a CSP violation (inline script) would show here


def test_admin_page_uploads_replaces_and_deletes(page, server, tmp_path):
    from playwright.sync_api import expect

    _, root = server
    page.goto("/admin")
    rows = page.locator("#documents tbody tr")
    expect(rows).to_have_count(2)
    page.fill("#token", TOKEN)
    page.click("#token-form button[type=submit]")
    expect(page.locator("#token-set")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('qa-admin-token')") == TOKEN
    docx = write_docx(article(SEEDS / f"{OTHER}.txt"), tmp_path / "区二院.docx")
    page.set_input_files("#file", str(docx))
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#status")).to_contain_text("上传完成：区二院")
    expect(rows).to_have_count(3)
    row = page.locator('#documents tbody tr[data-id="区二院"]')
    expect(row).to_contain_text("docx")
    original = "/api/documents/%E5%8C%BA%E4%BA%8C%E9%99%A2/file"
    expect(row.locator("a", has_text="原文件")).to_have_attribute("href", original)

    replacement = tmp_path / "新版.txt"
    replacement.write_text("区二院新版简介：医院于2024年新增康复科。", encoding="utf-8")
    page.locator('#documents tbody tr[data-id="区二院"] button[data-action=replace]').click()
    page.set_input_files("#replace-file", str(replacement))
    expect(page.locator("#status")).to_contain_text("替换完成：区二院")
    expect(row).to_contain_text("txt")

    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button[data-action=delete]").click()
    expect(page.locator("#status")).to_contain_text("已删除：区二院")
    expect(rows).to_have_count(2)
    assert not any(TOKEN in url for url in page.urls)  # never in a URL
    assert not list((root / "index.files").glob(".upload-*"))


def test_wrong_token_is_refused_and_forgotten(page):
    from playwright.sync_api import expect

    page.goto("/admin")
    page.fill("#token", "wrong")
    page.click("#token-form button[type=submit]")
    page.locator('#documents tbody tr button[data-action=delete]').first.click()  # a confirm dialog first
    expect(page.locator("#status")).to_have_text("令牌已保存")  # the dialog was dismissed (the default): nothing sent
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator('#documents tbody tr button[data-action=delete]').first.click()
    expect(page.locator("#status")).to_contain_text("删除失败")
    expect(page.locator("#token-form")).to_be_visible()  # the 401 cleared the stored token
    assert page.evaluate("sessionStorage.getItem('qa-admin-token')") is None


def test_question_restricted_to_one_document(page):
    from playwright.sync_api import expect

    page.goto("/")
    page.locator('details.scope summary').click()
    page.check(f'input[name=doc][value="{SMALL[0]}"]')
    page.fill("#question", "医院有多少名职工？")
    page.click("#ask button.send")  # the JSON path sends filter.doc_ids
    expect(page.locator("#history .turn .bubble.reply:not(.working)")).to_have_count(1)
    links = page.locator("#history a.cite-link")
    expect(links.first).to_be_attached()  # shown, or folded under 最接近的段落 when not found
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert hrefs and all(h.startswith(f"/documents/{SMALL[0]}?") for h in hrefs), hrefs
    expect(page.locator(f'input[name=doc][value="{SMALL[0]}"]')).to_be_checked()


def test_question_restricted_to_one_document_without_javascript(browser, server):
    from playwright.sync_api import expect

    base, _ = server
    context = browser.new_context(base_url=base, java_script_enabled=False)
    tab = context.new_page()
    tab.goto("/")
    tab.locator("details.scope summary").click()  # <details> opens without script
    tab.check(f'input[name=doc][value="{SMALL[1]}"]')
    tab.fill("#question", "医院有多少名职工？")
    tab.click("#ask button.send")
    links = tab.locator("#history a.cite-link")
    expect(links.first).to_be_attached()  # shown, or folded under 最接近的段落 when not found
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert hrefs and all(h.startswith(f"/documents/{SMALL[1]}?") for h in hrefs), hrefs
    expect(tab.locator(f'input[name=doc][value="{SMALL[1]}"]')).to_be_checked()
    context.close()
