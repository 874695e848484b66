"""What the service holds in memory: the live index, its encoder and a cache of query vectors.

`SearchEngine` is what a request works with: one index snapshot (pinned for the whole request,
so rows mean the same paper from start to end), the encoder and the shared query cache.
`engine.current()` is the engine over the newest snapshot after changes or a reload.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from indexer.live import LiveIndex
from indexer.paper_index import PaperIndex
from models import Encoder, load_encoder


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


class SearchEngine:
    def __init__(self, index: PaperIndex, encoder: Encoder, cache: QueryCache | int = 4096,
                 live: LiveIndex | None = None) -> None:
        self.index = index
        self.encoder = encoder
        self.cache = cache if isinstance(cache, QueryCache) else QueryCache(cache)
        self.live = live

    @classmethod
    def load(cls, index_dir: Path | str, cache_size: int = 4096, encoder: Encoder | None = None) -> "SearchEngine":
        live = LiveIndex(index_dir)
        encoder = encoder if encoder is not None and encoder.model_id == live.index.manifest.model else None
        return cls(live.index, encoder or load_encoder(live.index.manifest.model), cache_size, live)

    def current(self) -> "SearchEngine":
        """The engine over the newest snapshot (this one when nothing changed)."""
        if self.live is None or self.live.index is self.index:
            return self
        return SearchEngine(self.live.index, self.encoder, self.cache, self.live)

    def embed_query(self, text: str) -> np.ndarray:
        """The query's vector; repeated queries (paging, popular searches) skip the model."""
        cached = self.cache.get(text)
        if cached is not None:
            return cached
        vector = self.encoder.embed([text])[0]
        self.cache.put(text, vector)
        return vector
