"""Indexing on a Ray cluster: the papers go to a pool of encoder actors spread over the cluster's
nodes (one model load per actor, on a GPU where the cluster has them), and the vectors come back
to `build_index`, which writes the same index folder as a build on one machine.

Everything else is the single-machine build (reading, --update, the dense index chosen by size,
the lexical index, the atomic generation write): only the embedding moves. Ray is imported here,
and this module only by a command given `--ray`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import socket
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from indexer.build import BuildSummary, build_index
from indexer.vectors import VectorOptions
from indexer.errors import PaperlensError
from indexer.papers import Paper, embedding_texts
from models import load_encoder


class ClusterError(PaperlensError):
    """No Ray here, no cluster at the address, not enough of it for what was asked, or it failed."""


try:
    import ray
    import ray.data
    from ray.exceptions import RayError
except ImportError as error:  # pragma: no cover - depends on the installation
    raise ClusterError("--ray needs Ray: pip install 'ray[data,serve]>=2.40'") from error

MAX_ROWS_PER_TASK = 1024  # papers an actor embeds per call: progress and retries stay fine-grained
TASKS_PER_ACTOR = 4  # at least this many calls per actor, so a slow node does not hold up the end


def connect(address: str) -> None:
    """Joins the Ray cluster at `address` ("auto": the cluster this machine is a node of, or
    RAY_ADDRESS; "ray://HOST:10001" from outside the cluster)."""
    if ray.is_initialized():
        return
    _check_reachable(address)
    try:
        # Actors' output stays in the cluster's logs; errors still come back as exceptions.
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ClusterError(f"no Ray cluster at {address} ({first_line}); start one with `ray start --head`") from error


def _check_reachable(address: str) -> None:
    """Fails in seconds where Ray would retry a dead HOST:PORT for over ten minutes."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", or a form Ray checks itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
    except OSError as error:
        raise ClusterError(f"no Ray cluster at {address} ({error.strerror or error}); "
                                 "start one with `ray start --head`") from error


@dataclasses.dataclass(frozen=True)
class ActorPool:
    """How many encoder actors, and what each one holds."""

    actors: int
    cpus: float  # per actor; Ray gives the actor's torch as many threads
    gpus: float = 0.0  # per actor

    def describe(self) -> str:
        each = f"{self.gpus:g} GPU" if self.gpus else f"{self.cpus:g} CPU"
        return f"{self.actors} encoder actors ({each} each)"


def plan_pool(actors: int | None = None) -> ActorPool:
    """One actor per GPU when the cluster has GPUs (each model on its GPU), else one per
    CPU; with `actors` given, the CPUs are shared out between that many, as long as each fits
    on one node."""
    node_cpus = [node["Resources"].get("CPU", 0.0) for node in ray.nodes() if node["Alive"]]
    gpus = int(ray.cluster_resources().get("GPU", 0))
    if gpus:
        return ActorPool(_check_fits(actors or gpus, gpus, "GPUs"), cpus=1.0, gpus=1.0)
    actors = _check_fits(actors or sum(int(cpus) for cpus in node_cpus), sum(int(cpus) for cpus in node_cpus), "CPUs")
    per_actor = max(c for c in range(1, int(max(node_cpus)) + 1) if sum(int(n // c) for n in node_cpus) >= actors)
    return ActorPool(actors, cpus=float(per_actor))


def _check_fits(actors: int, slots: int, what: str) -> int:
    # More actors than slots would wait for resources that never come.
    if not 1 <= actors <= slots:
        raise ClusterError(f"{actors} encoder actors asked for, but the cluster has {slots} {what}; "
                                 "use --ray-actors between 1 and that")
    return actors


class PaperEncoder:
    """The Ray Data callable run by each actor: loads the model once, then embeds the texts and
    the titles of each batch of papers it is given."""

    def __init__(self, model: str | None, batch_size: int, device: str = "cpu", bf16: bool | None = None) -> None:
        # The runtime is chosen as on one machine (OpenVINO on a CPU node, torch on a GPU); a CPU actor
        # holds one CPU of the node, so its runtime runs one thread.
        self._encoder = load_encoder(model, batch_size=batch_size, device=device, bf16=bf16,
                                     threads=1 if device == "cpu" else 0)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {
            "row": batch["row"],
            "vector": self._encoder.embed(list(batch["text"])),
            "title_vector": self._encoder.embed(list(batch["title"])),
        }


class ClusterEmbedding:
    """A `PaperEmbedder` for `build_index`: the papers as a Ray Dataset, embedded by an actor pool.
    `bf16` is load_encoder's on each actor (None: each node's CPU decides)."""

    def __init__(self, model: str | None, pool: ActorPool, batch_size: int = 64, bf16: bool | None = None) -> None:
        self.model = model
        self.pool = pool
        self.batch_size = batch_size
        self.bf16 = bf16
        self.used: ActorPool | None = None  # the pool of the last call

    def __call__(self, papers: list[Paper],
                 advance: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
        _quiet_ray_data()
        # An actor costs a model load: none for less than a model batch of papers.
        actors = max(1, min(self.pool.actors, math.ceil(len(papers) / self.batch_size)))
        self.used = dataclasses.replace(self.pool, actors=actors)
        rows_per_task = _rows_per_task(len(papers), actors)
        device = "cuda" if self.pool.gpus else "cpu"
        embedded = papers_dataset(papers, rows_per_task).map_batches(
            PaperEncoder,
            fn_constructor_kwargs={"model": self.model, "batch_size": self.batch_size, "device": device,
                                   "bf16": self.bf16},
            compute=ray.data.ActorPoolStrategy(size=actors),
            batch_size=rows_per_task,
            batch_format="numpy",
            num_cpus=self.pool.cpus,
            num_gpus=self.pool.gpus or None,
        )
        try:
            return _gather(embedded, len(papers), advance)
        except RayError as error:
            cause = (str(error).strip().splitlines() or [type(error).__name__])[-1]  # Ray's last line names it
            raise ClusterError(f"embedding on the cluster failed: {cause}") from error


def papers_dataset(papers: Sequence[Paper], rows_per_block: int) -> "ray.data.Dataset":
    """(row, text, title) of each paper as a Ray Dataset, longest texts first so that the model's
    batches pad little, in blocks of `rows_per_block`."""
    texts, titles = embedding_texts(papers)
    order = np.argsort([-len(text) for text in texts], kind="stable")
    blocks = []
    for start in range(0, len(order), rows_per_block):
        rows = order[start:start + rows_per_block]
        blocks.append(pa.table({
            "row": pa.array(rows, type=pa.int64()),
            "text": [texts[row] for row in rows],
            "title": [titles[row] for row in rows],
        }))
    return ray.data.from_arrow(blocks)


def _quiet_ray_data() -> None:
    """The build shows its own progress bar and summary line; Ray Data's (per-execution INFO lines,
    progress bars) stay in the session's ray-data.log."""
    ray.data.DataContext.get_current().enable_progress_bars = False
    for handler in logging.getLogger("ray.data").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setLevel(logging.WARNING)


def _rows_per_task(count: int, actors: int) -> int:
    return max(1, min(MAX_ROWS_PER_TASK, math.ceil(count / (actors * TASKS_PER_ACTOR))))


def _gather(embedded: "ray.data.Dataset", count: int,
            advance: Callable[[int], None] | None) -> tuple[np.ndarray, np.ndarray]:
    """The vectors back in row order, as the actors finish them (in any order)."""
    vectors = title_vectors = None
    seen = np.zeros(count, dtype=bool)
    for batch in embedded.iter_batches(batch_size=None, batch_format="numpy"):
        rows = batch["row"]
        if vectors is None:
            dim = batch["vector"].shape[1]
            vectors = np.empty((count, dim), dtype=np.float32)
            title_vectors = np.empty((count, dim), dtype=np.float32)
        vectors[rows], title_vectors[rows] = batch["vector"], batch["title_vector"]
        seen[rows] = True
        if advance:
            advance(len(rows))
    if not seen.all():
        raise ClusterError(f"the cluster returned vectors for {int(seen.sum())} of {count} papers")
    return vectors, title_vectors


def build_index_on_cluster(
    sources: Sequence[str],
    index_dir: Path | str,
    address: str,
    model: str | None = None,
    actors: int | None = None,
    format: str | None = None,
    update: bool = False,
    batch_size: int = 64,
    progress: bool | None = None,
    bf16: bool | None = None,
    vectors: VectorOptions | None = None,
    strict: bool = True,
) -> tuple[BuildSummary, ActorPool]:
    """`build_index` with the embedding done by the Ray cluster at `address`; also the actor pool
    that embedded. `bf16` is the actors' CPU numerics (load_encoder's; None: each node decides)."""
    connect(address)
    pool = plan_pool(actors)
    # The driver's copy of the model names it and its dimension in the manifest (and checks an
    # --update against the index) and checks given vectors on a sample; it embeds nothing else.
    encoder = load_encoder(model, batch_size=batch_size)
    embedding = ClusterEmbedding(model, pool, batch_size, bf16)
    summary = build_index(sources, index_dir, encoder, format=format, update=update, progress=progress,
                          embed=embedding, vectors=vectors, strict=strict)
    return summary, embedding.used or pool
