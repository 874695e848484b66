"""The torch backend: any sentence-transformers model, on CPU (fp32 or bf16 autocast) or a GPU.

Loaded from a local folder or the local hub cache only (`local_files_only`): paperlens never
downloads at run time. torch, transformers and sentence-transformers are imported when an encoder
is made, never when `models` is imported.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from models.base import Encoder, UnknownModel


class SentenceTransformerEncoder(Encoder):
    """Any sentence-transformers model, loaded without touching the network."""

    runtime = "torch"

    def __init__(self, model_id: str, path: str, batch_size: int = 64, device: str = "cpu",
                 bf16: bool = False) -> None:
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
        model = self._model
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(dimension())
        # bf16 autocast: on AMX / AVX-512-BF16 units 1.75x faster than fp32 (a Sapphire Rapids host),
        # within cosine 0.9999 of it; loading.py decides per host (emulated bf16 is 7x slower).
        self._autocast = device == "cpu" and bf16
        self.numerics = "bfloat16 autocast" if self._autocast else "float32"

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self._autocast):
            vectors = self._model.encode(list(texts), batch_size=len(texts), convert_to_numpy=False,
                                         convert_to_tensor=True)
        return vectors.float().cpu().numpy()
