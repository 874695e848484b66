"""The `paperlens` command, run as a user runs it: a real process, real files, exit codes."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from indexer import store
from tests.conftest import SEED_PAPERS


def paperlens(*args: str) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("paperlens")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "service.cli"]
    return subprocess.run([*command, *map(str, args)], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli") / "index"
    result = paperlens("index", SEED_PAPERS, "--index", folder)
    assert result.returncode == 0, result.stderr
    assert f"indexed {sum(1 for _ in SEED_PAPERS.open())} papers" in result.stdout
    return folder


def test_search_similar_and_recommend_answer_without_a_server(cli_index: Path) -> None:
    search = paperlens("search", "speculative decoding with dynamic token trees", "--index", cli_index,
                       "-k", "3", "--json")
    assert search.returncode == 0, search.stderr
    found = json.loads(search.stdout)["results"]
    assert len(found) == 3 and any(p["title"].startswith("DySpec") for p in found)
    paper_id = found[0]["id"]
    similar = paperlens("similar", paper_id, "--index", cli_index, "-k", "2", "--json")
    assert similar.returncode == 0, similar.stderr
    assert paper_id not in [p["id"] for p in json.loads(similar.stdout)["results"]]
    recommend = paperlens("recommend", "--like", paper_id, "--index", cli_index, "-k", "2")
    assert recommend.returncode == 0 and recommend.stdout.count("because") == 2


def test_a_pasted_abstract_is_read_from_a_file_or_standard_input(cli_index: Path, tmp_path: Path) -> None:
    record = json.loads(SEED_PAPERS.read_text(encoding="utf-8").splitlines()[5])
    draft = tmp_path / "draft.txt"
    draft.write_text(record["abstract"], encoding="utf-8")
    from_file = paperlens("search", "--file", draft, "--index", cli_index, "-k", "3", "--json")
    assert from_file.returncode == 0, from_file.stderr
    assert json.loads(from_file.stdout)["results"][0]["id"] == record["id"]
    script = Path(sys.executable).with_name("paperlens")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "service.cli"]
    from_stdin = subprocess.run([*command, "search", "--file", "-", "--index", str(cli_index), "-k", "3", "--json"],
                                input=record["abstract"], capture_output=True, text=True, timeout=300)
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert json.loads(from_stdin.stdout)["results"] == json.loads(from_file.stdout)["results"]
    expect_error(paperlens("search", "words", "--file", draft, "--index", cli_index), "not both")
    expect_error(paperlens("search", "--file", tmp_path / "missing.txt", "--index", cli_index), "missing.txt")


def expect_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    message = result.stderr.strip().splitlines()
    assert len(message) == 1, result.stderr
    for word in words:
        assert word in message[0], message[0]


def test_bad_input_is_one_line_exit_2_and_the_index_stays(cli_index: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(cli_index, index)
    before = sorted((p.name, p.stat().st_size) for p in store.live_generation(index).iterdir())
    malformed = tmp_path / "malformed.jsonl"
    malformed.write_text('{"id": "a", "title": "A"}\n{"id": "b", "title": "B"}\n{"id": "c", "title": \n')
    expect_error(paperlens("index", malformed, "--index", index), "malformed.jsonl", "3")
    no_title = tmp_path / "no-title.jsonl"
    no_title.write_text('{"id": "a", "abstract": "no title here"}\n')
    expect_error(paperlens("index", no_title, "--index", index), "no-title.jsonl", "1", "title")
    unknown_format = tmp_path / "papers.xyz"
    unknown_format.write_text("what is this\n")
    expect_error(paperlens("index", unknown_format, "--index", index), "papers.xyz")
    expect_error(paperlens("index", tmp_path / "missing.jsonl", "--index", index), "missing.jsonl")
    truncated = tmp_path / "truncated.jsonl.gz"
    truncated.write_bytes(gzip.compress((Path(__file__).parent / "data" / "arxiv-sample.jsonl").read_bytes())[:300])
    expect_error(paperlens("index", truncated, "--index", index), "truncated.jsonl.gz")
    expect_error(paperlens("index", SEED_PAPERS, "--index", index, "--model", "no-such/model"), "no-such/model")
    after = sorted((p.name, p.stat().st_size) for p in store.live_generation(index).iterdir())
    assert before == after


def test_unknown_ids_and_missing_index_are_one_line_errors(cli_index: Path, tmp_path: Path) -> None:
    expect_error(paperlens("similar", "no-such-paper", "--index", cli_index), "no-such-paper")
    expect_error(paperlens("search", "anything", "--index", tmp_path / "nothing-here"), "nothing-here")
    expect_error(paperlens("serve", "--index", tmp_path / "nothing-here", "--port", "8999"), "nothing-here")


def test_serve_with_an_unreachable_user_store_is_one_line(seed_index, capsys):
    from service.cli import main
    from tests.conftest import free_port
    users = f"postgresql://ada:s3cret@127.0.0.1:{free_port()}/users"
    assert main(["serve", "--index", str(seed_index), "--users", users]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "postgresql://ada@127.0.0.1" in err and "s3cret" not in err


def test_serve_refuses_the_network_without_an_admin_key(seed_index, capsys, monkeypatch):
    from service.cli import main
    monkeypatch.delenv("PAPERLENS_ADMIN_KEY", raising=False)
    assert main(["serve", "--index", str(seed_index), "--host", "0.0.0.0"]) == 2
    assert "without PAPERLENS_ADMIN_KEY" in capsys.readouterr().err
