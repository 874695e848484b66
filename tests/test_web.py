"""The web page in a real headless Chromium against real servers: search (a pasted abstract, date
bounds, sort, paging, highlighted words, folded abstracts, arXiv / PDF / DOI links), open a paper,
like it, see the For-you page change and name the liked papers, today's papers for the reader,
import and export a library, sign in with a token, use it all from the keyboard and on a phone,
offline and under axe-core's accessibility rules; and hostile links and paper records, which must
run no script. Screenshots of every view at both widths go to docs/screenshots/."""

from __future__ import annotations

import datetime as dt
import json
import os
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
from indexer.readers import read_papers
from tests.conftest import DATA, SEED_PAPERS, start_server, stop_process
from tests.test_service import PRIVACY, SPECULATIVE_DECODING

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
ADMIN_KEY = "web-test-admin-key"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1100, "height": 900}
PHONE = {"width": 375, "height": 800}
ROOT = Path(__file__).resolve().parent.parent
# axe-core from npm (`npm install axe-core`); PAPERLENS_AXE_SCRIPT names another copy of axe.min.js.
AXE = Path(os.environ.get("PAPERLENS_AXE_SCRIPT") or ROOT / "node_modules" / "axe-core" / "axe.min.js")
SEED = {record["title"]: record for record in map(json.loads, SEED_PAPERS.read_text().splitlines())}
TODAY = dt.datetime.now(dt.timezone.utc).date()
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


def seed_record(title_start: str) -> dict:
    return next(record for title, record in SEED.items() if title.startswith(title_start))


def copy_of(title_start: str, **fields) -> dict:
    """A seed paper's real abstract under another id and title (the copy's own title names it)."""
    record = seed_record(title_start)
    return {**record, "title": f"{record['title']} ({fields['id']})", **fields}


def days_ago(days: int) -> str:
    return (TODAY - dt.timedelta(days=days)).isoformat()


ARXIV_PAPER = copy_of(SPECULATIVE_DECODING[0], id="2405.19715", published="2024-05-30",
                      authors=["Kaixuan Huang", "Xudong Guo", "Mengdi Wang", "Ada Lovelace", "Alan Turing"],
                      categories=["cs.CL", "cs.LG"], url="https://huggingface.co/papers/2405.19715")
DOI_PAPER = copy_of("Pyramid Vector Quantization", id="10.1145/3397271.3401075", published="2024-10-22",
                    authors=["Tycho van der Ouderaa", "Maximilian L. Croci"], categories=["cs.LG"],
                    url="https://dl.acm.org/doi/10.1145/3397271.3401075", extra={"doi": "10.1145/3397271.3401075"})
FRESH = [copy_of(PRIVACY[0], id="fresh-privacy-today", published=days_ago(0)),
         copy_of(SPECULATIVE_DECODING[1], id="fresh-decoding-today", published=days_ago(0)),
         copy_of(PRIVACY[1], id="fresh-privacy-2-days", published=days_ago(2)),
         copy_of(SPECULATIVE_DECODING[2], id="fresh-decoding-5-days", published=days_ago(5))]


@pytest.fixture(scope="module")
def site(seed_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server over a copy of the seed index, with an admin key (so users' tokens are issued by it),
    and papers added through the API: an arXiv one, one with a DOI, and four published this week."""
    index = tmp_path_factory.mktemp("web") / "index"
    shutil.copytree(seed_index, index, ignore=shutil.ignore_patterns("users.sqlite*"))
    process, base = start_server(index, env={"PAPERLENS_ADMIN_KEY": ADMIN_KEY})
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    httpx.post(f"{base}/papers", json=[ARXIV_PAPER, DOI_PAPER, *FRESH], headers=admin, timeout=120).raise_for_status()
    yield base
    stop_process(process)


class Watched:
    """A page with what went wrong on it: dialogs opened (alert, confirm), uncaught script errors,
    breaches of the page's Content-Security-Policy, and requests that leave the server (a CDN, a
    font): the page must work without a network."""

    def __init__(self, context, base: str) -> None:
        self.page, self.base, self.problems = context.new_page(), base, []
        self.page.set_default_timeout(30_000)
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        self.page.on("console", self._console)
        self.page.on("request", self._request)

    def _request(self, request) -> None:
        if request.url.startswith(("http:", "https:")) and not request.url.startswith(self.base + "/"):
            self.problems.append(f"request off the server: {request.url}")

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


def shots(page, name: str) -> None:
    """The view at desktop width, then at phone width, where nothing may stick out sideways (no
    sideways scrolling), then back."""
    shot(page, name)
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(100)
    overflow = page.evaluate("""() => [document.documentElement.scrollWidth, window.innerWidth,
      [...document.querySelectorAll("body *")]
        .filter(node => node.getBoundingClientRect().right > window.innerWidth + 1)
        .map(node => node.tagName + "." + node.className).slice(0, 5)]""")
    assert overflow[0] <= overflow[1], f"{name} on a phone is {overflow[0]} px wide: {overflow[2]}"
    shot(page, f"{name}-phone")
    page.set_viewport_size(DESKTOP)


def test_search_open_like_and_see_for_you_change(page) -> None:
    page.evaluate("localStorage.setItem('paperlens-user', 'web-reader')")  # as if chosen on an earlier visit
    page.reload()
    assert page.input_value("#user") == "web-reader"
    page.fill("[name=q]", "speculative decoding for faster LLM inference")
    page.click("form.search button")
    page.wait_for_selector("#results .paper")
    titles = page.locator("#results .paper h2").all_inner_texts()
    assert any("Speculative Decoding" in t for t in titles[:3]), titles
    shots(page, "search")

    page.locator("#results .paper h2 a").first.click()
    page.wait_for_selector("#similar .paper")
    liked_title = page.locator("main > h2").inner_text()
    similar = page.locator(".paper h2").all_inner_texts()
    assert liked_title not in similar and len(similar) == 10
    page.locator(".paper .actions button.like").first.click()
    page.wait_for_selector(".paper .actions button.like.on")
    shots(page, "paper")

    page.click("#foryou-link")
    page.wait_for_selector(".paper .why")
    first = page.locator(".paper h2").all_inner_texts()
    assert liked_title not in first
    assert "because you liked" in page.locator(".paper .why").first.inner_text()
    because = page.locator(".paper .why a").first  # the liked paper by its title, a link to it
    assert because.inner_text() == liked_title
    assert page.evaluate("document.querySelector('.paper .why a').hash").startswith("#paper=")
    shots(page, "for-you")

    top = page.locator(".paper").first  # like the top recommendation...
    top_id = top.get_attribute("data-id")
    top.locator("button.like").click()
    page.wait_for_selector(f".paper[data-id='{top_id}'] button.like.on")
    page.reload()
    page.wait_for_selector(".paper .why")
    second = [p.get_attribute("data-id") for p in page.locator(".paper").all()]
    assert top_id not in second and len(second) > 0  # ...and the list moves on


def test_import_a_bibtex_library(page) -> None:
    page.click("#library-link")
    page.wait_for_selector("#import")
    page.set_input_files("#import input[type=file]", str(DATA / "sample.bib"))
    page.click("#import button")
    page.wait_for_selector("#import-result p")
    assert "matched" in page.locator("#import-result p").inner_text()
    shots(page, "import")


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


@pytest.fixture
def fresh(browser, site: str) -> Iterator[Watched]:
    """A page of its own (no reader chosen yet), which must end with no problem."""
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    watched = Watched(context, site)
    yield watched
    assert watched.problems == []
    context.close()


def as_reader(watched: Watched, reader: str, hash_part: str = "") -> None:
    """Opens the page for a reader chosen on an earlier visit, once the view has its answers."""
    watched.open()
    watched.page.evaluate("name => localStorage.setItem('paperlens-user', name)", reader)
    watched.open(hash_part)
    loaded(watched.page)


def loaded(page) -> None:
    page.wait_for_selector("main[aria-busy=false]")


def like(site: str, reader: str, *paper_ids: str) -> None:
    for paper_id in paper_ids:
        httpx.put(f"{site}/users/{reader}/likes/{quote(paper_id, safe='')}").raise_for_status()


def paper_ids(page, scope: str) -> list[str]:
    return [paper.get_attribute("data-id") for paper in page.locator(f"{scope} .paper").all()]


def test_a_paper_shows_its_authors_date_categories_and_arxiv_pdf_or_doi_links(fresh: Watched) -> None:
    page = fresh.page
    fresh.open("#" + urlencode({"q": "boosting speculative decoding with adaptive candidate lengths"}))
    arxiv = page.locator("#results .paper[data-id='2405.19715']")
    arxiv.wait_for()
    meta = arxiv.locator(".meta").inner_text()
    assert meta == "Kaixuan Huang, Xudong Guo, Mengdi Wang et al. · 2024-05-30 · cs.CL cs.LG"  # 3 of 5 authors
    links = {link.inner_text(): link.get_attribute("href") for link in arxiv.locator(".actions a").all()}
    assert links == {"more like this": "#paper=2405.19715", "arXiv": "https://arxiv.org/abs/2405.19715",
                     "PDF": "https://arxiv.org/pdf/2405.19715"}  # the Hugging Face url adds nothing here
    marked = {word.lower() for word in arxiv.locator("h2 mark").all_inner_texts()}
    assert marked == {"boosting", "speculative", "decoding", "adaptive", "candidate", "lengths"}
    assert arxiv.locator(".abstract mark").count() >= 5

    abstract, fold = arxiv.locator(".abstract"), arxiv.locator("button.fold")
    folded = abstract.evaluate("node => [node.clientHeight, node.scrollHeight]")
    assert folded[0] < folded[1] / 2 and fold.get_attribute("aria-expanded") == "false"  # the first lines only
    fold.click()
    opened = abstract.evaluate("node => [node.clientHeight, node.scrollHeight]")
    assert opened[0] == opened[1] > folded[0] and fold.get_attribute("aria-expanded") == "true"

    fresh.open("#" + urlencode({"q": "pyramid vector quantization"}))
    doi = page.locator(f"#results .paper[data-id='{DOI_PAPER['id']}']")
    doi.wait_for()
    assert doi.locator(".meta").inner_text() == "Tycho van der Ouderaa, Maximilian L. Croci · 2024-10-22 · cs.LG"
    links = {link.inner_text(): link.get_attribute("href") for link in doi.locator(".actions a").all()}
    assert links == {"more like this": "#" + urlencode({"paper": DOI_PAPER["id"]}),
                     "DOI": "https://doi.org/10.1145/3397271.3401075"}
    seed = page.locator("#results .paper", has_text=seed_record("Pyramid Vector Quantization")["title"]).first
    assert seed.locator(".actions a").all_inner_texts() == ["more like this"]  # no id or url to link to


def test_a_pasted_abstract_grows_the_box_and_finds_its_paper_within_both_date_bounds(fresh: Watched) -> None:
    page = fresh.page
    fresh.open()
    box = page.locator("textarea[name=q]")
    empty = box.bounding_box()["height"]
    box.focus()
    page.keyboard.insert_text(seed_record("EvoPress")["abstract"])  # as a paste does
    assert box.bounding_box()["height"] > 3 * empty
    assert "of 20,000 characters" in page.locator("#query-count").inner_text()
    page.keyboard.press("Enter")
    page.wait_for_selector("#results .paper")
    assert page.locator("#results .paper h2").first.inner_text().startswith("EvoPress")
    shots(page, "search-abstract")

    page.fill("[name=since]", "2024-01-01")
    page.fill("[name=until]", "2024-06-30")
    with page.expect_response(lambda answer: "until=2024-06-30" in answer.url and "since=2024-01-01" in answer.url):
        page.click("form.search button.go")
    loaded(page)
    dates = page.locator("#results .paper .meta time").all_inner_texts()
    assert dates and all("2024-01-01" <= date <= "2024-06-30" for date in dates), dates
    assert page.locator("#results .paper").count() == len(dates)

    box.fill("")
    box.focus()
    page.keyboard.insert_text("x " * 12_500)  # longer than a query may be: cut, and said so
    assert len(box.input_value()) == 20_000
    assert "cut to 20,000 characters" in page.locator("#query-count").inner_text()


def test_every_list_grows_with_more_and_search_sorts_newest_first(fresh: Watched, site: str) -> None:
    page = fresh.page
    fresh.open("#" + urlencode({"q": "language models"}))
    page.wait_for_selector("#results .paper")
    assert page.locator("#results .paper").count() == 20
    page.click("#results button.more")
    page.wait_for_function("() => document.querySelectorAll('#results .paper').length > 20")
    ids = paper_ids(page, "#results")
    assert len(ids) == len(set(ids)) == 40
    assert page.evaluate("document.activeElement.closest('.paper').dataset.id") == ids[20]  # the focus goes on there
    page.click("#results button.more")
    page.wait_for_selector("#results p.note:has-text('No more papers')")
    ids = paper_ids(page, "#results")
    assert len(ids) == len(set(ids)) == 46 and page.locator("#results button.more").count() == 0

    page.select_option("[name=sort]", "date")
    with page.expect_response(lambda answer: "sort=date" in answer.url):
        page.click("form.search button.go")
    loaded(page)
    dates = page.locator("#results .paper .meta time").all_inner_texts()
    assert dates == sorted(dates, reverse=True) and dates[0] == TODAY.isoformat(), dates
    assert "newest first" in page.locator("#summary").inner_text()
    page.click("#results button.more")
    page.wait_for_function("() => document.querySelectorAll('#results .paper').length > 20")
    later = page.locator("#results .paper .meta time").all_inner_texts()
    assert later == sorted(later, reverse=True)

    like(site, "paging-reader", seed_record(SPECULATIVE_DECODING[0])["id"])
    as_reader(fresh, "paging-reader", "#foryou")
    page.click("#feed button.more")
    page.wait_for_function("() => document.querySelectorAll('#feed .paper').length > 20")
    ids = paper_ids(page, "#feed")
    assert len(ids) == len(set(ids)) == 40 and seed_record(SPECULATIVE_DECODING[0])["id"] not in ids

    fresh.open("#" + urlencode({"paper": ARXIV_PAPER["id"]}))
    page.wait_for_selector("#similar .paper")
    page.click("#similar button.more")
    page.wait_for_function("() => document.querySelectorAll('#similar .paper').length > 10")
    ids = paper_ids(page, "#similar")
    assert len(ids) == len(set(ids)) == 20 and ARXIV_PAPER["id"] not in ids


def test_today_for_me_ranks_this_weeks_papers_for_the_reader_and_counts_what_is_new(fresh: Watched, site: str) -> None:
    page = fresh.page
    liked = [seed_record(title) for title in PRIVACY[:2]]
    like(site, "morning-reader", *(record["id"] for record in liked))
    as_reader(fresh, "morning-reader")
    page.click("#today-link")
    page.wait_for_selector("#today .paper")
    loaded(page)
    summary = page.locator("#today-summary").inner_text()
    assert "3 new since your last visit" in summary and f"3 papers published since {days_ago(3)}" in summary
    ids = paper_ids(page, "#today")
    assert sorted(ids[:2]) == ["fresh-privacy-2-days", "fresh-privacy-today"] and ids[2] == "fresh-decoding-today"
    assert page.locator("#today .paper .badge").all_text_contents() == ["new"] * 3
    reasons = page.locator("#today .paper").first.locator(".why a").all_inner_texts()
    assert reasons and set(reasons) <= {record["title"] for record in liked}
    assert page.locator("#today .paper h2").first.locator("mark").count() > 0  # the shared words
    shots(page, "today")

    page.get_by_role("link", name="7 days").click()
    page.wait_for_selector("#today-summary:has-text('4 papers')")
    assert "1 new since your last visit" in page.locator("#today-summary").inner_text()
    new = page.locator("#today .paper", has=page.locator(".badge"))
    assert new.count() == 1 and new.get_attribute("data-id") == "fresh-decoding-5-days"
    assert page.get_by_role("link", name="7 days").get_attribute("aria-current") == "true"

    page.reload()
    page.wait_for_selector("#today .paper")
    assert "0 new since your last visit" in page.locator("#today-summary").inner_text()
    assert page.locator("#today .badge").count() == 0
    feed = httpx.get(f"{site}/users/morning-reader/recommendations", params={"k": 50}).json()
    assert not set(ids) & {paper["id"] for paper in feed["results"]}  # seen today: not recommended again


def test_the_liked_papers_download_as_bibtex_and_csl_json_that_read_back(fresh: Watched, site: str,
                                                                         tmp_path: Path) -> None:
    page = fresh.page
    liked = [ARXIV_PAPER["id"], DOI_PAPER["id"], seed_record(PRIVACY[2])["id"]]
    like(site, "exporting-reader", *liked)
    titles = sorted(httpx.get(f"{site}/papers/{quote(paper_id, safe='')}").json()["title"] for paper_id in liked)
    as_reader(fresh, "exporting-reader", "#library")
    with page.expect_download() as bibtex:
        page.click("#export-bib")
    assert bibtex.value.suggested_filename == "exporting-reader-likes.bib"
    path = tmp_path / "likes.bib"
    bibtex.value.save_as(path)
    back = list(read_papers(str(path), "bibtex"))
    assert sorted(paper.title for paper in back) == titles
    assert {paper.id for paper in back} >= {ARXIV_PAPER["id"], DOI_PAPER["id"]}  # the eprint and the DOI came along
    page.wait_for_selector("#export-result:has-text('3 liked papers')")

    with page.expect_download() as csl:
        page.click("#export-json")
    items = json.loads(Path(csl.value.path()).read_text(encoding="utf-8"))
    assert csl.value.suggested_filename == "exporting-reader-likes.json"
    assert sorted(item["title"] for item in items) == titles
    shots(page, "library")


def focus_ring(page) -> tuple[str, float]:
    """The focused element's outline. A date field's calendar button (a stop of its own, inside the
    field) has Chromium's own ring, which no style of the page can read: it counts as visible."""
    return tuple(page.evaluate("""() => {
      const element = document.activeElement, style = getComputedStyle(element);
      if (element.type === "date" && !element.matches(":focus")) return ["calendar button", 2];
      return [style.outlineStyle, parseFloat(style.outlineWidth)];
    }"""))


def tab_until(page, selector: str, most: int = 40) -> list[str]:
    """Presses Tab until the focus is on `selector`; each stop must show its focus. Returns what had it."""
    visited = []
    for _ in range(most):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return visited
        visited.append(page.evaluate("() => document.activeElement.name || document.activeElement.textContent.trim()"))
        style, width = focus_ring(page)
        assert style != "none" and width >= 2, f"no visible focus on {visited[-1]}"
    raise AssertionError(f"{selector} not reached with Tab: {visited}")


def test_the_page_works_from_the_keyboard_alone(fresh: Watched) -> None:
    page = fresh.page
    as_reader(fresh, "keyboard-reader")
    unnamed = page.evaluate("""() => [...document.querySelectorAll("input, select, textarea, button")]
      .filter(c => !(c.labels && c.labels.length) && !c.getAttribute("aria-label") && !c.textContent.trim())
      .map(c => c.outerHTML)""")
    assert unnamed == []  # every field and button says what it is
    page.focus("header h1 a")
    page.keyboard.press("Shift+Tab")  # the first stop of the page
    assert page.evaluate("document.activeElement.className") == "skip" and focus_ring(page)[0] != "none"
    page.keyboard.press("Enter")  # skips the header
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "q"
    page.keyboard.type("speculative decoding")
    page.keyboard.press("Enter")
    page.wait_for_selector("#results .paper")
    order = tab_until(page, "#results .paper h2 a")
    assert list(dict.fromkeys(order)) == ["Search", "mode", "sort", "category", "author", "since", "until"]

    page.keyboard.press("Enter")  # opens the paper
    page.wait_for_selector("#similar .paper")
    tab_until(page, "main > .paper button.like", most=10)
    page.keyboard.press("Enter")
    page.wait_for_selector("main > .paper button.like.on")
    tab_until(page, "#similar button.fold")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.getAttribute('aria-expanded')") == "true"
    page.focus("#similar button.more")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('#similar .paper').length > 10")
    assert page.evaluate("document.activeElement.closest('.paper').dataset.id") == paper_ids(page, "#similar")[10]


AXE_RUN = """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
  .filter(v => ["serious", "critical"].includes(v.impact))
  .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", ")}`)"""


@pytest.mark.skipif(not AXE.exists(), reason=f"axe-core is not installed ({AXE}): npm install axe-core")
def test_no_view_has_a_serious_accessibility_violation(browser, site: str) -> None:
    like(site, "axe-reader", seed_record(PRIVACY[0])["id"], seed_record(SPECULATIVE_DECODING[0])["id"])
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)  # axe's own script is added to the page
    watched = Watched(context, site)
    page, found = watched.page, {}
    views = {"search": "", "results": "#" + urlencode({"q": "speculative decoding"}),
             "paper": "#" + urlencode({"paper": ARXIV_PAPER["id"]}), "for you": "#foryou", "today": "#today&days=7",
             "library": "#library"}
    for name, hash_part in views.items():
        as_reader(watched, "axe-reader", hash_part)
        page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
        for width, size in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(size)
            found[f"{name} ({width})"] = page.evaluate(AXE_RUN)
        page.set_viewport_size(DESKTOP)
    assert {view: problems for view, problems in found.items() if problems} == {}
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
                      lambda sources, format=None, **options: ({p.id: p for p in papers}, len(papers), 0))
        if hasattr(indexer.build, "read_given"):  # vectors the sources give: none, there are no files
            given = indexer.build.read_given
            patch.setattr(indexer.build, "read_given", lambda sources, *rest, **options: given([], *rest, **options))
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
             "#q=a&category=x%22+onfocus%3D%22alert(1)%22+autofocus%3D%22&since=%22+onfocus%3D%22alert(1)"
             "&until=%22+onfocus%3D%22alert(1)&sort=%22%3E%3Cimg+src%3Dx+onerror%3Dalert(1)%3E"]


@pytest.mark.parametrize("link", REFLECTED, ids=["query", "author", "category"])
def test_a_crafted_link_runs_no_script(hostile_page: Watched, link: str) -> None:
    hostile_page.open(link)
    page = hostile_page.page
    page.wait_for_selector("form.search")
    for name in ("q", "author", "category", "since", "until"):
        page.focus(f"[name={name}]")
    page.wait_for_timeout(300)
    assert hostile_page.problems == [] and page.evaluate(INJECTED) == []
    sent = dict(p.split("=", 1) for p in link[1:].split("&"))
    for name in ("q", "author", "category"):
        if name in sent and sent[name] != "a":
            assert page.input_value(f"[name={name}]") == 'x" onfocus="alert(1)" autofocus="'


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
    page.wait_for_selector("#similar .paper")
    assert page.locator("main > h2").inner_text() == HOSTILE[0]["title"]
    assert HOSTILE[0]["id"] in page.locator("main > .meta").inner_text()
    touch_everything(page)
    assert hostile_page.problems == [] and page.evaluate(INJECTED) == []

    hostile_page.open("#" + urlencode({"paper": "javascript-url"}))
    page.wait_for_selector("#similar .paper")
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
    assert page.locator("#view .why a").first.inner_text() == HOSTILE[0]["title"]  # the liked paper, by title
    touch_everything(page)
    assert hostile_page.problems == [] and page.evaluate(INJECTED) == []
