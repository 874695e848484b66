"""Text -> vectors. The only package that imports torch and sentence-transformers (or runs a model at all).

base.py: the `Encoder` interface; torch_encoder.py, openvino_encoder.py, onnx_encoder.py: the runtime
backends; export.py: a model exported once for the runtimes; loading.py: which backend and numerics a job
gets here; host.py: the host class that decides it.
"""

from models.base import DEFAULT_MODEL, Encoder, UnknownModel
from models.loading import EncoderSettings, encoder_settings, load_encoder, load_query_encoder, resolve_model_path

__all__ = ["DEFAULT_MODEL", "Encoder", "EncoderSettings", "UnknownModel", "encoder_settings", "load_encoder",
           "load_query_encoder", "resolve_model_path"]
