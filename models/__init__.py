"""Text -> vectors. The only package that imports torch and sentence-transformers."""

from models.encoder import DEFAULT_MODEL, Encoder, UnknownModel, load_encoder

__all__ = ["DEFAULT_MODEL", "Encoder", "UnknownModel", "load_encoder"]
