"""Text -> vectors. The only package that imports torch and sentence-transformers (or runs a model at all)."""

from models.encoder import DEFAULT_MODEL, Encoder, UnknownModel, load_encoder, load_query_encoder

__all__ = ["DEFAULT_MODEL", "Encoder", "UnknownModel", "load_encoder", "load_query_encoder"]
