"""Exporting a sentence-transformers model for the inference runtimes, once, into a cache.

A model folder whose modules are a Transformer, a mean or CLS Pooling and optionally Normalize
(the default all-MiniLM-L6-v2, bge, e5, SPECTER2's base, ...) is exported with torch's ONNX
exporter to `model.onnx`, converted by OpenVINO's own converter to `openvino.xml`/`.bin`, and kept
with its tokenizer and pooling in `<cache>/<model files' sha256>/`: written to a temporary folder,
then renamed, so a half-written export is never used. Exporting needs torch and transformers; using
an export needs only the runtime and `tokenizers`. Anything else stays on torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from models.base import UnknownModel

_TRANSFORMER = "sentence_transformers.models.Transformer"
_POOLING = "sentence_transformers.models.Pooling"
_NORMALIZE = "sentence_transformers.models.Normalize"
_POOLING_MODES = ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens", "lasttoken")
EXPORT_VERSION = 1  # part of the cache key: a change to the export makes old ones unused
ONNX_OPSET = 17


def default_cache() -> Path:
    return Path.home() / ".cache" / "paperlens" / "encoders"


def exportable(folder: Path | str) -> str | None:
    """None when the folder can be exported, else why not (for a one-line error)."""
    folder = Path(folder)
    try:
        modules = [module["type"] for module in json.loads((folder / "modules.json").read_text(encoding="utf-8"))]
        pooling = _pooling(folder)
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        return "not a local sentence-transformers folder with modules.json and a Pooling module"
    if modules[:2] != [_TRANSFORMER, _POOLING] or any(module != _NORMALIZE for module in modules[2:]):
        names = ", ".join(module.rsplit(".", 1)[-1] for module in modules)
        return f"its modules ({names}) are not Transformer, Pooling, Normalize"
    if sum(bool(pooling.get(f"pooling_mode_{mode}")) for mode in _POOLING_MODES) != 1 or not (
            pooling.get("pooling_mode_mean_tokens") or pooling.get("pooling_mode_cls_token")):
        return "its pooling is not mean or CLS alone"
    if not (folder / "tokenizer.json").is_file():
        return "it has no tokenizer.json (a fast tokenizer)"
    return None


def model_hash(folder: Path | str) -> str:
    """sha256 over the model folder's files (names and contents), the export's version included."""
    folder = Path(folder)
    digest = hashlib.sha256(f"paperlens-export-{EXPORT_VERSION}".encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and ".cache" not in p.parts):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        with path.open("rb") as data:
            for block in iter(lambda: data.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def exported_model(folder: Path | str, cache: Path | str | None = None) -> Path:
    """The exported copy of the model folder (made now when the cache lacks it)."""
    folder = Path(folder)
    why = exportable(folder)
    if why:
        raise UnknownModel(f"{folder} cannot run on ONNX Runtime or OpenVINO: {why}; use --runtime torch")
    target = Path(cache or default_cache()) / model_hash(folder)
    if (target / "export.json").is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name[:12]}-", dir=target.parent))
    except OSError as error:
        raise UnknownModel(f"cannot keep the exported model in {target.parent} ({error.strerror or error}): set "
                           "PAPERLENS_ENCODER_CACHE to a writable folder, or use --runtime torch") from None
    try:
        try:
            _export(folder, staging)
        except Exception as error:  # the exporters raise many kinds for a model they cannot take
            first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise UnknownModel(f"exporting {folder} for ONNX Runtime and OpenVINO failed: {first_line}; "
                               "use --runtime torch") from error
        try:
            os.rename(staging, target)
        except OSError:  # another process exported it meanwhile: theirs is as good
            if not (target / "export.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _export(folder: Path, out: Path) -> None:
    import openvino
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    example = tokenizer(["paperlens export", "a second, longer example sentence"], padding=True, return_tensors="pt")
    inputs = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in example]

    class LastHidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors):
            return self.model(**dict(zip(inputs, tensors))).last_hidden_state

    axes = {name: {0: "batch", 1: "tokens"} for name in [*inputs, "last_hidden_state"]}
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on the model's Python branches, not ours to act on
        torch.onnx.export(LastHidden(), tuple(example[name] for name in inputs), str(out / "model.onnx"),
                          input_names=inputs, output_names=["last_hidden_state"], dynamic_axes=axes,
                          opset_version=ONNX_OPSET, dynamo=False)
    openvino.save_model(openvino.convert_model(str(out / "model.onnx")), str(out / "openvino.xml"),
                        compress_to_fp16=False)
    shutil.copyfile(folder / "tokenizer.json", out / "tokenizer.json")
    pooling = _pooling(folder)
    spec = {"version": EXPORT_VERSION, "source": str(folder), "inputs": inputs,
            "pooling": "cls" if pooling.get("pooling_mode_cls_token") else "mean",
            "dim": int(model.config.hidden_size), "max_length": _max_length(folder, model.config),
            "pad_id": int(tokenizer.pad_token_id or 0)}
    (out / "export.json").write_text(json.dumps(spec, indent=2), encoding="utf-8")
    for path in out.iterdir():  # what is renamed into place is on disk first
        with path.open("rb") as data:
            os.fsync(data.fileno())


def _pooling(folder: Path) -> dict:
    modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    pooling = next(module for module in modules if module["type"] == _POOLING)
    return json.loads((folder / pooling["path"] / "config.json").read_text(encoding="utf-8"))


def _max_length(folder: Path, config) -> int:
    positions = int(getattr(config, "max_position_embeddings", 512))
    try:
        settings = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        return min(int(settings["max_seq_length"]), positions)
    except (OSError, ValueError, KeyError):
        return positions
