"""The web page in a real headless Chromium against real servers: search, open a paper, like it,
see the For-you page change, import a library, sign in with a token; and hostile links and paper
records, which must run no script. Screenshots go to docs/screenshots/."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
import pytest

import indexer.build
from indexer.build import build_index
from indexer.papers import Paper
from tests.conftest import DATA, SEED_PAPERS, start_server, stop_process

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
ADMIN_KEY = "web-test-admin-key"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1100, "height": 900}
PHONE = {"width": 375, "height": 800}
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it)")

# Every element attribute named on..., and every link that is not a web address (javascript:, data:).
INJECTED = """() => {
  const found = [];
  for (const node of document.querySelectorAll("*"))
    for (const attribute of node.attributes)
      if (attribute.name.startsWith("on")) found.push(`${node.tagName} ${attribute.name}`);
  for (const link of document.querySelectorAll("a"))
    if (!["http:", "https:"].includes(link.protocol)) found.push(`link to ${link.href}`);
  return found;
}"""


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def site(seed_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server over a copy of the seed index, with an admin key (so users' tokens are issued by it)."""
    index = tmp_path_factory.mktemp("web") / "index"
    shutil.copytree(seed_index, index, ignore=shutil.ignore_patterns("users.sqlite*"))
    process, base = start_server(index, env={"PAPERLENS_ADMIN_KEY": ADMIN_KEY})
    yield base
    stop_process(process)


class Watched:
    """A page with what went wrong on it: dialogs opened (alert, confirm), uncaught script errors,
    and breaches of the page's Content-Security-Policy."""

    def __init__(self, context, base: str) -> None:
        self.page, self.base, self.problems = context.new_page(), base, []
        self.page.set_default_timeout(30_000)
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        self.page.on("console", self._console)

    def _dialog(self, dialog) -> None:
        self.problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    def _console(self, message) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.problems.append(f"CSP: {message.text}")

    def open(self, hash_part: str = "") -> None:
        """A fresh load of the page (not a same-document hash change)."""
        self.page.goto("about:blank")
        self.page.goto(f"{self.base}/{hash_part}")


@pytest.fixture(scope="module")
def page(browser, site: str):
    context = browser.new_context(viewport=DESKTOP)
    watched = Watched(context, site)
    watched.open()
    yield watched.page
    assert watched.problems == []
    context.close()


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
    page.set_viewport_size(PHONE)
    shot(page, "search-phone")
    page.set_viewport_size(DESKTOP)

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


def test_the_page_runs_only_its_own_script_files(site: str) -> None:
    answer = httpx.get(f"{site}/")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "object-src 'none'" in policy
    assert answer.headers["x-content-type-options"] == "nosniff" and answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["content-type"].startswith("text/html")
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", answer.text, re.S)
    assert scripts and all('src="/static/' in attributes and not body.strip() for attributes, body in scripts)
    assert "<style" not in answer.text and not re.search(r"\s(on\w+|style)=", answer.text)

    script = httpx.get(f"{site}/static/app.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert script.headers["content-security-policy"] == policy
    assert script.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(f"{site}/static/app.css").headers["content-type"].startswith("text/css")
    for missing in ("nothing.js", "..%2Fapp.py", "index.html"):
        assert httpx.get(f"{site}/static/{missing}").status_code == 404


def test_a_reader_with_a_token_signs_in_on_the_page(browser, site: str) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    token = httpx.post(f"{site}/users/keyed-reader/token", headers=admin).json()["token"]
    context = browser.new_context(viewport=DESKTOP)
    watched = Watched(context, site)
    page = watched.page
    watched.open("#" + urlencode({"q": "speculative decoding"}))
    page.wait_for_selector("#results .paper")
    page.get_by_label("reader", exact=True).fill("keyed-reader")
    with page.expect_response(lambda answer: "/search?" in answer.url):
        page.keyboard.press("Tab")  # the token field is next, from the keyboard
    assert page.evaluate("document.activeElement.id") == "token"

    like = page.locator("#results .paper").first.locator("button.like")
    with page.expect_response(lambda answer: "/likes/" in answer.url and answer.status == 401):
        like.click()
    page.wait_for_function("() => document.activeElement.id === 'token'")  # the page sends the reader to the field
    help_text = page.locator("#message").inner_text()
    assert "enter your token" in help_text and "POST /users/keyed-reader/token" in help_text, help_text
    assert "on" not in like.get_attribute("class").split()
    shot(page, "sign-in")

    page.keyboard.type(token)
    with page.expect_response(lambda answer: "/search?" in answer.url):
        page.keyboard.press("Enter")  # Sign in
    paper = page.locator("#results .paper").first
    liked = paper.get_attribute("data-id")
    paper.locator("button.like").click()
    paper.locator("button.like.on").wait_for()
    assert page.locator("#message").text_content() == ""
    record = httpx.get(f"{site}/users/keyed-reader", headers={"Authorization": f"Bearer {token}"}).json()
    assert record["likes"] == [liked]

    page.reload()  # the token is kept in the browser...
    page.locator("#results .paper").first.locator("button.like.on").wait_for()
    assert page.get_by_label("token", exact=True).input_value() == token
    page.get_by_role("button", name="Sign out").click()  # ...until the reader signs out
    page.wait_for_selector("#message:has-text('Signed out')")
    assert page.input_value("#token") == "" and page.evaluate("localStorage.getItem('paperlens-token')") is None
    assert watched.problems == []
    context.close()


# Real abstracts under hostile ids, titles, authors and urls; the reader must not run any of them.
HOSTILE = [
    {"id": 'q"uote&x=1+2%20#h onmouseover="alert(7)', "title": 'Quoted <img src=x onerror=alert(5)> ids',
     "url": 'https://x/" onmouseover="alert(9)'},
    {"id": "javascript-url", "title": "A paper whose source is a javascript: url", "url": "javascript:alert(1)"},
    {"id": "single'quote", "title": "Single 'quotes' too", "url": "https://example.org/a' onmouseover='alert(8)"},
    {"id": "data-url", "title": "A paper whose source is a data: url",
     "url": "data:text/html,<script>alert(6)</script>"},
    {"id": "plain", "title": "A plain paper", "url": "https://example.org/plain"},
]


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory: pytest.TempPathFactory, encoder) -> Iterator[str]:
    """A server over an index of hostile records, written through the Python API so that they reach
    the index whatever the readers accept: the page must render safely what an index already holds."""
    seed = [json.loads(line) for line in SEED_PAPERS.read_text().splitlines()[:len(HOSTILE)]]
    papers = [Paper(id=hostile["id"], title=hostile["title"], abstract=record["abstract"], url=hostile["url"],
                    authors=['<b onmouseover="alert(4)">Mallory</b>', "Ada"], published="2024-05-01",
                    categories=['cs.CL"><script>alert(3)</script>']) for hostile, record in zip(HOSTILE, seed)]
    index = tmp_path_factory.mktemp("hostile") / "index"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(indexer.build, "read_sources",
                      lambda sources, format=None: ({p.id: p for p in papers}, len(papers), 0))
        build_index(["hostile records"], index, encoder, progress=False)
    process, base = start_server(index)
    yield base
    stop_process(process)


@pytest.fixture
def hostile_page(browser, hostile_site: str):
    """A page on which the Content-Security-Policy is off: what is tested is that the page itself
    never turns text into markup; the policy is only the second line of defence."""
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    watched = Watched(context, hostile_site)
    yield watched
    context.close()


def touch_everything(page) -> None:
    """Hovers and clicks every visible element of the view, as a curious reader would; web links
    are kept from navigating away (a javascript: link would still run)."""
    page.evaluate("""() => {
      for (const details of document.querySelectorAll("details")) details.open = true;
      document.addEventListener("click", event => {
        const link = event.target.closest("a");
        if (link && ["http:", "https:"].includes(link.protocol)) event.preventDefault();
      }, {capture: true});
    }""")
    for element in page.locator("#view :not(form, form *)").all():  # not the search form: it would leave the page
        if element.is_visible():
            element.hover()
            element.click()
    page.wait_for_timeout(300)  # let the likes' answers come back


REFLECTED = ["#q=x%22+onfocus%3D%22alert(1)%22+autofocus%3D%22",
             "#q=a&author=x%22+onfocus%3D%22alert(1)%22+autofocus%3D%22",
             "#q=a&category=x%22+onfocus%3D%22alert(1)%22+autofocus%3D%22&since=%22+onfocus%3D%22alert(1)"]


@pytest.mark.parametrize("link", REFLECTED, ids=["query", "author", "category"])
def test_a_crafted_link_runs_no_script(hostile_page: Watched, link: str) -> None:
    hostile_page.open(link)
    page = hostile_page.page
    page.wait_for_selector("form.search")
    for name in ("q", "author", "category", "since"):
        page.focus(f"input[name={name}]")
    page.wait_for_timeout(300)
    assert hostile_page.problems == [] and page.evaluate(INJECTED) == []
    sent = dict(p.split("=", 1) for p in link[1:].split("&"))
    for name in ("q", "author", "category"):
        if name in sent and sent[name] != "a":
            assert page.input_value(f"input[name={name}]") == 'x" onfocus="alert(1)" autofocus="'


def test_an_unknown_id_in_a_link_is_shown_as_text(hostile_page: Watched) -> None:
    hostile_page.open("#" + urlencode({"paper": "<img src=x onerror=alert(2)>"}))
    page = hostile_page.page
    page.wait_for_selector("#view .error")
    assert "<img src=x onerror=alert(2)>" in page.locator("#view .error").inner_text()
    assert page.locator("#view img").count() == 0 and hostile_page.problems == []


def test_hostile_records_run_no_script_in_lists_paper_pages_and_for_you(hostile_page: Watched) -> None:
    page, search = hostile_page.page, "#" + urlencode({"q": "language models"})
    hostile_page.open()
    page.evaluate("localStorage.setItem('paperlens-user', 'curious-reader')")
    hostile_page.open(search)
    page.wait_for_selector("#results .paper")
    assert sorted(page.locator("#results .paper h2").all_inner_texts()) == sorted(h["title"] for h in HOSTILE)
    shown_ids = [p.get_attribute("data-id") for p in page.locator("#results .paper").all()]
    assert sorted(shown_ids) == sorted(h["id"] for h in HOSTILE)
    meta = page.locator("#results .paper .meta").first.inner_text()
    assert '<b onmouseover="alert(4)">Mallory</b>' in meta and '"><script>alert(3)</script>' in meta
    source_links = page.locator("#results").get_by_role("link", name="source", exact=True).all()
    sources = [link.get_attribute("href") for link in source_links]
    assert len(sources) == 3 and all(s.startswith("https://") and '"' not in s for s in sources), sources

    page.locator("#results .paper h2 a", has_text="Quoted").click()  # an id with " & = + % # goes through the link
    page.wait_for_selector("text=More like this")
    assert page.locator("main > h2").inner_text() == HOSTILE[0]["title"]
    assert HOSTILE[0]["id"] in page.locator("main > .meta").inner_text()
    touch_everything(page)
    assert hostile_page.problems == [] and page.evaluate(INJECTED) == []

    hostile_page.open("#" + urlencode({"paper": "javascript-url"}))
    page.wait_for_selector("text=More like this")
    # a javascript: url is no link
    assert page.locator("main > .paper").first.get_by_role("link", name="source", exact=True).count() == 0
    touch_everything(page)
    assert hostile_page.problems == [] and page.evaluate(INJECTED) == []

    hostile_page.open(search)
    page.wait_for_selector("#results .paper")
    touch_everything(page)
    assert hostile_page.problems == [] and page.evaluate(INJECTED) == []

    reader = f"{hostile_page.base}/users/curious-reader"  # one like, so that For you gives reasons
    httpx.delete(reader).raise_for_status()
    httpx.put(f"{reader}/likes/{quote(HOSTILE[0]['id'], safe='')}").raise_for_status()
    hostile_page.open("#foryou")
    page.wait_for_selector("#view .paper .why")
    assert HOSTILE[0]["id"] in page.locator("#view .why a").first.inner_text()
    touch_everything(page)
    assert hostile_page.problems == [] and page.evaluate(INJECTED) == []
