"""The web page in a real headless Chromium against a real server: search, open a paper, like it,
see the For-you page change, import a library. Screenshots go to docs/screenshots/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import DATA, start_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it)")


@pytest.fixture(scope="module")
def page(seed_index: Path, tmp_path_factory: pytest.TempPathFactory):
    from playwright.sync_api import sync_playwright

    index = tmp_path_factory.mktemp("web") / "index"
    shutil.copytree(seed_index, index, ignore=shutil.ignore_patterns("users.sqlite*"))
    process, base = start_server(index)
    flags = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync"]
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=flags)
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.set_default_timeout(30_000)
            page.goto(base + "/")
            yield page
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=20)


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


def test_search_open_like_and_see_for_you_change(page) -> None:
    page.evaluate("localStorage.setItem('paperlens-user', 'web-reader')")  # as if chosen on an earlier visit
    page.reload()
    assert page.input_value("#user") == "web-reader"
    page.fill("input[name=q]", "speculative decoding for faster LLM inference")
    page.click("form.search button")
    page.wait_for_selector("#results .paper")
    titles = page.locator("#results .paper h2").all_inner_texts()
    assert any("Speculative Decoding" in t for t in titles[:3]), titles
    shot(page, "search")

    page.locator("#results .paper h2 a").first.click()
    page.wait_for_selector("text=More like this")
    liked_title = page.locator("main > h2").inner_text()
    similar = page.locator(".paper h2").all_inner_texts()
    assert liked_title not in similar and len(similar) == 10
    page.locator(".paper .actions button.like").first.click()
    page.wait_for_selector(".paper .actions button.like.on")
    shot(page, "paper")

    page.click("#foryou-link")
    page.wait_for_selector(".paper .why")
    first = page.locator(".paper h2").all_inner_texts()
    assert liked_title not in first
    assert "because you liked" in page.locator(".paper .why").first.inner_text()
    shot(page, "for-you")

    top = page.locator(".paper").first  # like the top recommendation...
    top_id = top.get_attribute("data-id")
    top.locator("button.like").click()
    page.wait_for_selector(f".paper[data-id='{top_id}'] button.like.on")
    page.reload()
    page.wait_for_selector(".paper .why")
    second = [p.get_attribute("data-id") for p in page.locator(".paper").all()]
    assert top_id not in second and len(second) > 0  # ...and the list moves on


def test_import_a_bibtex_library(page) -> None:
    page.click("text=Import library")
    page.wait_for_selector("#import")
    page.set_input_files("#import input[type=file]", str(DATA / "sample.bib"))
    page.click("#import button")
    page.wait_for_selector("#import-result p")
    assert "matched" in page.locator("#import-result p").inner_text()
    shot(page, "import")
