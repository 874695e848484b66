"""The ONNX Runtime backend: an exported model on ONNX Runtime's CPU provider, in fp32.

On a 2-core AVX-512 BF16 EPYC it ran 400 abstracts 1.5x faster than torch fp32 and a short query
in 2.9 ms on one core (benchmarks/encoder_speed.py); OpenVINO was faster there. Imports neither
torch nor transformers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.base import PooledTransformer


class OnnxEncoder(PooledTransformer):
    runtime = "onnx"
    numerics = "float32 (ONNX Runtime)"

    def __init__(self, model_id: str, folder: Path | str, batch_size: int = 64, threads: int = 0) -> None:
        import onnxruntime

        super().__init__(model_id, folder, batch_size)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(Path(folder) / "model.onnx"), options,
                                                     providers=["CPUExecutionProvider"])

    def hidden_states(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        return self._session.run(None, feed)[0]
