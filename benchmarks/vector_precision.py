"""Does storing the vectors in float16 change any answer? (issue #16). Indexes the same export
twice, from float32 and from float16 vectors (`paperlens export --dtype`), and compares the top 10
of search (the same query vectors for both), similar and recommendations on every paper or a sample.

    .venv/bin/python benchmarks/vector_precision.py --index var/bundled [--queries 300]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from models import load_encoder
    from models.host import describe_host
    from indexer.paper_index import PaperIndex
    from service import ranking

    parser = argparse.ArgumentParser()
    parser.add_argument("--index", type=Path, required=True, help="an index of the corpus to export")
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    print(describe_host(), flush=True)
    work = Path(tempfile.mkdtemp())
    paperlens = str(Path(sys.executable).with_name("paperlens"))
    indexes = {}
    for dtype in ("float32", "float16"):
        export = work / f"{dtype}.parquet"
        subprocess.run([paperlens, "export", "--index", str(args.index), str(export), "--dtype", dtype], check=True)
        subprocess.run([paperlens, "index", str(export), "--index", str(work / dtype), "--no-progress"], check=True)
        indexes[dtype] = PaperIndex.load(work / dtype)
    encoder = load_encoder()
    base = indexes["float32"]
    rng = random.Random(0)
    rows = rng.sample(range(len(base.papers)), min(args.queries, len(base.papers)))
    queries = [base.papers[row].title for row in rows]
    vectors = encoder.embed(queries)
    calls = {
        "search": [lambda index, i=i: ranking.search(index, queries[i], vectors[i], 10) for i in range(len(rows))],
        "similar": [lambda index, row=row: ranking.similar(index, row, 10) for row in rows],
        "recommendations (5 liked)": [
            lambda index, liked=rng.sample(range(len(base.papers)), 5): ranking.recommend(index, liked, [], 10)
            for _ in range(len(rows) // 3)],
    }
    print(f"data: {base.manifest.count} papers of {args.index}; model {base.manifest.model}")
    for name, answers in calls.items():
        same = overlap = 0
        for answer in answers:
            top = {dtype: [hit.row for hit in answer(index)] for dtype, index in indexes.items()}
            same += top["float32"] == top["float16"]
            overlap += len(set(top["float32"]) & set(top["float16"])) / max(1, len(top["float32"]))
        print(f"{name}: {same}/{len(answers)} top-10 lists identical (order too), mean overlap "
              f"{overlap / len(answers):.4f}")


if __name__ == "__main__":
    main()
