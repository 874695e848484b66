"""What the service holds in memory: the live index, its encoder and a cache of query vectors.

`ServedIndex` is what a request works with: one index snapshot (pinned for the whole request,
so rows mean the same paper from start to end), the encoder and the shared query cache; queries
that miss the cache are encoded in batches with the other requests' (`QueryBatcher`).
`served.current()` is the same over the newest snapshot after changes or a reload.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from indexer.live import LiveIndex
from indexer.paper_index import PaperIndex
from indexer.store import read_manifest
from models import Encoder, EncoderSettings, load_query_encoder
from service.settings import Settings

T = TypeVar("T")


class QueryCache:
    """Query text -> its vector, least recently used dropped first; shared by every snapshot
    (the model does not change with the papers)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, text: str) -> np.ndarray | None:
        with self._lock:
            vector = self._vectors.get(text)
            if vector is not None:
                self._vectors.move_to_end(text)
            return vector

    def put(self, text: str, vector: np.ndarray) -> None:
        with self._lock:
            self._vectors[text] = vector
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)


class QueryBatcher:
    """Encodes queries on one thread, in batches: the queries that arrive while the model works on
    a batch go together in the next. One query alone waits for nothing; under concurrent load the
    model runs once for many queries (per query, a batch of 8 costs half of one query alone), and
    requests do not fight over the cores with a model run each. The thread ends when idle."""

    def __init__(self, encoder: Encoder, max_batch: int = 64, idle_seconds: float = 30.0) -> None:
        self.encoder = encoder
        self.max_batch = max_batch
        self.idle_seconds = idle_seconds
        self._queue: queue.SimpleQueue[tuple[str, Future]] = queue.SimpleQueue()
        self._guard = threading.Lock()  # the worker starts and ends under it
        self._worker: threading.Thread | None = None

    def submit(self, text: str) -> Future:
        """The text's vector, when its batch is done."""
        answer: Future = Future()
        with self._guard:
            self._queue.put((text, answer))
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="query-encoder", daemon=True)
                self._worker.start()
        return answer

    def _run(self) -> None:
        while True:
            try:
                batch = [self._queue.get(timeout=self.idle_seconds)]
            except queue.Empty:
                with self._guard:
                    if self._queue.empty():
                        self._worker = None
                        return
                continue
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._answer(batch)

    def _answer(self, batch: list[tuple[str, Future]]) -> None:
        texts = list(dict.fromkeys(text for text, _ in batch))
        try:
            vectors = dict(zip(texts, self.encoder.embed_passages(texts)))  # a long query in pieces
        except Exception:  # one bad query must not fail the others: each alone, its own answer
            for text, answer in batch:
                try:
                    answer.set_result(self.encoder.embed_passages([text])[0])
                except Exception as error:
                    answer.set_exception(error)
            return
        for text, answer in batch:
            answer.set_result(vectors[text])


class ServedIndex:
    def __init__(self, index: PaperIndex, encoder: Encoder, cache: QueryCache | int = 4096,
                 live: LiveIndex | None = None, batcher: QueryBatcher | None = None,
                 workers: ThreadPoolExecutor | None = None) -> None:
        self.index = index
        self.encoder = encoder
        self.cache = cache if isinstance(cache, QueryCache) else QueryCache(cache)
        self.live = live
        self.batcher = batcher if batcher is not None and batcher.encoder is encoder else QueryBatcher(encoder)
        # Rankings run here, first come first served, as many at once as there are cores: more
        # threads would only take turns holding the interpreter, and the last in line waits longest.
        self.workers = workers or ThreadPoolExecutor(len(os.sched_getaffinity(0)), thread_name_prefix="ranking")

    @classmethod
    def load(cls, index_dir: Path | str, cache_size: int = 4096, encoder: Encoder | None = None,
             encoder_settings: EncoderSettings | None = None) -> "ServedIndex":
        """The index and its query encoder (models.load_query_encoder, chosen by `encoder_settings`),
        loaded side by side; `encoder` is used when it is the index's model."""
        model = read_manifest(index_dir).model
        load = partial(load_query_encoder, settings=encoder_settings)
        pending = None if encoder is not None and encoder.model_id == model else _started(load, model)
        live = LiveIndex(index_dir)
        encoder = encoder if pending is None else pending.result()
        if live.index.manifest.model != model:  # rebuilt with another model while this loaded
            encoder = load(live.index.manifest.model)
        return cls(live.index, encoder, cache_size, live)

    @classmethod
    def load_in_background(cls, settings: Settings) -> Future:
        """`load` of the settings' index on a thread of its own, started now; the ServedIndex (or the error) when done."""
        return _started(partial(cls.load, encoder_settings=settings), settings.index_dir, settings.query_cache_size)

    def current(self) -> "ServedIndex":
        """The same, over the newest snapshot (this one when nothing changed)."""
        if self.live is None or self.live.index is self.index:
            return self
        return ServedIndex(self.live.index, self.encoder, self.cache, self.live, self.batcher, self.workers)

    def query_vector(self, text: str) -> Future:
        """The query's vector, when ready; repeated queries (paging, popular searches) skip the model."""
        cached = self.cache.get(text)
        if cached is not None:
            done: Future = Future()
            done.set_result(cached)
            return done
        pending = self.batcher.submit(text)

        def remember(answer: Future) -> None:
            if answer.exception() is None:
                self.cache.put(text, answer.result())

        pending.add_done_callback(remember)
        return pending

    def embed_query(self, text: str) -> np.ndarray:
        return self.query_vector(text).result()

    async def compute(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` on the ranking workers, awaited."""
        return await asyncio.wrap_future(self.workers.submit(function, *args))


def _started(function: Callable[..., T], *args: Any) -> Future:
    """`function(*args)` on a daemon thread of its own, started now (a process that exits does
    not wait for it); its result, or its error, in the future."""
    result: Future = Future()

    def run() -> None:
        try:
            result.set_result(function(*args))
        except BaseException as error:  # handed to whoever waits for it
            result.set_exception(error)

    threading.Thread(target=run, name=f"start-{getattr(function, '__name__', 'task')}", daemon=True).start()
    return result
