"""The evaluation harness: exact metrics, and every method measured on a small judged set."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from service import evaluation
from service.cli import main
from tests.conftest import SEED_PAPERS

SPECULATIVE = ["SpecDec++", "DySpec", "SpecTr", "Towards Optimal Multi-draft", "Optimizing Speculative Decoding"]
PRIVACY = ["Fixed-Budget Differentially Private", "The Price of Differential Privacy", "Faster Rates of Convergence"]


def test_ndcg_recall_and_mrr_match_hand_computed_values() -> None:
    judged = {"a": 3, "b": 1, "c": 0, "d": 2}
    ranked = ["c", "a", "x", "d"]
    ideal = 3 + 2 / 1.5849625 + 1 / 2
    actual = 3 / 1.5849625 + 2 / 2.3219281
    assert evaluation.ndcg(ranked, judged) == pytest.approx(actual / ideal, rel=1e-6)
    assert evaluation.recall(ranked, judged, 2) == pytest.approx(1 / 3)
    assert evaluation.reciprocal_rank(ranked, judged) == 0.5
    assert evaluation.ndcg(["a", "d", "b"], judged) == pytest.approx(1.0)


@pytest.fixture(scope="module")
def judged_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small set in the shared format, judged by hand from the seed page's topics."""
    folder = tmp_path_factory.mktemp("judged")
    papers = [json.loads(line) for line in SEED_PAPERS.open()]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(p) + "\n" for p in papers))
    ids = lambda starts: [next(p["id"] for p in papers if p["title"].startswith(s)) for s in starts]  # noqa: E731
    speculative, privacy = ids(SPECULATIVE), ids(PRIVACY)
    queries = [
        {"qid": "s1", "text": "speeding up language model inference with draft models", "paper_id": speculative[0],
         "liked": speculative[:2], "disliked": []},
        {"qid": "s2", "text": "differential privacy guarantees for learning algorithms", "paper_id": privacy[0],
         "liked": privacy[:1], "disliked": []},
    ]
    qrels = [("s1", pid, 2) for pid in speculative[2:]] + [("s2", pid, 1) for pid in privacy[1:]]
    qrels.append(("s1", privacy[0], 0))
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (folder / "qrels.tsv").write_text("".join(f"{q}\t{p}\t{g}\n" for q, p, g in qrels))
    return folder


@pytest.mark.parametrize("task,default", [("search", "paperlens hybrid (default)"),
                                          ("similar", "paperlens similar (default)"),
                                          ("recommend", "paperlens recommend (default)")])
def test_every_method_is_measured_and_paperlens_finds_the_judged_papers(judged_set: Path, encoder, tmp_path: Path,
                                                                       task: str, default: str) -> None:
    dataset = evaluation.load_dataset(judged_set)
    index = evaluation.cached_index(dataset, encoder, tmp_path)
    results = {r.method: r for r in evaluation.evaluate(dataset, task, index, encoder)}
    assert default in results and any(name.startswith("baseline") for name in results)
    if task != "search":
        assert "baseline tf-idf + SVM (arxiv-sanity)" in results
    assert results[default].queries == 2
    assert results[default].ndcg10 > 0.6 and results[default].recall100 == 1.0


def test_the_eval_command_prints_the_table(judged_set: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["eval", str(judged_set), "--task", "similar", "--cache", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert "| paperlens similar (default) |" in table and "nDCG@10" in table and "vs best baseline" in table


def test_title_check_finds_each_paper_by_its_title(encoder, tmp_path: Path) -> None:
    dataset = evaluation.title_queries(SEED_PAPERS, sample=15)
    index = evaluation.cached_index(dataset, encoder, tmp_path)
    results = {r.method: r for r in evaluation.evaluate(dataset, "titles", index, encoder)}
    assert results["paperlens hybrid (default)"].queries == 15
    assert results["paperlens hybrid (default)"].recall1 >= 0.9


def test_abstract_check_finds_each_paper_by_its_abstract_and_counts_the_papers_left_out(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The seed page's papers, two of them without an abstract and one with a stub: the other 37
    abstracts (1.4-1.8k characters, no title) are queries, and each finds its own paper."""
    papers = [json.loads(line) for line in SEED_PAPERS.open()]
    papers[3]["abstract"], papers[17]["abstract"] = "", "   "
    papers[25]["abstract"] = papers[25]["abstract"][:evaluation.MIN_ABSTRACT - 1]
    source = tmp_path / "seed-with-stubs.jsonl"
    source.write_text("".join(json.dumps(p) + "\n" for p in papers))
    assert main(["eval", str(source), "--task", "abstracts", "--sample", "100", "--cache", str(tmp_path / "c")]) == 0
    header, columns, _, *rows = capsys.readouterr().out.strip().splitlines()
    assert "(abstracts, 37 queries" in header
    assert "left out: 2 without an abstract, 1 with an abstract under 200 characters" in header
    names = columns.strip("| ").split(" | ")
    table = {cells[0]: dict(zip(names[1:], cells[1:])) for cells in (row.strip("| ").split(" | ") for row in rows)}
    assert set(table) == {"paperlens hybrid (default)", "paperlens semantic", "paperlens keyword", "baseline BM25",
                          "baseline dense (cosine)", "baseline RRF(BM25, dense)"}
    assert {"Recall@1", "Recall@10", "MRR@10"} <= set(names)
    assert float(table["paperlens hybrid (default)"]["Recall@10"]) >= 0.95
    assert float(table["paperlens hybrid (default)"]["Recall@1"]) >= 0.9


def test_a_folder_that_is_not_an_evaluation_set_is_a_clear_error(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    assert main(["eval", str(tmp_path), "--task", "search", "--cache", str(tmp_path / "cache")]) == 2
    assert "corpus.jsonl" in capsys.readouterr().err


def test_no_serving_module_imports_the_evaluation() -> None:
    """Evaluation is a client of service.ranking; of the service, only the CLI's eval command loads it."""
    service = Path(evaluation.__file__).parents[1]
    importers = []
    for module in service.rglob("*.py"):
        if module == service / "cli.py" or {service / "cli", service / "evaluation"} & set(module.parents):
            continue
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):  # `from service import evaluation` names service.evaluation
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            importers += [str(module.relative_to(service)) for name in names if name.startswith("service.evaluation")]
    assert importers == []
