"""Users: both stores (SQLite, and PostgreSQL on a real server), and the user calls of the API over
the real seed index, against each store; two real servers sharing one PostgreSQL database."""

from __future__ import annotations

import json

import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote
from xml.etree import ElementTree

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.served import ServedIndex
from service.settings import Settings
from service.users import DISLIKE, LIKE, SEEN, UserStoreUnavailable, open_user_store
from tests.conftest import DATA, free_port, id_of, start_server
from tests.postgres_server import PostgresServer, postgres_server  # noqa: F401 (a fixture)
from tests.test_service import PRIVACY, SPECULATIVE_DECODING

STORES = ["sqlite", "postgresql"]


def new_store_url(kind: str, request: pytest.FixtureRequest, folder: Path) -> str:
    """An empty store of that kind: a SQLite file, or a fresh database on the test PostgreSQL server."""
    if kind == "sqlite":
        return f"sqlite:///{folder / 'users.sqlite'}"
    return request.getfixturevalue("postgres_server").new_database()


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return new_store_url(request.param, request, tmp_path)


@pytest.fixture(scope="module", params=STORES)
def client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, seed_index: Path,
           engine: ServedIndex):
    """Overrides the shared client here: the user calls below run once over each store."""
    url = new_store_url(request.param, request, tmp_path_factory.mktemp("users"))
    with TestClient(create_app(Settings(index_dir=seed_index, users=url), served=engine)) as test_client:
        yield test_client


def test_the_store_keeps_marks_across_reopening(store_url: str) -> None:
    store = open_user_store(store_url)
    assert store.mark("ada", ["p1", "p2", "p1"], LIKE) == 2
    store.mark("ada", ["p3"], DISLIKE)
    store.mark("ada", ["p3"], LIKE)  # liking a disliked paper undoes the dislike
    store.mark("ada", ["p9"], SEEN)
    store.mark("bob", ["p1"], LIKE)
    store.close()
    reopened = open_user_store(store_url)
    record = reopened.get("ada")
    assert (record.likes, record.dislikes, record.seen) == (["p1", "p2", "p3"], [], ["p9"])
    assert reopened.unmark("ada", "p2", LIKE) and not reopened.unmark("ada", "p2", LIKE)
    assert reopened.delete("ada") == 3
    assert reopened.get("ada").likes == [] and reopened.get("bob").likes == ["p1"]
    reopened.close()


def test_marks_keep_the_order_they_were_made_in(store_url: str) -> None:
    store = open_user_store(store_url)
    store.mark("ada", ["z", "a", "m"], LIKE)
    store.mark("ada", ["b"], LIKE)
    store.mark("ada", ["a"], DISLIKE)
    store.mark("ada", ["a"], LIKE)  # liked again: now the newest like
    assert store.get("ada").likes == ["z", "m", "b", "a"]
    store.close()


def test_tokens_are_kept_replaced_cleared_and_erased_with_the_user(store_url: str) -> None:
    store = open_user_store(store_url)
    assert store.token_hash("ada") is None
    store.set_token("ada", "hash-1")
    store.set_token("bob", "hash-b")
    store.set_token("ada", "hash-2")  # a new token replaces the old one
    store.close()
    store = open_user_store(store_url)
    assert (store.token_hash("ada"), store.token_hash("bob")) == ("hash-2", "hash-b")
    store.set_token("bob", None)
    assert store.token_hash("bob") is None and store.token_hash("ada") == "hash-2"
    store.mark("ada", ["p1"], LIKE)
    assert store.delete("ada") == 1 and store.token_hash("ada") is None
    store.close()


def test_concurrent_writers_lose_no_mark(store_url: str) -> None:
    store = open_user_store(store_url)
    writers = [threading.Thread(target=lambda n=n: [store.mark("ada", [f"w{n}-{i}"], LIKE) for i in range(25)])
               for n in range(8)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    likes = store.get("ada").likes
    assert len(likes) == 200 and all(likes.index(f"w3-{i}") < likes.index(f"w3-{i + 1}") for i in range(24))
    store.close()


def test_a_sqlite_store_loads_no_psycopg(tmp_path: Path) -> None:
    """psycopg is imported by service/users/postgres.py only, and that only for a postgresql:// URL."""
    check = ("import sys; from service.users import open_user_store, SQLiteUserStore;"
             f"open_user_store({str(tmp_path / 'users.sqlite')!r}).close();"
             "assert 'psycopg' not in sys.modules and 'service.users.postgres' not in sys.modules,"
             " sorted(sys.modules)")
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_an_unreachable_database_is_one_line_naming_it_without_the_password(postgres_server: PostgresServer) -> None:
    unknown = f"postgresql://paperlens:s3cret@127.0.0.1:{postgres_server.port}/no_such_database"
    closed = f"postgres://ada:s3cret@127.0.0.1:{free_port()}/users?password=s3cret&connect_timeout=5"
    for url, shown, reason in ((unknown, f"postgresql://paperlens@127.0.0.1:{postgres_server.port}/no_such_database",
                                "does not exist"),
                               (closed, "postgres://ada@127.0.0.1:", "refused")):
        with pytest.raises(UserStoreUnavailable) as error:
            open_user_store(url)
        message = str(error.value)
        assert shown in message and reason in message and "s3cret" not in message and "\n" not in message
    with pytest.raises(UserStoreUnavailable, match="unsupported user store mysql://ada@db/users"):
        open_user_store("mysql://ada:s3cret@db/users")


def test_a_role_that_cannot_create_the_tables_is_one_line(postgres_server: PostgresServer) -> None:
    database = postgres_server.new_database().rpartition("/")[2]
    with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
        admin.execute("CREATE ROLE reader LOGIN")
    with pytest.raises(UserStoreUnavailable) as error:
        open_user_store(f"postgresql://reader@127.0.0.1:{postgres_server.port}/{database}")
    assert "permission denied" in str(error.value) and "\n" not in str(error.value)


def test_the_store_reconnects_after_a_database_restart(postgres_server: PostgresServer) -> None:
    url = postgres_server.new_database()
    store = open_user_store(url)
    store.mark("ada", ["p1"], LIKE)
    postgres_server.restart()
    with pytest.raises(UserStoreUnavailable, match=url):  # the dropped connection is reported ...
        store.get("ada")
    assert store.get("ada").likes == ["p1"]  # ... and replaced on the next call, the like kept
    store.close()


def like(client: TestClient, user: str, paper_id: str, kind: str = "likes") -> dict:
    response = client.put(f"/users/{user}/{kind}/{quote(paper_id, safe='')}")
    assert response.status_code == 200, response.text
    return response.json()


def test_likes_dislikes_and_erasure(client: TestClient, engine: ServedIndex) -> None:
    paper, other = id_of(engine, SPECULATIVE_DECODING[0]), id_of(engine, PRIVACY[0])
    like(client, "erin", paper)
    body = like(client, "erin", other, "dislikes")
    assert body["likes"] == [paper] and body["dislikes"] == [other] and body["counts"]["likes"] == 1
    assert client.get("/users/erin").json()["dislikes"] == [other]
    assert client.delete(f"/users/erin/dislikes/{quote(other, safe='')}").json()["dislikes"] == []
    assert client.delete(f"/users/erin/dislikes/{quote(other, safe='')}").status_code == 404
    assert client.delete("/users/erin").json()["deleted"] == 1
    assert client.get("/users/erin").json() == {"user": "erin", "likes": [], "dislikes": [],
                                                "counts": {"likes": 0, "dislikes": 0, "seen": 0}}


def test_bad_users_and_unknown_papers_are_clear_errors(client: TestClient) -> None:
    assert client.put("/users/erin/likes/no-such-paper").status_code == 404
    assert "no-such-paper" in client.put("/users/erin/likes/no-such-paper").json()["detail"]
    for name in ("bad%20name", "-leading", "x" * 65):
        response = client.get(f"/users/{name}")
        assert response.status_code == 422 and "user" in response.json()["detail"]


def test_a_user_without_likes_gets_an_empty_list_with_a_reason(client: TestClient) -> None:
    body = client.get("/users/newcomer/recommendations").json()
    assert body["results"] == [] and "like" in body["reason"]


def test_personal_recommendations_cover_each_interest_and_skip_what_was_seen(client: TestClient,
                                                                            engine: ServedIndex) -> None:
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


def test_diversity_and_recency_options_change_the_order(client: TestClient, engine: ServedIndex) -> None:
    user = "options"
    like(client, user, id_of(engine, SPECULATIVE_DECODING[0]))
    plain = client.get(f"/users/{user}/recommendations", params={"k": 10}).json()["results"]
    recent = client.get(f"/users/{user}/recommendations", params={"k": 10, "recency": 30}).json()["results"]
    dates = lambda papers: [p["published"] or "0000" for p in papers[:5]]  # noqa: E731
    assert sorted(dates(recent)) >= sorted(dates(plain))
    diverse = client.get(f"/users/{user}/recommendations", params={"k": 10, "diversity": 0.7}).json()["results"]
    assert len(diverse) == 10 and [p["id"] for p in diverse] != [p["id"] for p in plain]
    assert client.get(f"/users/{user}/recommendations", params={"diversity": 2}).status_code == 422


def test_the_atom_feed_lists_the_recommendations(client: TestClient, engine: ServedIndex) -> None:
    user = "feed-reader"
    like(client, user, id_of(engine, PRIVACY[0]))
    response = client.get(f"/users/{user}/feed.atom", params={"k": 5})
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = ElementTree.fromstring(response.content)
    atom = "{http://www.w3.org/2005/Atom}"
    entries = feed.findall(f"{atom}entry")
    assert len(entries) == 5
    assert all(e.find(f"{atom}title").text and e.find(f"{atom}id").text for e in entries)


def test_importing_a_bibtex_library_turns_matches_into_likes(client: TestClient, engine: ServedIndex) -> None:
    spec = engine.index.paper(id_of(engine, "SpecTr"))
    bib = (
        f"@inproceedings{{sun2023spectr,\n  title = {{{{{spec.title}}}}},\n"
        "  author = {Sun, Ziteng and others},\n  year = 2023\n}\n"
        "@article{unknown2020,\n  title = {A Paper That Is Not In The Index},\n"
        "  author = {Doe, Jane},\n  year = {2020}\n}\n"
    ).encode()
    upload = client.post("/users/importer/import", files={"file": ("library.bib", bib, "application/x-bibtex")})
    assert upload.status_code == 200, upload.text
    body = upload.json()
    assert (body["matched"], body["unmatched"]) == (1, 1) and body["matched_ids"] == [spec.id]
    assert body["unmatched_entries"] == ["A Paper That Is Not In The Index"]
    assert client.get("/users/importer").json()["likes"] == [spec.id]
    raw = client.post("/users/raw-importer/import", content=(DATA / "sample.bib").read_bytes())
    assert raw.status_code == 200 and raw.json()["matched"] + raw.json()["unmatched"] >= 3


def test_ris_and_csl_json_imports_list_what_the_index_lacks_and_what_was_skipped(client: TestClient,
                                                                                  engine: ServedIndex) -> None:
    spec = engine.index.paper(id_of(engine, "SpecTr"))
    ris = (f"TY  - CONF\nTI  - {spec.title}\nAU  - Sun, Ziteng\nPY  - 2023\nER  - \n\n"
           "TY  - ELEC\nUR  - https://example.org/a-web-page\nER  - \n\n"
           "TY  - JOUR\nTI  - A Paper That Is Not In The Index\nAU  - Doe, Jane\nER  - \n").encode()
    upload = {"file": ("library.ris", ris, "application/x-research-info-systems")}
    body = client.post("/users/ris-importer/import", files=upload).json()
    assert (body["matched"], body["matched_ids"]) == (1, [spec.id])
    assert [entry["title"] for entry in body["not_in_index"]] == ["A Paper That Is Not In The Index"]
    assert body["not_in_index"][0]["line"] == 11
    assert [(entry["line"], "title" in entry["reason"]) for entry in body["skipped"]] == [(7, True)]

    csl = json.dumps([{"id": "spec", "type": "paper-conference", "title": spec.title},
                      {"id": "page", "type": "webpage", "URL": "https://example.org"}]).encode()
    body = client.post("/users/csl-importer/import", content=csl).json()  # a JSON array, yet not a list of ids
    assert body["matched_ids"] == [spec.id]
    assert [entry["key"] for entry in body["skipped"]] == ["page"]
    assert client.get("/users/csl-importer").json()["likes"] == [spec.id]


def test_importing_a_list_of_ids(client: TestClient, engine: ServedIndex) -> None:
    known = engine.index.papers[0].id
    body = client.post("/users/id-importer/import", json=[known, "10.9999/nothing", "2501.99999v2"]).json()
    assert body["matched_ids"] == [known] and body["unmatched_entries"] == ["10.9999/nothing", "2501.99999v2"]


def test_bad_libraries_are_422_and_change_nothing(client: TestClient) -> None:
    for content in (b"", b"[1, 2]", b"[\"unterminated"):
        response = client.post("/users/careful/import", content=content)
        assert response.status_code == 422, (content, response.text)
    assert client.get("/users/careful").json()["likes"] == []


def test_two_servers_share_likes_through_one_postgresql_database(postgres_server: PostgresServer, seed_index: Path,
                                                                  engine: ServedIndex, tmp_path: Path) -> None:
    url = postgres_server.new_database()
    folders = [tmp_path / name / "index" for name in ("a", "b")]
    for folder in folders:  # a folder each: the database is all the two servers share
        shutil.copytree(seed_index, folder, symlinks=True,
                        ignore=shutil.ignore_patterns("users.sqlite*", ".writer.lock"))
    with ThreadPoolExecutor(len(folders)) as pool:
        starting = [pool.submit(start_server, folder, args=["--users", url]) for folder in folders]
    started = [future.result() for future in starting if future.exception() is None]
    try:
        (_, a), (_, b) = [future.result() for future in starting]  # or why a server did not start
        first, second = id_of(engine, SPECULATIVE_DECODING[0]), id_of(engine, SPECULATIVE_DECODING[1])
        assert httpx.put(f"{a}/users/ada/likes/{quote(first, safe='')}").status_code == 200
        assert httpx.put(f"{b}/users/ada/likes/{quote(second, safe='')}").status_code == 200
        assert httpx.get(f"{b}/users/ada").json()["likes"] == [first, second]
        assert httpx.get(f"{a}/users/ada").json()["likes"] == [first, second]
        results = httpx.get(f"{b}/users/ada/recommendations", params={"k": 5}).json()["results"]
        assert results and any(p["title"].startswith(tuple(SPECULATIVE_DECODING)) for p in results), results
        assert all(p["id"] not in (first, second) and set(p["because"]) <= {first, second} for p in results)
        unwanted = results[0]["id"]
        assert httpx.put(f"{b}/users/ada/dislikes/{quote(unwanted, safe='')}").status_code == 200
        again = httpx.get(f"{a}/users/ada/recommendations", params={"k": 5}).json()["results"]
        assert unwanted not in [p["id"] for p in again]
        assert not any((folder / "users.sqlite").exists() for folder in folders)
    finally:
        for process, _ in started:
            process.terminate()
            process.wait(timeout=20)
