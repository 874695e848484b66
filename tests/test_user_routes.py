"""The reader's calls the web page needs, against a real server process on loopback over a copy of the
seed index: today's papers ranked for the reader, the liked papers exported as BibTeX and CSL-JSON
(parsed back), sorting search by date, and the titles behind "because you liked"."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from indexer.papers import Paper
from indexer.readers import read_papers
from service.citations import bibtex
from tests.conftest import SEED_PAPERS, start_server, stop_process
from tests.test_service import PRIVACY, SPECULATIVE_DECODING

SEED = {record["title"]: record for record in map(json.loads, SEED_PAPERS.read_text().splitlines())}
ADMIN = {"Authorization": "Bearer user-routes-admin-key"}
TODAY = dt.datetime.now(dt.timezone.utc).date()


def seed_record(title_start: str) -> dict:
    return next(record for title, record in SEED.items() if title.startswith(title_start))


def fresh_copy(title_start: str, paper_id: str, days_ago: int) -> dict:
    """A seed paper's real text under a new id, published `days_ago` days before today."""
    record = seed_record(title_start)
    return {**record, "id": paper_id, "title": f"{record['title']} (new version)",
            "published": (TODAY - dt.timedelta(days=days_ago)).isoformat()}


FRESH = [fresh_copy(PRIVACY[0], "new-privacy-today", 0),
         fresh_copy(SPECULATIVE_DECODING[1], "new-decoding-today", 0),
         fresh_copy(PRIVACY[1], "new-privacy-2-days", 2),
         fresh_copy(SPECULATIVE_DECODING[2], "new-decoding-5-days", 5),
         fresh_copy(PRIVACY[2], "new-privacy-10-days", 10)]
SPECIAL = {"id": "10.1145/3397271.3401075", "title": r"100% of x_1 & #tags: \emph{LLM} exports for GPT-4",
           "abstract": "An abstract with a % sign, 5$ and a_b.\nOn two lines.",
           "authors": ["Ada Lovelace", "Charles Babbage and Sons Ltd.", "de la Fuente, María"],
           "categories": ["cs.DL", "cs_IR"], "published": "2020-07-25",
           "url": "https://dl.acm.org/doi/10.1145/3397271",
           "extra": {"doi": "10.1145/3397271.3401075"}}
ARXIV = {**seed_record(SPECULATIVE_DECODING[0]), "id": "2405.19715", "authors": ["Kaixuan Huang", "Xudong Guo"],
         "categories": ["cs.CL", "cs.LG"], "published": "2024-05-30", "url": "https://arxiv.org/abs/2405.19715"}


@pytest.fixture(scope="module")
def site(seed_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server over a copy of the seed index, with the fresh papers, a paper full of LaTeX specials
    and an arXiv paper added through the API."""
    index = tmp_path_factory.mktemp("user-routes") / "index"
    shutil.copytree(seed_index, index, ignore=shutil.ignore_patterns("users.sqlite*"))
    process, base = start_server(index, env={"PAPERLENS_ADMIN_KEY": ADMIN["Authorization"].split()[1]})
    httpx.post(f"{base}/papers", json=[*FRESH, SPECIAL, ARXIV], headers=ADMIN, timeout=120).raise_for_status()
    yield base
    stop_process(process)


def like(base: str, user: str, *paper_ids: str, headers: dict | None = None) -> None:
    for paper_id in paper_ids:
        httpx.put(f"{base}/users/{user}/likes/{quote(paper_id, safe='')}", headers=headers or ADMIN).raise_for_status()


def id_of_title(title_start: str) -> str:
    return seed_record(title_start)["id"]


def test_today_ranks_the_last_days_papers_for_the_reader_and_counts_only_new_ones(site: str) -> None:
    like(site, "today-reader", id_of_title(PRIVACY[0]), id_of_title(PRIVACY[1]))
    first = httpx.get(f"{site}/users/today-reader/today", params={"days": 3}, headers=ADMIN).json()
    ids = [paper["id"] for paper in first["results"]]
    assert sorted(ids) == ["new-decoding-today", "new-privacy-2-days", "new-privacy-today"]  # 5 and 10 days: out
    assert ids[-1] == "new-decoding-today", ids  # a privacy reader gets the privacy papers first
    assert first["new"] == first["total"] == 3 and all(paper["new"] for paper in first["results"])
    assert first["since"] == (TODAY - dt.timedelta(days=3)).isoformat() and first["reason"] is None
    top = first["results"][0]
    assert top["because"] and set(top["because"]) <= set(first["liked_titles"])
    assert first["liked_titles"][top["because"][0]].startswith(tuple(PRIVACY[:2]))

    again = httpx.get(f"{site}/users/today-reader/today", params={"days": 3}, headers=ADMIN).json()
    assert [paper["id"] for paper in again["results"]] == ids  # the same papers, now seen
    assert again["new"] == 0 and not any(paper["new"] for paper in again["results"])
    week = httpx.get(f"{site}/users/today-reader/today", params={"days": 7, "k": 1}, headers=ADMIN).json()
    assert week["total"] == 4 and week["new"] == 1 and len(week["results"]) == 1

    feed = httpx.get(f"{site}/users/today-reader/recommendations", params={"k": 50}, headers=ADMIN).json()
    assert not set(ids) & {paper["id"] for paper in feed["results"]}  # shown once: not recommended again


def test_today_pages_without_overlap_and_can_look_without_marking(site: str) -> None:
    like(site, "pager", id_of_title(SPECULATIVE_DECODING[3]))
    params = {"days": 7, "k": 2, "mark_seen": "false"}
    peek = httpx.get(f"{site}/users/pager/today", params=params, headers=ADMIN).json()
    first = httpx.get(f"{site}/users/pager/today", params={**params, "mark_seen": "true"}, headers=ADMIN).json()
    second = httpx.get(f"{site}/users/pager/today", params={**params, "offset": 2}, headers=ADMIN).json()
    assert [p["id"] for p in peek["results"]] == [p["id"] for p in first["results"]] and first["new"] == 4
    assert len(first["results"]) == len(second["results"]) == 2 and second["new"] == 2
    assert not {p["id"] for p in first["results"]} & {p["id"] for p in second["results"]}
    assert all(p["new"] for p in second["results"])


def test_today_without_likes_is_newest_first_and_says_why(site: str) -> None:
    body = httpx.get(f"{site}/users/no-likes-yet/today", params={"days": 7}, headers=ADMIN).json()
    dates = [paper["published"] for paper in body["results"]]
    assert len(dates) == 4 and dates == sorted(dates, reverse=True)
    assert "like a few" in body["reason"]
    today = httpx.get(f"{site}/users/no-likes-yet/today", params={"days": 7, "since": TODAY.isoformat()}).json()
    assert today["since"] == TODAY.isoformat() and today["total"] == 2  # a later `since` narrows the window


@pytest.mark.parametrize("params", [{"days": 2}, {"days": "week"}, {"days": 3, "k": 0}, {"days": 1, "offset": -1}])
def test_today_refuses_other_windows_naming_the_parameter(site: str, params: dict) -> None:
    answer = httpx.get(f"{site}/users/someone/today", params=params)
    assert answer.status_code == 422
    assert next(name for name in params if params[name] not in (1, 3)) in answer.json()["detail"]


def test_liked_papers_export_as_bibtex_that_parses_back_to_the_same_papers(site: str, tmp_path: Path) -> None:
    liked = [SPECIAL["id"], ARXIV["id"], id_of_title(PRIVACY[2])]
    like(site, "exporter", *liked)
    stored = {paper_id: httpx.get(f"{site}/papers/{quote(paper_id, safe='')}").json() for paper_id in liked}
    answer = httpx.get(f"{site}/users/exporter/likes.bib", headers=ADMIN)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/x-bibtex")
    assert 'filename="exporter-likes.bib"' in answer.headers["content-disposition"]
    text = answer.text
    assert text.count("\n@") == 2 and "100\\% of x\\_1 \\& \\#tags" in text and "{GPT-4}" in text
    assert "eprint = {2405.19715}" in text and "doi = {10.1145/3397271.3401075}" in text
    path = tmp_path / "likes.bib"
    path.write_text(text, encoding="utf-8")
    back = {paper.title: paper for paper in read_papers(str(path), "bibtex")}
    assert sorted(back) == sorted(paper["title"] for paper in stored.values())
    special = back[stored[SPECIAL["id"]]["title"]]
    assert special.authors == ["Ada Lovelace", "Charles Babbage and Sons Ltd.", "María de la Fuente"]
    assert special.published.startswith("2020-07") and special.id == SPECIAL["id"]
    assert special.abstract == stored[SPECIAL["id"]]["abstract"]
    assert back[ARXIV["title"]].id == "2405.19715"


def test_every_latex_special_is_escaped_and_braces_balance_as_bibtex_counts_them(tmp_path: Path) -> None:
    """Braces and backslashes the API would strip may still be in an index built before it did."""
    paper = Paper(id="odd", title="Lone } brace, {balanced} \\emph{cmd} ^ ~ $x$ 50% R&D #1 snake_case",
                  abstract="a { b", authors=["Ada {Lovelace", "Bob and Alice"], published="2021-03")
    text = bibtex([paper])
    assert text.count("{") == text.count("}")
    for line in text.splitlines()[1:-2]:  # each field's own braces balance too, BibTeX reads it as one value
        value = line.split(" = ", 1)[1]
        depth = [value[:i].count("{") - value[:i].count("}") for i in range(1, len(value) - 1)]
        assert min(depth) > 0 and value.endswith("},"), line
    assert ("\\textbraceright{} brace, \\textbraceleft{}balanced\\textbraceright{} \\textbackslash{}emph"
            "\\textbraceleft{}cmd\\textbraceright{} \\textasciicircum{} \\textasciitilde{} \\$x\\$ 50\\% {R\\&D} "
            "\\#1 snake\\_case") in text
    assert "author = {Ada \\textbraceleft{}Lovelace and Bob {and} Alice}" in text
    path = tmp_path / "odd.bib"
    path.write_text(text, encoding="utf-8")
    assert [len(p.authors) for p in read_papers(str(path), "bibtex")] == [2]


def test_liked_papers_export_as_csl_json(site: str) -> None:
    like(site, "csl-reader", SPECIAL["id"], ARXIV["id"])
    answer = httpx.get(f"{site}/users/csl-reader/likes.json", headers=ADMIN)
    assert answer.status_code == 200 and "csl+json" in answer.headers["content-type"]
    items = {item["title"]: item for item in answer.json()}
    special, arxiv = items["100% of x_1 & #tags: LLM exports for GPT-4"], items[ARXIV["title"]]
    assert special["DOI"] == SPECIAL["id"] and special["issued"] == {"date-parts": [[2020, 7, 25]]}
    authors = special["author"]
    assert authors[0] == {"family": "Lovelace", "given": "Ada"} and authors[2] == {"family": "de la Fuente",
                                                                                   "given": "María"}
    assert arxiv["number"] == "arXiv:2405.19715" and arxiv["URL"] == ARXIV["url"]
    assert len({item["id"] for item in items.values()}) == 2


def test_exports_need_the_readers_token_once_they_have_one(site: str) -> None:
    token = httpx.post(f"{site}/users/private-reader/token", headers=ADMIN).json()["token"]
    like(site, "private-reader", ARXIV["id"], headers={"Authorization": f"Bearer {token}"})
    for suffix in ("bib", "json"):
        assert httpx.get(f"{site}/users/private-reader/likes.{suffix}").status_code == 401
        assert httpx.get(f"{site}/users/private-reader/likes.{suffix}",
                         headers={"Authorization": "Bearer pl_wrong"}).status_code == 401
        mine = httpx.get(f"{site}/users/private-reader/likes.{suffix}", headers={"Authorization": f"Bearer {token}"})
        assert mine.status_code == 200 and "2405.19715" in mine.text
    assert httpx.get(f"{site}/users/private-reader/today", params={"days": 1}).status_code == 401


def test_an_empty_library_exports_as_empty_files(site: str) -> None:
    assert httpx.get(f"{site}/users/nobody-here/likes.bib").text == ""
    assert httpx.get(f"{site}/users/nobody-here/likes.json").json() == []


def test_search_sorted_by_date_is_the_best_matches_newest_first(site: str) -> None:
    params = {"q": "differential privacy", "k": 5}
    by_date = httpx.get(f"{site}/search", params={**params, "sort": "date"}).json()
    dates = [paper["published"] or "" for paper in by_date["results"]]
    assert dates == sorted(dates, reverse=True) and by_date["sort"] == "date"
    assert by_date["results"][0]["id"] == "new-privacy-today"
    more = httpx.get(f"{site}/search", params={**params, "sort": "date", "offset": 5}).json()
    assert not {p["id"] for p in more["results"]} & {p["id"] for p in by_date["results"]}
    assert max(p["published"] or "" for p in more["results"]) <= dates[-1]
    relevance = httpx.get(f"{site}/search", params=params).json()
    assert relevance["sort"] == "relevance" and relevance["terms"] == ["differential", "privacy"]
    answer = httpx.get(f"{site}/search", params={**params, "sort": "newest"})
    assert answer.status_code == 422 and "sort" in answer.json()["detail"]


def test_recommendations_name_the_liked_papers_by_title(site: str) -> None:
    like(site, "title-reader", id_of_title(SPECULATIVE_DECODING[0]))
    body = httpx.get(f"{site}/users/title-reader/recommendations", params={"k": 3}, headers=ADMIN).json()
    liked = seed_record(SPECULATIVE_DECODING[0])
    assert body["liked_titles"] == {liked["id"]: liked["title"]}
