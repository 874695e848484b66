"""Indexing speed against the straightforward baseline, measured in one run on the same papers:

1. plain `SentenceTransformer(model).encode(texts)` in fp32 (its defaults: batch 32), model loaded
   and warmed up beforehand, so only the encoding is timed;
2. `paperlens index` as a subprocess, end to end: start-up, model load, reading, embedding texts
   and titles, BM25, FAISS, the atomic write (papers/s = papers / wall-clock seconds);
3. paperlens' encoder alone (`load_encoder().embed(texts)`), warmed up like the baseline.

Then the cosine of paperlens' vectors to the fp32 ones, where the encoder's time goes (torch's
profiler over the forward pass; tokenisation timed apart) and how far it runs from the cores'
arithmetic limit: FLOPs per paper from the model's shape and the papers' actual token lengths,
against a large matmul in the same precision measured in the same run.

    .venv/bin/python benchmarks/encoder_speed.py [--papers 2000] [--source ../shared/data/arxiv-cs.jsonl.gz]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED_SOURCE = ROOT.parent / "shared" / "data" / "arxiv-cs.jsonl.gz"
BUNDLED_SOURCE = ROOT / "data" / "arxiv-cs-recent-5000.jsonl.gz"
PROFILE_PAPERS = 128
CATEGORIES = [  # (category, substrings of torch op names), first match wins
    ("matmuls (linear layers)", ("addmm", "aten::mm", "bmm", "matmul", "linear")),
    ("attention (SDPA, softmax)", ("scaled_dot_product", "softmax", "attention")),
    ("GELU", ("gelu",)),
    ("layer norm", ("layer_norm",)),
    ("copies and casts", ("copy_", "_to_copy", "contiguous", "clone")),
]


def main() -> None:
    from models.host import describe_host

    print(describe_host(), flush=True)  # every figure below belongs to this host class
    parser = argparse.ArgumentParser()
    parser.add_argument("--papers", type=int, default=2000)
    parser.add_argument("--source", default=str(SHARED_SOURCE if SHARED_SOURCE.exists() else BUNDLED_SOURCE))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    from models import load_encoder
    from models import resolve_model_path

    with tempfile.TemporaryDirectory() as scratch:
        papers_file, papers = write_sample(args.source, args.papers, Path(scratch))
        ids, texts = [paper.id for paper in papers], [paper.text() for paper in papers]
        plain = SentenceTransformer(resolve_model_path(None)[1], device="cpu")
        lengths = token_lengths(plain, texts)
        title_lengths = token_lengths(plain, [paper.title for paper in papers])
        print_data(args, texts, lengths, plain, torch)

        plain.encode(texts[:32])  # warm up both the same way
        with Timer() as plain_time:
            reference = plain.encode(texts, normalize_embeddings=True)

        with Timer(children=True) as index_time:
            summary = run_paperlens_index(papers_file, Path(scratch) / "index")
        indexed = indexed_vectors(Path(scratch) / "index", ids)

        encoder = load_encoder()
        encoder.embed(texts[:32])
        with Timer() as encoder_time:
            ours = encoder.embed(texts)

        print_speed(len(texts), plain_time, index_time, encoder_time, summary, encoder)
        print_fidelity(reference, indexed, ours)
        print_profile(encoder, plain, texts[:PROFILE_PAPERS])
        print_arithmetic(plain, lengths, title_lengths, len(texts) / encoder_time.wall, len(texts) / index_time.wall,
                         encoder, torch)


class Timer:
    """Wall-clock seconds and CPU seconds (all threads; a subprocess's with `children`). On a
    machine shared with other work, CPU seconds per paper still compare fairly: they count only
    the time these cores actually spent on it."""

    def __init__(self, children: bool = False) -> None:
        self._who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
        self.wall = self.cpu = 0.0

    def _cpu_now(self) -> float:
        usage = resource.getrusage(self._who)
        return usage.ru_utime + usage.ru_stime

    def __enter__(self) -> "Timer":
        self._wall, self._cpu = time.perf_counter(), self._cpu_now()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self._wall, self._cpu_now() - self._cpu


def write_sample(source: str, count: int, folder: Path) -> tuple[Path, list]:
    """The first `count` papers of `source` as a JSON Lines file, and its papers read back as
    `paperlens index` will read them."""
    from indexer.build import read_sources
    from indexer.readers import read_papers

    path = folder / "papers.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for number, paper in enumerate(read_papers(source)):
            if number == count:
                break
            out.write(json.dumps(paper.to_dict(), ensure_ascii=False) + "\n")
    papers, _, _ = read_sources([str(path)])
    return path, list(papers.values())


def token_lengths(model, texts: list[str]) -> np.ndarray:
    tokenizer = model.tokenizer
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=model.max_seq_length)["input_ids"]]
    return np.asarray(lengths)


def print_data(args: argparse.Namespace, texts: list[str], lengths: np.ndarray, model, torch) -> None:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")
    flags = set(next((line.split(":", 1)[1].split() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("flags")), []))
    units = [name for name in ("amx_bf16", "amx_int8", "avx512_bf16", "avx512_vnni", "avx512f", "avx2")
             if name in flags]
    print(f"data: the first {len(texts)} papers of {args.source} (title. abstract), {lengths.mean():.1f} tokens "
          f"per text on average after truncation at {model.max_seq_length} "
          f"({np.mean(lengths >= model.max_seq_length):.0%} truncated)")
    print(f"machine: {cpu}, {os.cpu_count()} cores, {' '.join(units)}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")


def run_paperlens_index(papers_file: Path, index_dir: Path) -> str:
    """The summary line of `paperlens index` on the papers."""
    command = [str(Path(sys.executable).parent / "paperlens"), "index", str(papers_file),
               "--index", str(index_dir), "--no-progress"]
    finished = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if finished.returncode != 0:
        sys.exit(f"paperlens index failed ({finished.returncode}): {finished.stderr.strip()}")
    return finished.stdout.strip().splitlines()[-1]


def indexed_vectors(index_dir: Path, ids: list[str]) -> np.ndarray:
    from indexer.paper_index import PaperIndex

    index = PaperIndex.load(index_dir)
    return np.asarray(index.vectors)[[index.row_of(paper_id) for paper_id in ids]]


def print_speed(count: int, plain: Timer, index: Timer, encoder: Timer, summary: str, ours) -> None:
    rows = [("SentenceTransformer.encode(texts), fp32", plain), ("paperlens index, end to end", index),
            (f"paperlens encoder alone ({ours.numerics})", encoder)]
    print(f"\n{'':44s} {'papers/s':>9s} {'vs plain':>9s} {'papers/CPU-s':>13s} {'vs plain':>9s}")
    for name, timer in rows:
        print(f"{name:44s} {count / timer.wall:9.2f} {plain.wall / timer.wall:8.2f}x "
              f"{count / timer.cpu:13.2f} {plain.cpu / timer.cpu:8.2f}x")
    build = re.search(r" in ([\d.]+)s ", summary)
    embedding = re.search(r"at (\d+) papers/s", summary)
    if build and embedding:
        print(f"paperlens index: {index.wall:.1f}s wall = {index.wall - float(build.group(1)):.1f}s start-up "
              f"and model load + {float(build.group(1)):.1f}s build, whose embedding (texts and titles) ran at "
              f"{embedding.group(1)} papers/s")
    print(f"  summary line: {summary}")


def print_fidelity(reference: np.ndarray, indexed: np.ndarray, ours: np.ndarray) -> None:
    for name, vectors in (("paperlens index", indexed), ("paperlens encoder", ours)):
        cosine = np.sum(reference * vectors, axis=1)
        print(f"cosine to fp32, {name}: min {cosine.min():.5f}, mean {cosine.mean():.5f}")


def print_profile(encoder, model, texts: list[str]) -> None:
    """Shares of the encoder's wall time, by kind of work, on a sample of the papers."""
    from torch.profiler import ProfilerActivity, profile

    started = time.perf_counter()
    for start in range(0, len(texts), encoder.batch_size):
        model.tokenizer(texts[start:start + encoder.batch_size], padding=True, truncation=True,
                        max_length=model.max_seq_length, return_tensors="pt")
    tokenise = time.perf_counter() - started
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        started = time.perf_counter()
        encoder.embed(texts)
        total = time.perf_counter() - started
    seconds = {name: 0.0 for name, _ in CATEGORIES}
    seconds["other torch ops (pooling, adds, masks)"] = 0.0
    for event in profiler.key_averages():
        name = event.key.lower()
        category = next((label for label, keys in CATEGORIES if any(key in name for key in keys)),
                        "other torch ops (pooling, adds, masks)")
        seconds[category] += event.self_cpu_time_total / 1e6
    print(f"\nwhere the encoder's time goes ({len(texts)} papers, {total:.1f}s under the profiler):")
    print(f"  {'tokenisation (timed apart)':40s} {tokenise:7.2f}s  {tokenise / total:6.1%}")
    for name, value in seconds.items():
        print(f"  {name:40s} {value:7.2f}s  {value / total:6.1%}")
    rest = total - tokenise - sum(seconds.values())
    print(f"  {'the rest (Python, framework, sorting)':40s} {rest:7.2f}s  {rest / total:6.1%}")


def print_arithmetic(model, lengths: np.ndarray, title_lengths: np.ndarray, encoder_rate: float, index_rate: float,
                     encoder, torch) -> None:
    config = model[0].auto_model.config
    try:
        hidden, inner, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    except AttributeError:
        print("\narithmetic: the model's config names no hidden/intermediate size; skipped")
        return
    per_text = float(np.mean([layer_flops(n, hidden, inner) for n in lengths])) * layers
    per_title = float(np.mean([layer_flops(n, hidden, inner) for n in title_lengths])) * layers
    dtype = torch.bfloat16 if encoder.numerics.startswith("bfloat16") else torch.float32
    peak = matmul_rate(torch, dtype, hidden, inner)
    print(f"\narithmetic: {per_text / 1e9:.2f} GFLOP per text ({per_title / 1e9:.2f} per title) for a "
          f"{layers}-layer, {hidden}-wide model at these token lengths; a large {str(dtype)[6:]} matmul runs at "
          f"{peak / 1e9:.0f} GFLOP/s on these {torch.get_num_threads()} threads")
    print(f"  limit at that rate: {peak / per_text:.1f} texts/s, {peak / (per_text + per_title):.1f} papers/s "
          f"(text and title)")
    print(f"  encoder alone: {encoder_rate * per_text / 1e9:.0f} GFLOP/s = {encoder_rate * per_text / peak:.0%} "
          f"of it; paperlens index end to end: {index_rate * (per_text + per_title) / 1e9:.0f} GFLOP/s = "
          f"{index_rate * (per_text + per_title) / peak:.0%}")


def layer_flops(tokens: int, hidden: int, inner: int) -> float:
    """Multiply-adds x 2 of one encoder layer over one sequence: Q, K, V and output projections,
    the feed-forward pair, and attention's two products (scores and weighted values)."""
    projections = 2 * tokens * (4 * hidden * hidden + 2 * hidden * inner)
    attention = 2 * 2 * tokens * tokens * hidden
    return projections + attention


def matmul_rate(torch, dtype, hidden: int, inner: int) -> float:
    """FLOP/s of a large (16384 x hidden) @ (hidden x inner) matmul, the shape of the model's
    feed-forward layer over a full batch: the practical arithmetic limit of these cores."""
    left = torch.randn(16384, hidden, dtype=dtype)
    right = torch.randn(hidden, inner, dtype=dtype)
    with torch.inference_mode():
        left @ right
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            left @ right
            best = min(best, time.perf_counter() - started)
    return 2 * 16384 * hidden * inner / best


if __name__ == "__main__":
    main()
