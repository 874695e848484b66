"""The encoder interface every runtime backend implements, and the error for a model that cannot load.

An `Encoder` turns texts into L2-normalised float32 vectors; a backend implements `embed_batch`
only (vectors for one batch, any float dtype and norm) and the base class batches length-sorted
texts and normalises. `PooledTransformer` is the part the inference-runtime backends share: the model's own tokenizer
(tokenizer.json), the runtime's hidden states, pooled as the model's Pooling module says.
Backends import this module and nothing else of `models`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
import json
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

DEFAULT_MODEL = "all-MiniLM-L6-v2"


class UnknownModel(Exception):
    """The model name or path cannot be loaded here (not installed, not a model folder), or an
    encoder setting is not one paperlens knows."""


class Encoder(ABC):
    """Turns texts into L2-normalised float32 vectors. Subclasses implement `embed_batch` only."""

    model_id: str
    dim: int
    batch_size: int = 32
    numerics: str = "float32"  # what the arithmetic runs in, for benchmarks and logs
    runtime: str = "python"  # the inference runtime: torch, openvino, onnx

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
            out[positions] = normalise(self.embed_batch(batch))
            if progress:
                progress(len(batch))
        return out

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for texts of any length (a pasted abstract, a paragraph, a page): a text longer
        than the model's window is cut into pieces of PASSAGE_WORDS words at sentence ends
        (`passage_pieces`), every piece is embedded, and a text's vector is the mean of its pieces'
        vectors weighted by their words, normalised. A short text is one piece: `embed` exactly."""
        pieces = [passage_pieces(text) for text in texts]
        flat = [piece for parts in pieces for piece in parts]
        if len(flat) == len(texts):
            return self.embed(texts)
        vectors = self.embed(flat)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        start = 0
        for position, parts in enumerate(pieces):
            weights = np.array([len(piece.split()) for piece in parts], dtype=np.float32)
            out[position] = normalise((weights @ vectors[start:start + len(parts)])[None, :])[0]
            start += len(parts)
        return out

    def _length_sorted_batches(self, texts: Sequence[str]) -> Iterator[tuple[np.ndarray, list[str]]]:
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in range(0, len(order), self.batch_size):
            positions = order[start : start + self.batch_size]
            yield positions, [texts[i] for i in positions]


# Words in one piece of a long text: about 200 word pieces of English scientific prose (1.3 a word),
# inside the 256 the default model reads (beyond them it truncates, so the rest would be lost).
PASSAGE_WORDS = 160
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def passage_pieces(text: str, words: int = PASSAGE_WORDS) -> list[str]:
    """The text as pieces of at most `words` words (one piece when it is that short), cut at
    sentence ends where a sentence fits, inside a sentence longer than a piece."""
    if len(text.split()) <= words:
        return [text]
    pieces: list[list[str]] = [[]]
    for sentence in _SENTENCE_END.split(text):
        sentence_words = sentence.split()
        while sentence_words:
            room = words - len(pieces[-1])
            if len(sentence_words) > room and pieces[-1] and len(sentence_words) <= words:
                pieces.append([])  # the sentence starts the next piece rather than being cut
                continue
            pieces[-1].extend(sentence_words[:room])
            sentence_words = sentence_words[room:]
            if len(pieces[-1]) >= words:
                pieces.append([])
    return [" ".join(piece) for piece in pieces if piece]


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as float32 (a zero row stays zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class PooledTransformer(Encoder):
    """A transformer run by an inference runtime, from an exported folder (`models/export.py`):
    `tokenizer.json` and `export.json` (pooling, longest input, dimension). Subclasses run the
    network (`hidden_states`); this class tokenises and pools (mean over real tokens, or CLS)."""

    runtime = "runtime"

    def __init__(self, model_id: str, folder: Path | str, batch_size: int = 64) -> None:
        from tokenizers import Tokenizer

        folder = Path(folder)
        spec = json.loads((folder / "export.json").read_text(encoding="utf-8"))
        self.model_id = model_id
        self.batch_size = batch_size
        self.dim = int(spec["dim"])
        self.cls_pooling = spec["pooling"] == "cls"
        self.inputs = list(spec["inputs"])
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=int(spec["max_length"]))
        self.tokenizer.enable_padding(pad_id=int(spec.get("pad_id", 0)))

    @abstractmethod
    def hidden_states(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        """(batch, tokens, dim) last hidden states for the tokenised batch."""

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(list(texts))
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feed = {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64), "attention_mask": mask,
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}
        hidden = np.asarray(self.hidden_states({name: feed[name] for name in self.inputs}), dtype=np.float32)
        if self.cls_pooling:
            return hidden[:, 0]
        weights = mask.astype(np.float32)
        summed = np.einsum("bld,bl->bd", hidden, weights)
        return summed / np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)
