"""A live index: papers added, replaced and deleted through the API, reloads, compaction, keys,
limits and metrics, on a real copy of the seed index with the real model (in-process app)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

import numpy as np

from indexer.build import build_index
from indexer.lexical import TfidfModel, Tokenizer
from indexer.live import LiveIndex, Upsert, load_live, write_snapshot
from indexer.papers import Paper
from indexer.store import live_generation
from service.app import create_app
from service.served import ServedIndex
from service.settings import Settings
from tests.conftest import SEED_PAPERS, paperlens_command

ADMIN = {"Authorization": "Bearer admin-secret"}
JSON = {"Content-Type": "application/json"}
SEED = sum(1 for _ in SEED_PAPERS.open())  # papers in the seed index
NEW_PAPER = {
    "id": "2611.00001",
    "title": "Zorbulating Quasicrystal Lattices with Spiking Neural Networks",
    "abstract": "We introduce zorbulation, a method that trains spiking neural networks to predict quasicrystal "
                "lattice defects.",
    "authors": ["Ada Example", "Bo Sample"],
    "categories": ["cs.NE"],
    "published": "2026-11-02",
}


@pytest.fixture()
def index_copy(seed_index: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "index"
    shutil.copytree(seed_index, folder, ignore=shutil.ignore_patterns("users.sqlite*"))
    return folder


def make_client(index: Path, encoder, **settings) -> TestClient:
    engine = ServedIndex.load(index, encoder=encoder)
    return TestClient(create_app(Settings(index_dir=index, refresh_seconds=0, **settings), served=engine))


@pytest.fixture()
def live(index_copy: Path, encoder):
    with make_client(index_copy, encoder, admin_key="admin-secret") as client:
        yield client


def ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [paper["id"] for paper in response.json()["results"]]


def every_listing(client: TestClient, query: str, liked: str) -> set[str]:
    """Every id any list call returns for this query and liked paper."""
    found = set()
    for mode in ("hybrid", "semantic", "keyword"):
        found |= set(ids(client.get("/search", params={"q": query, "k": 100, "mode": mode})))
    found |= set(ids(client.get(f"/papers/{quote(liked, safe='')}/similar", params={"k": 100})))
    found |= set(ids(client.post("/recommendations", json={"liked": [liked], "k": 100})))
    found |= set(ids(client.get("/search", params={"q": query, "k": 100, "category": "cs.NE"})))
    return found


def test_added_paper_is_found_at_once_and_after_a_restart(live: TestClient, index_copy: Path, encoder) -> None:
    answer = live.post("/papers", json=[NEW_PAPER], headers=ADMIN)
    assert answer.status_code == 200, answer.text
    assert answer.json()["added"] == 1 and answer.json()["embedded"] == 1
    assert ids(live.get("/search", params={"q": "zorbulation quasicrystal", "k": 3}))[0] == NEW_PAPER["id"]
    semantic = {"q": "spiking networks predicting crystal defects", "mode": "semantic", "k": 3}
    assert ids(live.get("/search", params=semantic))[0] == NEW_PAPER["id"]
    assert live.get(f"/papers/{NEW_PAPER['id']}").json()["title"] == NEW_PAPER["title"]
    filtered = {"q": "zorbulation", "category": "cs.NE", "since": "2026-11-01"}
    assert NEW_PAPER["id"] in ids(live.get("/search", params=filtered))
    assert live.get("/health").json()["papers"] == SEED + 1
    with make_client(index_copy, encoder) as restarted:  # the journal is replayed on load
        assert ids(restarted.get("/search", params={"q": "zorbulation", "k": 1})) == [NEW_PAPER["id"]]


def test_a_replaced_paper_is_found_by_its_new_text_only(live: TestClient) -> None:
    found = live.get("/search", params={"q": "differentially private best arm identification", "k": 1})
    old = found.json()["results"][0]
    new = {**old, "title": "Gradient Zorbulation for Tabular Data",
           "abstract": "We zorbulate gradients of tree ensembles."}
    assert live.post("/papers", json={"papers": [new]}, headers=ADMIN).json()["replaced"] == 1
    keyword = {"q": "differentially private best arm identification", "k": 10, "mode": "keyword"}
    assert old["id"] not in ids(live.get("/search", params=keyword))
    assert ids(live.get("/search", params={"q": "zorbulate tree ensembles", "k": 1})) == [old["id"]]
    assert live.get(f"/papers/{quote(old['id'], safe='')}").json()["title"] == new["title"]
    assert live.get("/health").json()["papers"] == SEED  # replaced, not added: ids stay stable


def test_a_deleted_paper_is_never_returned_by_any_call(live: TestClient) -> None:
    live.post("/papers", json=[NEW_PAPER], headers=ADMIN)
    found = live.get("/search", params={"q": "differentially private best arm identification", "k": 1})
    target = found.json()["results"][0]["id"]
    neighbour = ids(live.get(f"/papers/{quote(target, safe='')}/similar", params={"k": 1}))[0]
    assert target in every_listing(live, "differentially private best arm identification", neighbour)
    for paper_id in (target, NEW_PAPER["id"]):
        answer = live.delete(f"/papers/{quote(paper_id, safe='')}", headers=ADMIN)
        assert answer.status_code == 200, answer.text
    for paper_id in (target, NEW_PAPER["id"]):
        assert live.get(f"/papers/{quote(paper_id, safe='')}").status_code == 404
        assert live.delete(f"/papers/{quote(paper_id, safe='')}", headers=ADMIN).status_code == 404
        listed = every_listing(live, "differentially private best arm identification zorbulation", neighbour)
        assert paper_id not in listed
    asked = {"liked": [neighbour], "candidates": [target, neighbour], "k": 5}
    recommended = live.post("/recommendations", json=asked).json()
    assert recommended["unknown_ids"] == [target] and recommended["results"] == []
    assert live.get("/health").json()["papers"] == SEED - 1


def test_compaction_keeps_every_answer_and_empties_the_journal(live: TestClient, index_copy: Path) -> None:
    live.post("/papers", json=[NEW_PAPER], headers=ADMIN)
    gone = ids(live.get("/search", params={"q": "language models", "k": 1}))[0]
    live.delete(f"/papers/{quote(gone, safe='')}", headers=ADMIN)
    before = {q: ids(live.get("/search", params={"q": q, "k": 10}))
              for q in ("zorbulation", "reinforcement learning agents", "privacy")}
    result = subprocess.run([*paperlens_command(), "compact", "--index", str(index_copy)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"{SEED} papers, dead rows dropped: 1" in result.stdout
    assert not (live_generation(index_copy) / "journal.jsonl").exists()
    assert live.post("/admin/reload", headers=ADMIN).json()["reloaded"] is True
    status = live.get("/admin/status", headers=ADMIN).json()
    assert status["pending_changes"] == 0 and status["papers"] == SEED
    after = {q: ids(live.get("/search", params={"q": q, "k": 10})) for q in before}
    assert after == before


def test_a_rebuilt_index_is_swapped_in_by_reload_and_offline_deletes_are_picked_up(live: TestClient, index_copy: Path,
                                                                                   encoder, tmp_path: Path) -> None:
    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps(NEW_PAPER) + "\n")
    build_index([str(SEED_PAPERS), str(extra)], index_copy, encoder, progress=False)
    assert live.get(f"/papers/{NEW_PAPER['id']}").status_code == 404  # still the old generation
    assert live.post("/admin/reload", headers=ADMIN).json()["papers"] == SEED + 1
    assert live.get(f"/papers/{NEW_PAPER['id']}").status_code == 200
    result = subprocess.run([*paperlens_command(), "delete", NEW_PAPER["id"], "--index", str(index_copy)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert live.post("/admin/reload", headers=ADMIN).json()["reloaded"] is True
    assert live.get(f"/papers/{NEW_PAPER['id']}").status_code == 404
    missing = subprocess.run([*paperlens_command(), "delete", "no-such-paper", "--index", str(index_copy)],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "no-such-paper" in missing.stderr


def test_changes_made_while_a_compaction_runs_are_carried_into_it(live: TestClient, index_copy: Path) -> None:
    index, position = load_live(index_copy)  # what a compaction starting now reads
    assert live.post("/papers", json=[NEW_PAPER], headers=ADMIN).status_code == 200  # acknowledged meanwhile
    rows = np.asarray(sorted(index.live_ids().values()))
    write_snapshot(index_copy, index, rows, position)
    assert NEW_PAPER["id"] in load_live(index_copy)[0]
    assert live.post("/admin/reload", headers=ADMIN).json()["papers"] == SEED + 1


def test_bad_paper_batches_are_refused_with_the_record_named(live: TestClient) -> None:
    no_id = live.post("/papers", json=[{"title": "No id"}], headers=ADMIN)
    assert no_id.json()["detail"] == "papers[0]: record has no 'id'"
    answer = live.post("/papers", json=[NEW_PAPER, {"id": "x", "title": "T", "published": "yesterday"}], headers=ADMIN)
    assert answer.status_code == 422 and answer.json()["detail"].startswith("papers[1]: field 'published'")
    assert live.post("/papers", json={"papers": "nope"}, headers=ADMIN).status_code == 422
    assert live.post("/papers", json=[], headers=ADMIN).status_code == 422
    assert live.get(f"/papers/{NEW_PAPER['id']}").status_code == 404  # a refused batch changes nothing


def test_write_calls_need_the_admin_key(live: TestClient) -> None:
    for call in (lambda h: live.post("/papers", json=[NEW_PAPER], headers=h),
                 lambda h: live.delete("/papers/anything", headers=h),
                 lambda h: live.post("/admin/reload", headers=h),
                 lambda h: live.post("/admin/compact", headers=h)):
        assert call({}).status_code == 401
        assert call({"Authorization": "Bearer wrong"}).status_code == 401
    assert live.get(f"/papers/{NEW_PAPER['id']}").status_code == 404
    assert live.get("/search", params={"q": "privacy"}).status_code == 200  # reading needs no key


def test_keyed_users_cannot_touch_each_others_likes(live: TestClient) -> None:
    paper = ids(live.get("/search", params={"q": "privacy", "k": 1}))[0]
    assert live.post("/users/ada/token").status_code == 401  # with an admin key, only the admin issues a first token
    token = live.post("/users/ada/token", headers=ADMIN).json()["token"]
    mine = {"Authorization": f"Bearer {token}"}
    assert live.put(f"/users/ada/likes/{quote(paper, safe='')}", headers=mine).status_code == 200
    assert live.get("/users/ada").status_code == 401
    assert live.get("/users/ada", headers={"Authorization": "Bearer someone-else"}).status_code == 401
    assert live.put(f"/users/ada/likes/{quote(paper, safe='')}").status_code == 401
    assert live.delete("/users/ada").status_code == 401
    assert live.get("/users/ada", headers=mine).json()["likes"] == [paper]
    assert live.get("/users/ada/recommendations", headers=mine).status_code == 200
    rotated = live.post("/users/ada/token", headers=mine).json()["token"]
    assert live.get("/users/ada", headers=mine).status_code == 401
    assert live.get("/users/ada", headers={"Authorization": f"Bearer {rotated}"}).status_code == 200


def test_required_user_tokens(index_copy: Path, encoder) -> None:
    with make_client(index_copy, encoder, admin_key="admin-secret", require_user_tokens=True) as client:
        assert client.get("/users/bo").status_code == 401
        token = client.post("/users/bo/token", headers=ADMIN).json()["token"]
        assert client.get("/users/bo", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_limits_answer_413_422_and_429(index_copy: Path, encoder) -> None:
    with make_client(index_copy, encoder, rate_limit=1, rate_burst=3, max_body_bytes=4096, max_batch=2) as client:
        big = client.post("/recommendations", content=b'{"liked": ["' + b"x" * 5000 + b'"]}', headers=JSON)
        assert big.status_code == 413 and "4096" in big.json()["detail"]
        batch = client.post("/papers", json=[NEW_PAPER] * 3)
        assert batch.status_code == 413 and "limit of 2" in batch.json()["detail"]
        assert client.get("/search", params={"q": "x" * 20_001}).status_code == 422
        statuses = [client.get("/search", params={"q": "privacy"}, headers={"Authorization": "Bearer k1"}).status_code
                    for _ in range(6)]
        assert statuses[-1] == 429
        limited = client.get("/search", params={"q": "privacy"}, headers={"Authorization": "Bearer k1"})
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        # An unknown key is no bucket of its own: it shares the client address's (tests/test_security.py).
        other_key = client.get("/search", params={"q": "privacy"}, headers={"Authorization": "Bearer k2"})
        assert other_key.status_code == 429
        assert client.get("/health").status_code == 200  # probes are never limited


def test_cors_is_off_unless_configured(live: TestClient, index_copy: Path, encoder) -> None:
    origin = {"Origin": "https://tool.example"}
    assert "access-control-allow-origin" not in live.get("/search", params={"q": "privacy"}, headers=origin).headers
    with make_client(index_copy, encoder, cors_origins=["https://tool.example"]) as client:
        allowed = client.get("/search", params={"q": "privacy"}, headers=origin)
        assert allowed.headers["access-control-allow-origin"] == "https://tool.example"


def test_metrics_and_probes(live: TestClient) -> None:
    live.get("/search", params={"q": "privacy"})
    live.get("/papers/nope")
    assert live.get("/live").json() == {"status": "alive"}
    assert live.get("/ready").status_code == 200
    text = live.get("/metrics").text
    assert 'paperlens_requests_total{method="GET",route="/search",status="200"}' in text
    assert 'paperlens_requests_total{method="GET",route="/papers/{paper_id:path}",status="404"}' in text
    assert 'paperlens_request_seconds_bucket{le="0.1",method="GET",route="/search"}' in text
    assert f"paperlens_index_papers {SEED}.0" in text and "paperlens_model_info{" in text
    assert "paperlens_index_loaded_timestamp_seconds" in text


@pytest.mark.parametrize("request_args", [
    ("POST", "/recommendations", {"content": b"[" * 100_000 + b"]" * 100_000, "headers": JSON}),
    ("POST", "/papers", {"content": b'[{"id": "a", "title": "\xff\xfe bad"}]', "headers": JSON}),
    ("POST", "/recommendations", {"content": b'{"liked": ["a"], "k": NaN}', "headers": JSON}),
    ("POST", "/recommendations", {"json": {"liked": ["a"], "k": -5}}),
    ("GET", "/search?q=privacy&k=-1", {}),
    ("GET", "/search?q=privacy&offset=NaN", {}),
    ("GET", "/papers/..%2F..%2Fetc%2Fpasswd", {}),
    ("GET", "/papers/../../etc/passwd/similar", {}),
    ("GET", "/search?q=%00%ff", {}),  # a query of odd characters is still a query (200)
    ("GET", "/search?q=privacy&since=2026-13-45", {}),
    ("PUT", "/users/..%2Fadmin/likes/x", {}),
    ("POST", "/users/ada/import", {"content": b"\xff\xfe\x00garbage",
                                   "headers": {"Content-Type": "application/x-bibtex"}}),
    ("POST", "/papers", {"content": b'{"papers": [{"id": "\\u0000", "title": "x"}]}', "headers": JSON}),
])
def test_hostile_inputs_get_a_clear_answer_never_5xx(live: TestClient, request_args) -> None:
    method, url, options = request_args
    answer = live.request(method, url, headers={**ADMIN, **options.pop("headers", {})}, **options)
    assert answer.status_code < 500, (answer.status_code, answer.text[:300])
    body = answer.json()
    assert "results" in body if answer.status_code == 200 else body["detail"]


def test_each_write_tokenises_only_its_own_papers_and_answers_as_before(index_copy: Path, encoder,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Writes used to re-tokenise every paper added since the build, so each was slower than the last."""
    tokenised: list[str] = []
    transformed: list[str] = []
    words, transform = Tokenizer.words, TfidfModel.transform

    def counted_words(self: Tokenizer, text: str) -> list[str]:
        tokenised.append(text)
        return words(self, text)

    def counted_transform(self: TfidfModel, texts):
        transformed.extend(texts)
        return transform(self, texts)

    monkeypatch.setattr(Tokenizer, "words", counted_words)
    monkeypatch.setattr(TfidfModel, "transform", counted_transform)
    live = LiveIndex(index_copy)
    added = []
    for number in range(4):
        record = {**NEW_PAPER, "id": f"{NEW_PAPER['id']}-{number}", "title": f"{NEW_PAPER['title']} {number}"}
        paper = Paper.from_dict(record)
        tokenised.clear()
        transformed.clear()
        index = live.apply(upserts=[Upsert(paper, *encoder.embed([paper.text(), paper.title]))])
        assert tokenised == [paper.title, paper.abstract]  # this write's paper only, however many came before
        assert transformed == [f"{paper.title}. {paper.abstract}"]
        added.append(paper)
    at_once = index.stored.lexical.extended([p.title for p in added], [p.abstract for p in added])
    assert (index.lexical.weights != at_once.weights).nnz == 0 and (index.lexical.tfidf != at_once.tfidf).nnz == 0
    assert index.lexical.surface == at_once.surface
    assert np.argmax(index.lexical.scores("zorbulation quasicrystal 2")) == index.row_of(added[2].id)
