"""Encoder throughput and fidelity: paperlens' encoder (length-sorted batches, bf16 autocast on
AMX / AVX-512-BF16) against the straightforward `SentenceTransformer(model).encode(texts)` in fp32,
on the same papers in the same run.

    .venv/bin/python benchmarks/encoder_speed.py [--papers 2000] [--source ../shared/data/arxiv-cs.jsonl.gz]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--papers", type=int, default=2000)
    parser.add_argument("--source", default=str(ROOT / "data" / "arxiv-cs-recent-5000.jsonl.gz"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    from indexer.readers import read_papers
    from models import load_encoder
    from models.encoder import resolve_model_path

    papers = []
    for paper in read_papers(args.source):
        papers.append(paper.text())
        if len(papers) == args.papers:
            break
    print(f"data: the first {len(papers)} papers of {args.source} (title. abstract); torch threads: {torch.get_num_threads()}")
    plain = SentenceTransformer(resolve_model_path(None)[1], device="cpu")
    plain.encode(papers[:32])  # warm up both the same way
    started = time.perf_counter()
    reference = plain.encode(papers, normalize_embeddings=True)
    plain_seconds = time.perf_counter() - started

    encoder = load_encoder()
    encoder.embed(papers[:32])
    started = time.perf_counter()
    ours = encoder.embed(papers)
    our_seconds = time.perf_counter() - started

    cosine = np.sum(reference * ours, axis=1)
    print(f"SentenceTransformer.encode, fp32: {len(papers) / plain_seconds:6.1f} papers/s")
    print(f"paperlens encoder:                {len(papers) / our_seconds:6.1f} papers/s  ({plain_seconds / our_seconds:.2f}x)")
    print(f"cosine to fp32: min {cosine.min():.5f}, mean {cosine.mean():.5f}")


if __name__ == "__main__":
    main()
