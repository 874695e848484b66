"""The HTTP API under TestClient, over a real index of real seed papers and the real model."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from indexer.build import build_index
from service.app import create_app
from service.served import ServedIndex
from service.settings import Settings
from tests.conftest import id_of

SPECULATIVE_DECODING = [
    "SpecDec++",
    "DySpec",
    "SpecTr",
    "Towards Optimal Multi-draft Speculative Decoding",
    "Optimizing Speculative Decoding for Serving",
]
PRIVACY = [
    "Fixed-Budget Differentially Private Best Arm",
    "The Price of Differential Privacy under Continual Observation",
    "Faster Rates of Convergence to Stationary Points in Differentially Private",
]
PAPER_FIELDS = {"id", "title", "abstract", "authors", "categories", "published", "url", "score"}


def wait_until_ready(client: TestClient) -> None:
    deadline = time.monotonic() + 60
    while client.get("/health").status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.1)


def titles(body: dict) -> list[str]:
    return [paper["title"] for paper in body["results"]]


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "keyword"])
def test_a_query_on_a_papers_topic_finds_it_in_the_top_3(client: TestClient, mode: str) -> None:
    body = client.get("/search", params={"q": "faster speculative decoding with a dynamic token tree",
                                         "mode": mode}).json()
    assert any(t.startswith("DySpec") for t in titles(body)[:3]), titles(body)
    assert set(body["results"][0]) >= PAPER_FIELDS
    scores = [paper["score"] for paper in body["results"]]
    assert scores == sorted(scores, reverse=True)


def test_hybrid_search_finds_a_paper_by_meaning_without_its_words(client: TestClient) -> None:
    body = client.get("/search", params={"q": "protecting individuals' data in statistical releases over time"}).json()
    assert any(t.startswith("The Price of Differential Privacy") for t in titles(body)[:3]), titles(body)


def test_more_like_a_speculative_decoding_paper_is_the_other_speculative_decoding_papers(client: TestClient,
                                                                                         engine: ServedIndex) -> None:
    paper_id = id_of(engine, SPECULATIVE_DECODING[0])
    body = client.get(f"/papers/{quote(paper_id, safe='')}/similar", params={"k": 4}).json()
    assert paper_id not in [p["id"] for p in body["results"]]
    found = titles(body)
    for title in SPECULATIVE_DECODING[1:]:
        assert any(t.startswith(title) for t in found), (title, found)


def test_similar_never_returns_the_paper_itself(client: TestClient, engine: ServedIndex) -> None:
    for paper in engine.index.papers[:10]:
        body = client.get(f"/papers/{quote(paper.id, safe='')}/similar", params={"k": 100}).json()
        assert paper.id not in [p["id"] for p in body["results"]]
        assert len(body["results"]) == len(engine.index) - 1


def test_recommendations_follow_the_liked_papers_and_say_why(client: TestClient, engine: ServedIndex) -> None:
    liked = [id_of(engine, SPECULATIVE_DECODING[0]), id_of(engine, SPECULATIVE_DECODING[1])]
    body = client.post("/recommendations", json={"liked": liked, "k": 3}).json()
    assert not set(liked) & {p["id"] for p in body["results"]}
    for title in titles(body):
        assert any(title.startswith(t) for t in SPECULATIVE_DECODING[2:]), titles(body)
    assert all(set(p["because"]) <= set(liked) and p["because"] for p in body["results"])


def test_explanation_names_the_liked_paper_a_result_is_closest_to(client: TestClient, engine: ServedIndex) -> None:
    decoding, privacy = id_of(engine, SPECULATIVE_DECODING[0]), id_of(engine, PRIVACY[0])
    body = client.post("/recommendations", json={"liked": [decoding, privacy], "k": 20}).json()
    for paper in body["results"]:
        if any(paper["title"].startswith(t) for t in SPECULATIVE_DECODING):
            assert paper["because"][0] == decoding
        if any(paper["title"].startswith(t) for t in PRIVACY):
            assert paper["because"][0] == privacy


def test_explanations_name_the_words_shared_with_the_liked_paper(client: TestClient, engine: ServedIndex) -> None:
    paper_id = id_of(engine, SPECULATIVE_DECODING[0])
    similar = client.get(f"/papers/{quote(paper_id, safe='')}/similar", params={"k": 3}).json()["results"]
    for paper in similar:
        assert paper["because"] == [paper_id]
        assert {"speculative", "decoding"} & set(paper["shared_terms"]), paper["shared_terms"]


def test_disliked_papers_push_results_away(client: TestClient, engine: ServedIndex) -> None:
    liked = [id_of(engine, SPECULATIVE_DECODING[0])]
    plain = client.post("/recommendations", json={"liked": liked, "k": 10}).json()
    disliked = [plain["results"][0]["id"]]
    pushed = client.post("/recommendations", json={"liked": liked, "disliked": disliked, "k": 10}).json()
    assert disliked[0] not in [p["id"] for p in pushed["results"]]


def test_recommendations_ignore_and_list_unknown_ids(client: TestClient, engine: ServedIndex) -> None:
    liked = id_of(engine, SPECULATIVE_DECODING[0])
    body = client.post("/recommendations",
                       json={"liked": [liked, "no/such.paper"], "disliked": ["gone"], "k": 5}).json()
    assert body["unknown_ids"] == ["no/such.paper", "gone"]
    assert len(body["results"]) == 5


def test_recommendations_404_when_no_liked_id_is_known(client: TestClient) -> None:
    response = client.post("/recommendations", json={"liked": ["nope-1", "nope-2"]})
    assert response.status_code == 404
    assert "nope-1" in response.json()["detail"]


def test_candidates_are_ranked_all_and_only(client: TestClient, engine: ServedIndex) -> None:
    liked = id_of(engine, PRIVACY[0])
    unrelated = [p.id for p in engine.index.papers
                 if "privac" not in p.text().lower() and "private" not in p.text().lower()]
    candidates = unrelated[:12]
    candidates.append(id_of(engine, PRIVACY[1]))
    body = client.post("/recommendations", json={"liked": [liked], "candidates": candidates, "k": 3}).json()
    assert sorted(p["id"] for p in body["results"]) == sorted(set(candidates))
    assert body["results"][0]["title"].startswith(PRIVACY[1])


def test_filters_apply_before_the_top_k_is_cut(client: TestClient, engine: ServedIndex) -> None:
    dated = sorted(p.published for p in engine.index.papers if p.published and len(p.published) == 10)
    since = dated[len(dated) // 2]
    expected = sum(1 for p in engine.index.papers if p.published and p.published >= since)
    body = client.get("/search",
                      params={"q": "large language models", "since": since, "k": 100, "mode": "semantic"}).json()
    assert len(body["results"]) == expected
    assert all(p["published"] >= since for p in body["results"])
    until = client.get("/search", params={"q": "large language models", "until": since, "k": 5}).json()
    assert all(p["published"][:10] <= since for p in until["results"])


def test_unknown_filter_values_give_an_empty_list(client: TestClient) -> None:
    for params in ({"category": "no.such"}, {"author": "Nobody Atall"}, {"since": "2999-01-01"}):
        response = client.get("/search", params={"q": "privacy", **params})
        assert response.status_code == 200 and response.json()["results"] == []


@pytest.mark.parametrize("params,name", [
    ({"q": "x", "k": 0}, "k"), ({"q": "x", "k": 1000}, "k"), ({"q": ""}, "q"), ({"q": "   "}, "q"),
    ({}, "q"), ({"q": "x", "mode": "fuzzy"}, "mode"), ({"q": "x", "since": "yesterday"}, "since"),
    ({"q": "x", "offset": -1}, "offset"),
])
def test_invalid_parameters_are_422_naming_them(client: TestClient, params: dict, name: str) -> None:
    response = client.get("/search", params=params)
    assert response.status_code == 422
    assert name in response.json()["detail"]


def test_paging_with_offset_continues_the_list(client: TestClient) -> None:
    first = client.get("/search", params={"q": "language models", "k": 10}).json()
    second = client.get("/search", params={"q": "language models", "k": 5, "offset": 5}).json()
    assert [p["id"] for p in second["results"]] == [p["id"] for p in first["results"][5:10]]


def test_unknown_paper_is_404_naming_it(client: TestClient) -> None:
    for path in ("/papers/2501.00000", "/papers/2501.00000/similar"):
        response = client.get(path)
        assert response.status_code == 404 and "2501.00000" in response.json()["detail"]


def test_paper_ids_with_slashes_and_dots_round_trip(tmp_path, encoder) -> None:
    source = tmp_path / "dois.jsonl"
    source.write_text(
        '{"id": "10.1145/3397271.3401075", "title": "ColBERT: efficient passage search",'
        ' "abstract": "Late interaction over BERT."}\n'
        '{"id": "cs/0112017", "title": "An old-style arXiv id", "abstract": "Identifiers with a slash."}\n'
        '{"id": "a b?c#d%e", "title": "Odd characters", "abstract": "Spaces, question marks and hashes."}\n'
    )
    build_index([str(source)], tmp_path / "index", encoder, progress=False)
    with TestClient(create_app(Settings(index_dir=tmp_path / "index"))) as client:
        wait_until_ready(client)
        for paper_id in ("10.1145/3397271.3401075", "cs/0112017", "a b?c#d%e"):
            response = client.get(f"/papers/{quote(paper_id, safe='')}")
            assert response.status_code == 200 and response.json()["id"] == paper_id
            similar = client.get(f"/papers/{quote(paper_id, safe='')}/similar", params={"k": 5}).json()
            assert paper_id not in [p["id"] for p in similar["results"]] and len(similar["results"]) == 2


def test_health_reports_papers_and_model(client: TestClient, engine: ServedIndex) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["papers"] == len(engine.index) and body["model"] == "all-MiniLM-L6-v2"
    # Which runtime embedded the papers (recorded in the index at build time) and embeds the queries.
    assert body["encoder"] == {"papers_runtime": engine.index.manifest.encoder["runtime"],
                               "papers_numerics": engine.index.manifest.encoder["numerics"],
                               "queries_runtime": engine.encoder.runtime, "queries_numerics": engine.encoder.numerics}


def test_503_before_the_index_is_loaded(tmp_path) -> None:
    with TestClient(create_app(Settings(index_dir=tmp_path / "missing"))) as client:
        for response in (client.get("/health"), client.get("/search", params={"q": "x"}),
                         client.post("/recommendations", json={"liked": ["a"]})):
            assert response.status_code == 503
            assert "missing" in response.json()["detail"] or "loading" in response.json()["detail"]


def test_bad_recommendation_bodies_are_422(client: TestClient) -> None:
    for body in ({}, {"liked": []}, {"liked": "x"}, {"liked": ["a"], "k": 0}, {"liked": ["a"], "k": 101},
                 {"liked": ["a"], "since": "soon"}, {"liked": ["a"], "surprise": 1}):
        response = client.post("/recommendations", json=body)
        assert response.status_code == 422, body
        assert isinstance(response.json()["detail"], str)
    response = client.post("/recommendations", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_openapi_docs_and_web_page_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    assert "/search" in client.get("/openapi.json").json()["paths"]
    page = client.get("/")
    assert page.status_code == 200 and "paperlens" in page.text


def test_a_personal_feed_with_diversity_and_nothing_left_to_recommend_is_empty_not_an_error(client, engine) -> None:
    """Found by fuzzing: diversity re-ranking over an empty candidate list."""
    liked = engine.index.papers[0].id
    client.put(f"/users/fuzzed/likes/{liked}")
    answer = client.get("/users/fuzzed/recommendations", params={"diversity": 0.5, "since": "2100-01-01"})
    assert answer.status_code == 200 and answer.json()["results"] == []
