"""What a hostile or careless client sends (issue 12, section 4): each gets a clear 4xx naming the
field, and nothing it sends reaches the index, the user store or the feed unchecked."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient

from indexer.build import build_index
from indexer.errors import BadRecord
from indexer.papers import MAX_LENGTHS
from indexer.paper_index import PaperIndex
from tests.conftest import HashingEncoder
from tests.test_live import ADMIN, NEW_PAPER, index_copy, live  # noqa: F401 (fixtures)

LONE_SURROGATE = "\ud800"


def _raw_json(value) -> bytes:
    """JSON as a client may send it: json.dumps writes a lone surrogate as the escape \\ud800."""
    return json.dumps(value).encode("ascii")


def _post(client: TestClient, path: str, body, headers: dict | None = None):
    return client.post(path, content=_raw_json(body), headers={"content-type": "application/json", **(headers or {})})


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,<script>", "file:///etc/passwd", "https://"])
def test_only_http_urls_are_accepted(live: TestClient, url: str) -> None:
    before = live.get("/health").json()["papers"]
    answer = live.post("/papers", json=[{**NEW_PAPER, "url": url}], headers=ADMIN)
    assert answer.status_code == 422 and answer.json()["detail"].startswith("papers[0]: field 'url'"), answer.text
    assert live.get("/health").json()["papers"] == before
    assert live.get(f"/papers/{NEW_PAPER['id']}").status_code == 404


def test_an_indexed_source_with_a_javascript_url_names_the_file_and_line(tmp_path: Path) -> None:
    source = tmp_path / "papers.jsonl"
    source.write_text(json.dumps({"id": "a", "title": "Fine"}) + "\n"
                      + json.dumps({"id": "b", "title": "Bad", "url": "javascript:alert(1)"}) + "\n", encoding="utf-8")
    with pytest.raises(BadRecord, match=r"papers.jsonl:2: field 'url' must be an http\(s\) URL"):
        build_index([str(source)], tmp_path / "index", HashingEncoder(), progress=False)
    assert not (tmp_path / "index" / "CURRENT").exists()


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/recommendations", {"liked": [LONE_SURROGATE]}, "liked.0"),
    ("/recommendations", {"liked": ["x"], "disliked": ["a" + LONE_SURROGATE]}, "disliked.0"),
    ("/users/hostile/seen", [LONE_SURROGATE], "0"),
    ("/users/hostile/import", [LONE_SURROGATE], "not valid JSON"),  # orjson refuses lone surrogates
])
def test_a_lone_surrogate_is_a_422_naming_the_field(client: TestClient, path: str, body, field: str) -> None:
    answer = _post(client, path, body)
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert field in detail and ("unicode" in detail.lower() or "surrogate" in detail), detail


@pytest.mark.parametrize("field", ["title", "abstract", "id"])
def test_a_lone_surrogate_in_a_new_paper_is_refused(live: TestClient, field: str) -> None:
    answer = _post(live, "/papers", [{**NEW_PAPER, field: NEW_PAPER[field] + LONE_SURROGATE}], headers=ADMIN)
    assert answer.status_code == 422 and f"papers[0]: field '{field}'" in answer.json()["detail"], answer.text


def test_deeply_nested_json_in_an_import_is_a_422(client: TestClient) -> None:
    answer = client.post("/users/hostile/import", content=b"[" * 100_000)
    assert answer.status_code == 422 and "not valid JSON" in answer.json()["detail"]


def test_seen_keeps_only_indexed_papers_and_bounds_id_length(client: TestClient, engine) -> None:
    known = engine.index.papers[0].id
    answer = client.post("/users/seer/seen", json=[known, "no-such-paper", "x" * 400])
    assert answer.status_code == 200 and answer.json()["counts"]["seen"] == 1
    assert answer.json()["unknown_ids"] == ["no-such-paper", "x" * 400]
    too_long = client.post("/users/seer/seen", json=["x" * (MAX_LENGTHS["id"] + 1)])
    assert too_long.status_code == 422 and str(MAX_LENGTHS["id"]) in too_long.json()["detail"]
    assert client.get("/users/seer").json()["counts"]["seen"] == 1
    client.delete("/users/seer")


@pytest.mark.parametrize(("field", "value"), [("title", "t" * (MAX_LENGTHS["title"] + 1)),
                                              ("abstract", "a " * MAX_LENGTHS["abstract"]),
                                              ("authors", ["n" * (MAX_LENGTHS["author"] + 1)])])
def test_oversized_fields_are_refused_naming_the_limit(live: TestClient, field: str, value) -> None:
    answer = live.post("/papers", json=[{**NEW_PAPER, field: value}], headers=ADMIN)
    detail = answer.json()["detail"]
    assert answer.status_code == 422 and detail.startswith("papers[0]: field ") and "over the limit" in detail


@pytest.mark.parametrize(("field", "value", "says"), [
    ("authors", {"a": 1}, "list of strings"),
    ("categories", [["a"]], "list of strings"),
    ("published", "0000", "bad published date"),
])
def test_malformed_fields_are_refused_with_the_records_position(live: TestClient, field: str, value,
                                                               says: str) -> None:
    answer = live.post("/papers", json=[NEW_PAPER, {**NEW_PAPER, "id": "second", field: value}], headers=ADMIN)
    assert answer.status_code == 422 and answer.json()["detail"].startswith("papers[1]: ")
    assert says in answer.json()["detail"]


def test_control_characters_are_stripped_at_ingest_and_the_feed_parses(live: TestClient) -> None:
    paper = {**NEW_PAPER, "title": "Zorbulating\x00 quasicrystal\x07 lattices\x1b",
             "abstract": "Bells\x08 and nulls\x00."}
    assert live.post("/papers", json=[paper], headers=ADMIN).status_code == 200
    stored = live.get(f"/papers/{paper['id']}").json()
    assert stored["title"] == "Zorbulating quasicrystal lattices" and stored["abstract"] == "Bells and nulls."
    liked = live.get("/search", params={"q": "zorbulation spiking quasicrystal", "k": 1}).json()["results"][0]["id"]
    assert live.put(f"/users/feeder/likes/{liked}").status_code == 200
    feed = live.get("/users/feeder/feed.atom")
    assert feed.status_code == 200 and ElementTree.fromstring(feed.content).tag.endswith("feed")


def test_the_feed_drops_control_characters_of_papers_indexed_before_the_fix() -> None:
    from service.routes.users import atom_feed
    from service.schemas import PaperOut

    papers = [PaperOut(id="old", title="Old\x01 title\x1f", abstract="Abstract\x00.", authors=["A\x02"])]
    root = ElementTree.fromstring(atom_feed("http://127.0.0.1/feed", "reader", papers, None))
    assert [e.text for e in root.iter() if e.tag.endswith("title")][-1] == "Old title"


def test_a_pasted_abstract_is_a_query_and_the_limit_is_named(client: TestClient, engine) -> None:
    abstract = " ".join(paper.abstract for paper in engine.index.papers[:12])[:19_000]
    assert len(abstract) > 5_000
    answer = client.get("/search", params={"q": abstract, "k": 5})
    assert answer.status_code == 200 and len(answer.json()["results"]) == 5
    too_long = client.get("/search", params={"q": "x" * 20_001})
    assert too_long.status_code == 422 and "20000" in too_long.json()["detail"]


def test_a_refused_batch_leaves_the_index_as_it_was(live: TestClient, index_copy: Path) -> None:  # noqa: F811
    before = len(PaperIndex.load(index_copy).papers)
    bad = [NEW_PAPER, {**NEW_PAPER, "id": "bad", "url": "javascript:alert(1)"}]
    assert live.post("/papers", json=bad, headers=ADMIN).status_code == 422
    assert live.get(f"/papers/{NEW_PAPER['id']}").status_code == 404
    assert len(PaperIndex.load(index_copy).papers) == before


@pytest.mark.parametrize("url", ['https://x/" onmouseover="alert(9)', "https://x/<script>", "http://:80/x"])
def test_a_url_that_breaks_out_of_an_attribute_is_refused(live: TestClient, url: str) -> None:
    answer = live.post("/papers", json=[{**NEW_PAPER, "url": url}], headers=ADMIN)
    assert answer.status_code == 422 and answer.json()["detail"].startswith("papers[0]: field 'url'"), answer.text


@pytest.mark.parametrize("path", ["/search?q=%ED%A0%80", "/search?q=x&category=%ED%A0%80", "/papers/%ED%A0%80",
                                  "/papers/%ED%A0%80/similar", "/users/x/likes/%ED%A0%80"])
def test_an_encoded_lone_surrogate_in_a_query_or_path_is_no_500(client: TestClient, path: str) -> None:
    # Percent-decoding turns the invalid UTF-8 into U+FFFD: an ordinary, unknown string.
    answer = client.get(path) if "likes" not in path else client.put(path)
    assert answer.status_code in (200, 404), answer.text
    assert "\ufffd" in answer.text or answer.status_code == 200


def test_the_bundled_corpora_are_within_every_limit() -> None:
    # The limits must never refuse a real paper: the bundled arXiv sample reads through them whole.
    from indexer.readers import read_papers

    corpus = Path(__file__).parent.parent / "data" / "arxiv-cs-recent-5000.jsonl.gz"
    assert sum(1 for _ in read_papers(str(corpus))) == 5000
