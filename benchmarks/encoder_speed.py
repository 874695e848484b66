"""Indexing and encoding speed of every runtime against the straightforward baseline, in one run on the same papers.

It prints, after the host class (`models.host.describe_host`: every figure belongs to it) and the data:

1. A/B: plain `SentenceTransformer(model).encode(texts)` in fp32 (its defaults: batch 32; model loaded and warmed
   up beforehand, only the encoding timed) (A) and `paperlens index` as a subprocess, end to end (B: start-up,
   model load, reading, embedding texts and titles, BM25, FAISS, the atomic write), alternately A B A B `--ab`
   times: each run's papers/s and papers per CPU-second, B's start-up and build seconds, each pair's ratio and
   the median ratio, against the issue's target (paperlens index >= 3.5x the plain fp32 script on an AMX host,
   >= 1.3x on an AVX2-only host). The model's export for OpenVINO / ONNX Runtime is made (or found cached)
   before, as after paperlens' first run;
2. the encoding alone for every runtime (torch fp32, torch bf16 autocast, ONNX Runtime fp32, OpenVINO f32 and
   bf16; `load_encoder(runtime=..., bf16=..., batch_size=32)`, length-sorted batches as paperlens makes them,
   warmed up): papers/s, ratio to torch fp32, papers per CPU-second and the least cosine over all texts to torch
   fp32 (target >= 0.999), then the plain script's and paperlens index's vectors to torch fp32; a runtime that
   fails to load shows its one-line error in its row. `*` marks the runtime `runtime="auto"` gives on this host;
3. one short query at a time (five queries in turn), p50 and p95 over 100 calls after warm-up, each runtime on
   one thread as a server uses it (`load_encoder(runtime=..., bf16=..., threads=1, batch_size=8)`; torch with
   `torch.set_num_threads(1)` meanwhile);
4. where the default runtime's time goes on 128 papers: OpenVINO's own per-node counters (`PERF_COUNT`), grouped
   into matmuls, attention, GELU, layer norm and other, with tokenisation timed apart; and torch's profiler over
   the torch runtime's forward pass (in the numerics it gets on this host);
5. how far each runtime runs from the cores' arithmetic limit: FLOPs per paper from the model's shape and the
   papers' actual token lengths, against a large torch matmul in the same precision measured in the same run
   (torch's kernels: a runtime with better ones, OpenVINO's fp32 on some hosts, can pass 100%).

    .venv/bin/python benchmarks/encoder_speed.py [--papers 2000] [--ab 2] [--source ../shared/data/arxiv-cs.jsonl.gz]
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED_SOURCE = ROOT.parent / "shared" / "data" / "arxiv-cs.jsonl.gz"
BUNDLED_SOURCE = ROOT / "data" / "arxiv-cs-recent-5000.jsonl.gz"
BATCH = 32  # the encoding table's batch size, sentence-transformers' default
PROFILE_PAPERS = 128
QUERY_CALLS, QUERY_WARMUP = 100, 10
QUERIES = ["graph neural networks for molecule property prediction", "retrieval-augmented generation for question "
           "answering", "diffusion models for image synthesis", "federated learning with differential privacy",
           "sparse attention for long documents"]
MIN_COSINE = 0.999
TARGETS = {"AMX": 3.5, "AVX2": 1.3}  # paperlens index / plain fp32 script, by host class (the issue's)
RUNTIMES = [  # (row, runtime, bf16)
    ("torch fp32", "torch", False), ("torch bf16 autocast", "torch", True), ("onnx fp32", "onnx", False),
    ("openvino f32", "openvino", False), ("openvino bf16", "openvino", True)]
TORCH_CATEGORIES = [  # (category, substrings of torch op names), first match wins
    ("matmuls (linear layers)", ("addmm", "aten::mm", "bmm", "matmul", "linear")),
    ("attention (SDPA, softmax)", ("scaled_dot_product", "softmax", "attention")),
    ("GELU", ("gelu",)),
    ("layer norm", ("layer_norm",)),
    ("copies and casts", ("copy_", "_to_copy", "contiguous", "clone")),
]
TORCH_OTHER = "other torch ops (pooling, adds, masks)"
OPENVINO_CATEGORIES = [  # (category, node types, substrings of the original layers' names), first match wins
    ("matmuls (linear layers)", ("FullyConnected", "Gemm", "Convolution"), ()),
    ("attention (QK, AV, softmax, masks)", ("MatMul", "Softmax", "ScaledDotProductAttention"), ("/self/", "/attn/")),
    ("GELU", ("Gelu",), ("act_fn", "gelu")),
    ("layer norm", ("MVN", "RMS"), ("layernorm", "layer_norm")),
]
OPENVINO_OTHER = "other nodes (adds, embeddings, reorders)"


@dataclass
class Row:
    """One runtime's figures: the encoding table's and the query latencies."""

    name: str
    runtime: str
    bf16: bool
    default: bool = False
    numerics: str = ""
    rate: float = 0.0
    cpu_rate: float = 0.0
    vectors: np.ndarray | None = None
    error: str = ""


def main() -> None:
    from models.host import describe_host

    print(describe_host(), flush=True)  # every figure below belongs to this host class
    parser = argparse.ArgumentParser()
    parser.add_argument("--papers", type=int, default=2000)
    parser.add_argument("--ab", type=int, default=2, help="A/B pairs of the plain script and paperlens index")
    parser.add_argument("--source", default=str(SHARED_SOURCE if SHARED_SOURCE.exists() else BUNDLED_SOURCE))
    args = parser.parse_args()
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    from models.export import exportable, exported_model
    from models.host import this_host
    from models.loading import choose_runtime, resolve_model_path

    path = resolve_model_path(None)[1]
    default_runtime, fast_bf16 = choose_runtime(path), this_host().fast_bf16
    if exportable(path) is None:
        exported_model(path)  # made once and cached, as by paperlens' first run: no run below pays for it
    with tempfile.TemporaryDirectory() as scratch:
        papers_file, papers = write_sample(args.source, args.papers, Path(scratch))
        ids, texts = [paper.id for paper in papers], [paper.text() for paper in papers]
        transformers.utils.logging.disable_progress_bar()  # as paperlens does: no bar per model load
        plain = SentenceTransformer(path, device="cpu", local_files_only=True)
        lengths = token_lengths(plain, texts)
        title_lengths = token_lengths(plain, [paper.title for paper in papers])
        print_data(args, texts, lengths, plain, torch)

        runs, plain_vectors, index_dir = run_ab(plain, texts, papers_file, Path(scratch), max(args.ab, 1))
        index_rate = print_ab(len(texts), runs)
        auto = [(default_runtime, fast_bf16), ("onnx", False)][default_runtime == "onnx"]  # onnx: fp32 only
        rows = [Row(name, runtime, bf16, default=(runtime, bf16) == auto) for name, runtime, bf16 in RUNTIMES]
        measure_encoding(rows, texts, len(texts) / np.median([plain_time.wall for plain_time, _, _ in runs]),
                         plain_vectors, indexed_vectors(index_dir, ids))
        measure_queries(rows, torch)
        if default_runtime == "openvino":
            print_openvino_profile(exported_model(path), fast_bf16, texts[:PROFILE_PAPERS])
        print_torch_profile(plain, texts[:PROFILE_PAPERS])
        print_arithmetic(plain, lengths, title_lengths, rows, index_rate, torch)


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
    import onnxruntime
    import openvino
    import sentence_transformers

    print(f"data: the first {len(texts)} papers of {args.source} (title. abstract), {lengths.mean():.1f} tokens "
          f"per text on average after truncation at {model.max_seq_length} "
          f"({np.mean(lengths >= model.max_seq_length):.0%} truncated)")
    print(f"software: torch {torch.__version__} ({torch.get_num_threads()} threads), sentence-transformers "
          f"{sentence_transformers.__version__}, openvino {openvino.__version__.split('-')[0]}, onnxruntime "
          f"{onnxruntime.__version__}", flush=True)


def run_ab(plain, texts: list[str], papers_file: Path, scratch: Path, pairs: int) -> tuple[list, np.ndarray, Path]:
    """(plain Timer, index Timer, summary line) per pair, run A B A B; the last plain vectors and index folder."""
    plain.encode(texts[:BATCH])  # warmed up: only the encoding is timed
    runs = []
    for number in range(pairs):
        with Timer() as plain_time:
            vectors = plain.encode(texts, normalize_embeddings=True)
        index_dir = scratch / f"index-{number}"
        with Timer(children=True) as index_time:
            summary = run_paperlens_index(papers_file, index_dir)
        runs.append((plain_time, index_time, summary))
    return runs, vectors, index_dir


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


def print_ab(count: int, runs: list) -> float:
    """Each run and the median ratio; returns paperlens index's median papers/s."""
    from models.host import this_host

    print(f"\nA: SentenceTransformer.encode(texts), fp32; B: paperlens index, end to end; alternately, {count} papers")
    ratios, cpu_ratios = [], []
    for number, (plain, index, summary) in enumerate(runs, 1):
        ratios.append(plain.wall / index.wall)
        cpu_ratios.append(plain.cpu / index.cpu)
        print(f"  A{number} plain fp32      {count / plain.wall:8.2f} papers/s {count / plain.cpu:8.2f} "
              "papers/CPU-s")
        build, embedding = re.search(r" in ([\d.]+)s ", summary), re.search(r"at (\d+) papers/s", summary)
        split = (f" = {index.wall - float(build.group(1)):.1f}s start-up and model load + "
                 f"{float(build.group(1)):.1f}s build (embedding at {embedding.group(1)} papers/s)"
                 if build and embedding else "")
        print(f"  B{number} paperlens index {count / index.wall:8.2f} papers/s {count / index.cpu:8.2f} papers/CPU-s, "
              f"{ratios[-1]:.2f}x A{number}; {index.wall:.1f}s{split}")
    print(f"  summary line of B{len(runs)}: {runs[-1][2]}")
    kind, ratio = this_host().kind, float(np.median(ratios))
    verdict = (f"{'met' if ratio >= TARGETS[kind] else 'MISSED'} on this {kind} host" if kind in TARGETS
               else f"no target for this {kind} host")
    print(f"median ratio paperlens index / plain over {len(runs)} pairs: {ratio:.2f}x papers/s, "
          f"{np.median(cpu_ratios):.2f}x papers/CPU-s; target >= {TARGETS['AMX']}x on AMX, >= {TARGETS['AVX2']}x on "
          f"AVX2 only: {verdict}", flush=True)
    return count / float(np.median([index.wall for _, index, _ in runs]))


def one_line(error: Exception) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__


def measure_encoding(rows: list[Row], texts: list[str], plain_rate: float, plain_vectors: np.ndarray,
                     indexed: np.ndarray) -> None:
    """Fills and prints each row's encoding figures, as each runtime is measured; ratios and cosines are
    to torch fp32 (the first row), or to the plain script where it failed."""
    from models import load_encoder

    print(f"\nencoding alone, {len(texts)} texts, batch {BATCH}, length-sorted, warmed up "
          f"(* = runtime \"auto\" here; ratio and cosine to torch fp32, target min cosine >= {MIN_COSINE}):")
    print(f"  {'runtime':22s} {'numerics':22s} {'papers/s':>9s} {'vs fp32':>8s} {'papers/CPU-s':>13s} {'min cos':>8s}")
    reference_rate, reference = plain_rate, plain_vectors
    for number, row in enumerate(rows):
        try:
            encoder = load_encoder(runtime=row.runtime, bf16=row.bf16, batch_size=BATCH)
            row.numerics = encoder.numerics
            encoder.embed(texts[:BATCH])
            with Timer() as timer:
                row.vectors = encoder.embed(texts)
            row.rate, row.cpu_rate = len(texts) / timer.wall, len(texts) / timer.cpu
        except Exception as error:  # a runtime missing here, or its load failing, is one row's news
            row.error = one_line(error)
            print(f"{'*' if row.default else ' '} {row.name:22s} failed: {row.error}", flush=True)
            continue
        finally:
            encoder = None
            gc.collect()
        if number == 0:
            reference_rate, reference = row.rate, row.vectors
        cosine = float(np.min(np.sum(reference * row.vectors, axis=1)))
        print(f"{'*' if row.default else ' '} {row.name:22s} {row.numerics:22s} {row.rate:9.2f} "
              f"{row.rate / reference_rate:7.2f}x {row.cpu_rate:13.2f} {cosine:8.5f}"
              f"{'' if cosine >= MIN_COSINE else '  BELOW TARGET'}", flush=True)
    reference_name = "torch fp32" if rows[0].vectors is not None else "the plain script (torch fp32 failed)"
    for name, vectors in (("plain SentenceTransformer.encode", plain_vectors), ("paperlens index's", indexed)):
        print(f"  {name} vectors: min cosine {np.min(np.sum(reference * vectors, axis=1)):.5f} to {reference_name}")


def measure_queries(rows: list[Row], torch) -> None:
    """p50 and p95 of one short query, each runtime on one thread as a server runs it."""
    from models import load_encoder

    print(f"\none query at a time ({len(QUERIES)} short queries in turn, e.g. {QUERIES[0]!r}), one thread, batch 8, "
          f"{QUERY_CALLS} calls after {QUERY_WARMUP}:")
    print(f"  {'runtime':22s} {'numerics':22s} {'p50 ms':>8s} {'p95 ms':>8s}")
    threads = torch.get_num_threads()
    for row in rows:
        mark = "*" if row.default else " "
        try:
            encoder = load_encoder(runtime=row.runtime, bf16=row.bf16, threads=1, batch_size=8)
            torch.set_num_threads(1)
            seconds = []
            for call in range(QUERY_WARMUP + QUERY_CALLS):
                started = time.perf_counter()
                encoder.embed([QUERIES[call % len(QUERIES)]])
                seconds.append(time.perf_counter() - started)
        except Exception as error:
            print(f"{mark} {row.name:22s} failed: {one_line(error)}", flush=True)
            continue
        finally:
            torch.set_num_threads(threads)
            encoder = None
            gc.collect()
        p50, p95 = np.percentile(np.asarray(seconds[QUERY_WARMUP:]) * 1000, [50, 95])
        print(f"{mark} {row.name:22s} {row.numerics or '':22s} {p50:8.2f} {p95:8.2f}", flush=True)


def sorted_batches(texts: list[str]) -> list[list[str]]:
    """The batches `Encoder.embed` forms: longest texts first."""
    ordered = sorted(texts, key=len, reverse=True)
    return [ordered[start:start + BATCH] for start in range(0, len(ordered), BATCH)]


def print_shares(title: str, total: float, tokenise: float, seconds: dict[str, float], rest: str,
                 note: str = "") -> None:
    print(f"\n{title} ({total:.2f}s in all):")
    print(f"  {'tokenisation (timed apart)':44s} {tokenise:7.2f}s  {tokenise / total:6.1%}")
    for name, value in seconds.items():
        print(f"  {name:44s} {value:7.2f}s  {value / total:6.1%}")
    left = total - tokenise - sum(seconds.values())
    print(f"  {rest:44s} {left:7.2f}s  {left / total:6.1%}")
    if note:
        print(f"  {note}")


def print_openvino_profile(folder: Path, bf16: bool, texts: list[str]) -> None:
    """Shares of the OpenVINO encoder's time on a sample of the papers, from the plugin's per-node counters
    summed over every batch (scaled to the inference's wall time: the counters' sum differs from it)."""
    import openvino

    from models import DEFAULT_MODEL
    from models.openvino_encoder import OpenVINOEncoder

    class Profiled(OpenVINOEncoder):
        """The encoder recompiled as it was configured, with PERF_COUNT; node times summed over calls."""

        def __init__(self) -> None:
            super().__init__(DEFAULT_MODEL, folder, batch_size=BATCH, bf16=bf16)
            config = {key: self._model.get_property(key) for key in
                      ("INFERENCE_PRECISION_HINT", "PERFORMANCE_HINT", "INFERENCE_NUM_THREADS")}
            self._model = openvino.Core().compile_model(str(folder / "openvino.xml"), "CPU",
                                                        {**config, "PERF_COUNT": "YES"})
            self._request = self._model.create_infer_request()
            self.node_seconds: Counter = Counter()
            self.infer_seconds = 0.0

        def hidden_states(self, feed: dict[str, np.ndarray]) -> np.ndarray:
            started = time.perf_counter()
            hidden = self._request.infer([feed[name] for name in self._names])[0]
            self.infer_seconds += time.perf_counter() - started
            for info in self._request.get_profiling_info():
                if info.status == openvino.ProfilingInfo.Status.EXECUTED:
                    self.node_seconds[(info.node_name, info.node_type)] += info.real_time.total_seconds()
            return hidden

        def original_names(self) -> dict[str, str]:
            """Each executed node's original layers (a fused node has several), lower-cased, by node name."""
            ops = self._model.get_runtime_model().get_ordered_ops()
            return {op.get_friendly_name(): op.get_rt_info()["originalLayersNames"].astype(str).lower()
                    for op in ops if "originalLayersNames" in op.get_rt_info()}

    encoder = Profiled()
    encoder.embed(texts[:BATCH])
    encoder.node_seconds.clear()
    encoder.infer_seconds = 0.0
    started = time.perf_counter()
    for batch in sorted_batches(texts):
        encoder.tokenizer.encode_batch(batch)
    tokenise = time.perf_counter() - started
    started = time.perf_counter()
    encoder.embed(texts)
    total = time.perf_counter() - started
    originals = encoder.original_names()
    seconds = {name: 0.0 for name, _, _ in OPENVINO_CATEGORIES}
    seconds[OPENVINO_OTHER] = 0.0
    fused_gelu = False
    node_total = sum(encoder.node_seconds.values()) or 1.0
    for (node, kind), value in encoder.node_seconds.items():
        names = originals.get(node, node.lower())
        category = next((label for label, kinds, keys in OPENVINO_CATEGORIES
                         if kind in kinds or any(key in names for key in keys)), OPENVINO_OTHER)
        fused_gelu |= category == OPENVINO_CATEGORIES[0][0] and any(key in names for key in ("act_fn", "gelu"))
        seconds[category] += value / node_total * encoder.infer_seconds
    note = (f"inference {encoder.infer_seconds:.2f}s wall, split as the per-node counters ({node_total:.2f}s "
            f"summed) are" + ("; GELU is fused into the feed-forward matmuls (a FullyConnected post-op), "
                              "counted there" if fused_gelu else ""))
    print_shares(f"where the time goes, openvino ({encoder.numerics}, default here), {len(texts)} papers", total,
                 tokenise, seconds, "the rest (pooling, normalising, Python)", note)


def print_torch_profile(model, texts: list[str]) -> None:
    """Shares of the torch encoder's wall time, by kind of work, on a sample of the papers."""
    from torch.profiler import ProfilerActivity, profile

    from models import load_encoder

    encoder = load_encoder(runtime="torch", batch_size=BATCH)
    encoder.embed(texts[:BATCH])
    started = time.perf_counter()
    for batch in sorted_batches(texts):
        model.tokenizer(batch, padding=True, truncation=True, max_length=model.max_seq_length, return_tensors="pt")
    tokenise = time.perf_counter() - started
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        started = time.perf_counter()
        encoder.embed(texts)
        total = time.perf_counter() - started
    seconds = {name: 0.0 for name, _ in TORCH_CATEGORIES}
    seconds[TORCH_OTHER] = 0.0
    for event in profiler.key_averages():
        name = event.key.lower()
        category = next((label for label, keys in TORCH_CATEGORIES if any(key in name for key in keys)), TORCH_OTHER)
        seconds[category] += event.self_cpu_time_total / 1e6
    print_shares(f"where the time goes, torch ({encoder.numerics}), {len(texts)} papers, under the profiler", total,
                 tokenise, seconds, "the rest (Python, framework, sorting)")


def print_arithmetic(model, lengths: np.ndarray, title_lengths: np.ndarray, rows: list[Row], index_rate: float,
                     torch) -> None:
    config = model[0].auto_model.config
    try:
        hidden, inner, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    except AttributeError:
        print("\narithmetic: the model's config names no hidden/intermediate size; skipped")
        return
    per_text = float(np.mean([layer_flops(n, hidden, inner) for n in lengths])) * layers
    per_title = float(np.mean([layer_flops(n, hidden, inner) for n in title_lengths])) * layers
    measured = [row for row in rows if row.rate]
    peaks = {"float32": matmul_rate(torch, torch.float32, hidden, inner)}
    if any("bfloat16" in row.numerics for row in measured):
        peaks["bfloat16"] = matmul_rate(torch, torch.bfloat16, hidden, inner)
    print(f"\narithmetic: {per_text / 1e9:.2f} GFLOP per text ({per_title / 1e9:.2f} per title) for a "
          f"{layers}-layer, {hidden}-wide model at these token lengths; a large matmul (torch, "
          f"{torch.get_num_threads()} threads) runs at " + ", ".join(f"{rate / 1e9:.0f} GFLOP/s in {dtype}"
                                                                      for dtype, rate in peaks.items()))
    for dtype, rate in peaks.items():
        print(f"  at the {dtype} matmul's rate: {rate / per_text:.1f} texts/s, "
              f"{rate / (per_text + per_title):.1f} papers/s (text and title)")
    for row in measured:
        peak = peaks["bfloat16" if "bfloat16" in row.numerics else "float32"]
        print(f"{'*' if row.default else ' '} {row.name:22s} {row.rate * per_text / 1e9:6.0f} GFLOP/s = "
              f"{row.rate * per_text / peak:4.0%} of that matmul in its precision")
    default = next((row for row in measured if row.default), None)
    if default:
        peak = peaks["bfloat16" if "bfloat16" in default.numerics else "float32"]
        work = index_rate * (per_text + per_title)
        print(f"  paperlens index end to end (median run, texts and titles): {work / 1e9:.0f} GFLOP/s = "
              f"{work / peak:.0%} of it")


def layer_flops(tokens: int, hidden: int, inner: int) -> float:
    """Multiply-adds x 2 of one encoder layer over one sequence: Q, K, V and output projections,
    the feed-forward pair, and attention's two products (scores and weighted values)."""
    projections = 2 * tokens * (4 * hidden * hidden + 2 * hidden * inner)
    attention = 2 * 2 * tokens * tokens * hidden
    return projections + attention


def matmul_rate(torch, dtype, hidden: int, inner: int) -> float:
    """FLOP/s of a large (16384 x hidden) @ (hidden x inner) matmul, the shape of the model's
    feed-forward layer over a full batch: the practical arithmetic limit of these cores, as torch reaches it."""
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
