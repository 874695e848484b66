"""Embedded chunks of a build kept on disk, so that a build that was interrupted resumes where it
stopped instead of embedding everything again.

A chunk's file is named by a digest of the model and of the exact texts it embedded, so a later
build reuses it only for the same papers with the same text under the same model; anything else
(another source, an edited abstract, another model) simply misses and is embedded afresh.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from indexer.papers import Paper, embedding_texts


class EmbeddingCheckpoints:
    """Chunk files of (text vectors, title vectors) in one folder, written atomically."""

    def __init__(self, folder: Path, model_id: str, dim: int) -> None:
        self.folder = Path(folder)
        self.model_id = model_id
        self.dim = dim

    def key(self, papers: Sequence[Paper]) -> str:
        digest = hashlib.blake2b(digest_size=16)
        digest.update(f"{self.model_id}\0{self.dim}\0{len(papers)}\0".encode())
        for text, title in zip(*embedding_texts(papers)):
            for part in (text, title):
                data = part.encode("utf-8", "surrogatepass")
                digest.update(len(data).to_bytes(8, "little"))
                digest.update(data)
        return digest.hexdigest()

    def load(self, key: str, count: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The chunk's (text vectors, title vectors), or None when there is no usable file."""
        try:
            both = np.load(self._path(key))
        except (OSError, ValueError):  # absent, or torn by a crash: embed it again
            return None
        if both.shape != (2, count, self.dim) or both.dtype != np.float32:
            return None
        return both[0], both[1]

    def save(self, key: str, vectors: np.ndarray, title_vectors: np.ndarray) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.folder / f".{key}.{os.getpid()}.tmp"
        with temporary.open("wb") as out:
            np.save(out, np.stack([vectors, title_vectors]).astype(np.float32, copy=False))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self._path(key))

    def clear(self) -> None:
        """Drops every chunk (the build they were for is written)."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.npy"
