"""What the service holds in memory: the loaded index, its encoder and a cache of query vectors."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from indexer.paper_index import PaperIndex
from models import Encoder, load_encoder


class SearchEngine:
    def __init__(self, index: PaperIndex, encoder: Encoder, cache_size: int = 4096) -> None:
        self.index = index
        self.encoder = encoder
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @classmethod
    def load(cls, index_dir: Path | str, cache_size: int = 4096) -> "SearchEngine":
        index = PaperIndex.load(index_dir)
        return cls(index, load_encoder(index.manifest.model), cache_size)

    def embed_query(self, text: str) -> np.ndarray:
        """The query's vector; repeated queries (paging, popular searches) skip the model."""
        with self._lock:
            cached = self._cache.get(text)
            if cached is not None:
                self._cache.move_to_end(text)
                return cached
        vector = self.encoder.embed([text])[0]
        with self._lock:
            self._cache[text] = vector
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vector
