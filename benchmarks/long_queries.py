"""Pasted abstracts and paragraphs as search queries (issue #15), on judged sets: each CSFCube query
paper's title and abstract (and its abstract alone) is pasted into `/search`'s ranking, the paper
itself left out, and the answers scored against CSFCube's judgments (nDCG@10), beside the
more-like-this path that knows the paper (`similar`) and the baselines (BM25, dense cosine, their
RRF). A search call should do about as well with the pasted text as `similar` does with the id.
Also times one 2,000-character query through the whole ranking (embedding included), p50.

    .venv/bin/python benchmarks/long_queries.py [--eval ../shared/data/eval] [--cache var/eval]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from models import load_encoder
    from models.host import describe_host
    from service import ranking
    from service.evaluation.baselines import DEPTH, Baselines
    from service.evaluation.datasets import cached_index, load_dataset
    from service.evaluation.metrics import ndcg
    from service.filters import Filters

    parser = argparse.ArgumentParser()
    parser.add_argument("--eval", type=Path, default=ROOT.parent / "shared" / "data" / "eval")
    parser.add_argument("--cache", type=Path, default=ROOT / "var" / "eval")
    parser.add_argument("--timed", type=int, default=50, help="2,000-character queries timed")
    parser.add_argument("--latency-index", type=Path, default=None,
                        help="time the queries on this index (the bundled corpus: var/index) instead of CSFCube's")
    args = parser.parse_args()
    print(describe_host(), flush=True)
    encoder = load_encoder()
    dataset = load_dataset(args.eval / "csfcube")
    args.cache.mkdir(parents=True, exist_ok=True)
    index = cached_index(dataset, encoder, args.cache)
    baselines = Baselines(index)
    print(f"data: {dataset.name}, {len(dataset.queries)} queries over {len(index.papers)} papers; "
          f"model {encoder.model_id} ({encoder.runtime}, {encoder.numerics})")

    def ids(rows) -> list[str]:
        return [index.papers[int(row)].id for row in rows]

    def methods(text: str, row: int) -> dict[str, list[str]]:
        vector = encoder.embed_passages([text])[0]
        exclude = Filters().with_excluded({row})
        answers = {f"search {mode.value}": ids(hit.row for hit in ranking.search(index, text, vector, DEPTH, 0, mode,
                                                                                 exclude))
                   for mode in ranking.SearchMode}
        bm25, dense = baselines.bm25_rows(text, {row}, 1000), baselines.dense_rows(vector, {row}, 1000)
        answers["baseline BM25"] = ids(bm25[:DEPTH])
        answers["baseline dense (cosine)"] = ids(dense[:DEPTH])
        answers["baseline RRF(BM25, dense)"] = ids(baselines.rrf_rows([bm25, dense]))
        return answers

    for what in ("title and abstract", "abstract alone"):
        scores: dict[str, list[float]] = {}
        for query in dataset.queries:
            row = index.row_of(query["paper_id"])
            paper = index.papers[row]
            text = paper.text() if what == "title and abstract" else paper.abstract
            answers = methods(text, row)
            if what == "title and abstract":
                answers["similar (the paper's id, for reference)"] = ids(h.row for h in ranking.similar(index, row,
                                                                                                        DEPTH))
            judged = dataset.qrels.get(query["qid"], {})
            for name, ranked in answers.items():
                scores.setdefault(name, []).append(ndcg(ranked, judged))
        print(f"\ncsfcube, the query paper's {what} pasted as the query ({len(dataset.queries)} queries):")
        for name, values in scores.items():
            print(f"  {name:45s} nDCG@10 {np.mean(values):.4f}")

    if args.latency_index:
        from indexer.paper_index import PaperIndex

        index = PaperIndex.load(args.latency_index)
        index.warm()
    texts = []
    papers = [p for p in index.papers if len(p.abstract) > 400]
    for start in range(0, len(papers) - 3, 3):
        text = " ".join(p.abstract for p in papers[start:start + 3])[:2000]
        if len(text) == 2000:
            texts.append(text)
        if len(texts) == args.timed:
            break
    for text in texts[:3]:  # warm up
        ranking.search(index, text, encoder.embed_passages([text])[0], 10)
    times = []
    for text in texts:
        started = time.perf_counter()
        ranking.search(index, text, encoder.embed_passages([text])[0], 10)
        times.append((time.perf_counter() - started) * 1000)
    print(f"\none 2,000-character query (three abstracts run together, cut), embedding and hybrid ranking in process, "
          f"{len(index.papers)} papers, {len(texts)} queries: "
          f"p50 {statistics.median(times):.1f} ms, max {max(times):.1f} ms")


if __name__ == "__main__":
    main()
