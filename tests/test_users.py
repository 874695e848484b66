"""Users: the SQLite store, and the user calls of the API over the real seed index."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient

from service.engine import SearchEngine
from service.users import DISLIKE, LIKE, SEEN, SQLiteUserStore
from tests.conftest import DATA, id_of
from tests.test_service import PRIVACY, SPECULATIVE_DECODING


def test_the_store_keeps_marks_across_reopening(tmp_path: Path) -> None:
    store = SQLiteUserStore(tmp_path / "users.sqlite")
    assert store.mark("ada", ["p1", "p2", "p1"], LIKE) == 2
    store.mark("ada", ["p3"], DISLIKE)
    store.mark("ada", ["p3"], LIKE)  # liking a disliked paper undoes the dislike
    store.mark("ada", ["p9"], SEEN)
    store.mark("bob", ["p1"], LIKE)
    store.close()
    reopened = SQLiteUserStore(tmp_path / "users.sqlite")
    record = reopened.get("ada")
    assert (record.likes, record.dislikes, record.seen) == (["p1", "p2", "p3"], [], ["p9"])
    assert reopened.unmark("ada", "p2", LIKE) and not reopened.unmark("ada", "p2", LIKE)
    assert reopened.delete("ada") == 3
    assert reopened.get("ada").likes == [] and reopened.get("bob").likes == ["p1"]


def like(client: TestClient, user: str, paper_id: str, kind: str = "likes") -> dict:
    response = client.put(f"/users/{user}/{kind}/{quote(paper_id, safe='')}")
    assert response.status_code == 200, response.text
    return response.json()


def test_likes_dislikes_and_erasure(client: TestClient, engine: SearchEngine) -> None:
    paper, other = id_of(engine, SPECULATIVE_DECODING[0]), id_of(engine, PRIVACY[0])
    like(client, "erin", paper)
    body = like(client, "erin", other, "dislikes")
    assert body["likes"] == [paper] and body["dislikes"] == [other] and body["counts"]["likes"] == 1
    assert client.get("/users/erin").json()["dislikes"] == [other]
    assert client.delete(f"/users/erin/dislikes/{quote(other, safe='')}").json()["dislikes"] == []
    assert client.delete(f"/users/erin/dislikes/{quote(other, safe='')}").status_code == 404
    assert client.delete("/users/erin").json()["deleted"] == 1
    assert client.get("/users/erin").json() == {"user": "erin", "likes": [], "dislikes": [], "counts": {"likes": 0, "dislikes": 0, "seen": 0}}


def test_bad_users_and_unknown_papers_are_clear_errors(client: TestClient) -> None:
    assert client.put("/users/erin/likes/no-such-paper").status_code == 404
    assert "no-such-paper" in client.put("/users/erin/likes/no-such-paper").json()["detail"]
    for name in ("bad%20name", "-leading", "x" * 65):
        response = client.get(f"/users/{name}")
        assert response.status_code == 422 and "user" in response.json()["detail"]


def test_a_user_without_likes_gets_an_empty_list_with_a_reason(client: TestClient) -> None:
    body = client.get("/users/newcomer/recommendations").json()
    assert body["results"] == [] and "like" in body["reason"]


def test_personal_recommendations_cover_each_interest_and_skip_what_was_seen(client: TestClient, engine: SearchEngine) -> None:
    user = "two-interests"
    for title in SPECULATIVE_DECODING[:3] + PRIVACY[:1]:
        like(client, user, id_of(engine, title))
    body = client.get(f"/users/{user}/recommendations", params={"k": 4}).json()
    found = [p["title"] for p in body["results"]]
    assert any(t.startswith(tuple(SPECULATIVE_DECODING)) for t in found), found
    assert any(t.startswith(tuple(PRIVACY)) for t in found), found
    liked = set(client.get(f"/users/{user}").json()["likes"])
    for paper in body["results"]:
        assert paper["id"] not in liked and set(paper["because"]) <= liked
    first = body["results"][0]["id"]
    client.post(f"/users/{user}/seen", json=[first])
    again = client.get(f"/users/{user}/recommendations", params={"k": 10}).json()
    assert first not in [p["id"] for p in again["results"]]
    disliked = again["results"][0]["id"]
    like(client, user, disliked, "dislikes")
    assert disliked not in [p["id"] for p in client.get(f"/users/{user}/recommendations").json()["results"]]


def test_diversity_and_recency_options_change_the_order(client: TestClient, engine: SearchEngine) -> None:
    user = "options"
    like(client, user, id_of(engine, SPECULATIVE_DECODING[0]))
    plain = client.get(f"/users/{user}/recommendations", params={"k": 10}).json()["results"]
    recent = client.get(f"/users/{user}/recommendations", params={"k": 10, "recency": 30}).json()["results"]
    dates = lambda papers: [p["published"] or "0000" for p in papers[:5]]  # noqa: E731
    assert sorted(dates(recent)) >= sorted(dates(plain))
    diverse = client.get(f"/users/{user}/recommendations", params={"k": 10, "diversity": 0.7}).json()["results"]
    assert len(diverse) == 10 and [p["id"] for p in diverse] != [p["id"] for p in plain]
    assert client.get(f"/users/{user}/recommendations", params={"diversity": 2}).status_code == 422


def test_the_atom_feed_lists_the_recommendations(client: TestClient, engine: SearchEngine) -> None:
    user = "feed-reader"
    like(client, user, id_of(engine, PRIVACY[0]))
    response = client.get(f"/users/{user}/feed.atom", params={"k": 5})
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = ElementTree.fromstring(response.content)
    atom = "{http://www.w3.org/2005/Atom}"
    entries = feed.findall(f"{atom}entry")
    assert len(entries) == 5
    assert all(e.find(f"{atom}title").text and e.find(f"{atom}id").text for e in entries)


def test_importing_a_bibtex_library_turns_matches_into_likes(client: TestClient, engine: SearchEngine) -> None:
    spec = engine.index.paper(id_of(engine, "SpecTr"))
    bib = (
        f"@inproceedings{{sun2023spectr,\n  title = {{{{{spec.title}}}}},\n  author = {{Sun, Ziteng and others}},\n  year = 2023\n}}\n"
        "@article{unknown2020,\n  title = {A Paper That Is Not In The Index},\n  author = {Doe, Jane},\n  year = {2020}\n}\n"
    ).encode()
    upload = client.post("/users/importer/import", files={"file": ("library.bib", bib, "application/x-bibtex")})
    assert upload.status_code == 200, upload.text
    body = upload.json()
    assert (body["matched"], body["unmatched"]) == (1, 1) and body["matched_ids"] == [spec.id]
    assert body["unmatched_entries"] == ["A Paper That Is Not In The Index"]
    assert client.get("/users/importer").json()["likes"] == [spec.id]
    raw = client.post("/users/raw-importer/import", content=(DATA / "sample.bib").read_bytes())
    assert raw.status_code == 200 and raw.json()["matched"] + raw.json()["unmatched"] >= 3


def test_importing_a_list_of_ids(client: TestClient, engine: SearchEngine) -> None:
    known = engine.index.papers[0].id
    body = client.post("/users/id-importer/import", json=[known, "10.9999/nothing", "2501.99999v2"]).json()
    assert body["matched_ids"] == [known] and body["unmatched_entries"] == ["10.9999/nothing", "2501.99999v2"]


def test_bad_libraries_are_422_and_change_nothing(client: TestClient) -> None:
    for content in (b"", b"[1, 2]", b"[\"unterminated"):
        response = client.post("/users/careful/import", content=content)
        assert response.status_code == 422, (content, response.text)
    assert client.get("/users/careful").json()["likes"] == []
