"""The ONNX graph of a sentence-transformers folder: exported once from its own weights, kept in a cache folder.

The graph ends in the model's pooling and normalisation, so ONNX Runtime returns the very vectors
sentence-transformers would (cosine > 0.99999 in fp32). The int8 variant quantises the matrix multiplications per
output channel (per-tensor weights lose more: a mean cosine of 0.966 against 0.994 on the starter questions).
Nothing is downloaded: torch and transformers read the folder, and are needed only for the export.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from filelock import FileLock

from indexer.embedders.sentence_transformer import model_name
from indexer.errors import ModelUnavailableError

log = logging.getLogger(__name__)

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
FP32 = "model.onnx"
INT8 = "model-int8.onnx"
# The files that decide the vectors; a change in any of them is another model.
_MODEL_FILES = ("config.json", "tokenizer.json", "modules.json", "sentence_bert_config.json", "1_Pooling/config.json")
_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
_EXPORT_VERSION = "1"  # bump when the export or quantisation recipe changes: older caches are not reused


def model_hash(model_path: Path) -> str:
    """A digest of the files that decide the vectors (weights, configuration, tokenizer)."""
    digest = hashlib.sha256(_EXPORT_VERSION.encode())
    for name in (*_MODEL_FILES, *_WEIGHTS):
        file = model_path / name
        if file.is_file():
            digest.update(name.encode())
            file_digest(digest, file)
    return digest.hexdigest()[:16]


def check_mean_pooled(model_path: Path) -> None:
    """The exported graph pools by the mean of token vectors and normalises: refuse a folder configured otherwise."""
    pooling_file = model_path / "1_Pooling" / "config.json"
    modules_file = model_path / "modules.json"
    try:
        pooling = json.loads(pooling_file.read_text(encoding="utf-8"))
        modules = json.loads(modules_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelUnavailableError(
            f"{model_path} has no readable sentence-transformers pooling configuration ({exc}); "
            "set KB_ENCODER=torch for this model"
        ) from exc
    modes = {key for key, on in pooling.items() if key.startswith("pooling_mode_") and on}
    normalised = any(str(module.get("type", "")).endswith("Normalize") for module in modules)
    if modes != {"pooling_mode_mean_tokens"} or not normalised:
        raise ModelUnavailableError(
            f"the ONNX encoder runs mean-pooled, normalised models; {model_path} is not one: set KB_ENCODER=torch"
        )


def prepared_graph(model_path: Path, cache_dir: Path, *, quantized: bool) -> Path:
    """The cached graph of the sentence-transformers folder `model_path` (exported, then quantised, the first time)."""
    check_mean_pooled(model_path)
    folder = cache_dir / f"{model_name(model_path)}-{model_hash(model_path)}"
    return cached_graph(folder, model_path.name, lambda out: _export(model_path, out), quantized=quantized)


def cached_graph(folder: Path, label: str, export: Callable[[Path], None], *, quantized: bool) -> Path:
    """`folder`'s fp32 graph (`export` writes it) or its int8 quantisation, made the first time they are asked for.
    Written atomically so that a killed export leaves no half file, and under a lock so that two processes export
    once. `folder` is named by a digest of what decides the vectors: another model never reads this one's graph."""
    target = folder / (INT8 if quantized else FP32)
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / ".export.lock")):
        if not (folder / FP32).is_file():
            # Shown by the CLI (warnings are): the first start pauses for it, every later one reads the cache.
            log.warning("preparing the ONNX encoder, once: exporting %s into %s", label, folder)
            _atomic(folder / FP32, export)
        if quantized and not target.is_file():
            log.warning("preparing the ONNX encoder, once: quantising %s to int8", label)
            _atomic(target, lambda out: _quantize(folder / FP32, out))
    return target


def file_digest(digest: Any, file: Path) -> None:
    """Feed `file`'s bytes to `digest`, a block at a time."""
    with file.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)


def _atomic(target: Path, write: Callable[[Path], None]) -> None:
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(handle)
    part = Path(name)
    try:
        write(part)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)


def _export(model_path: Path, out: Path) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

    class Pooled(torch.nn.Module):
        """The transformer, then sentence-transformers' mean pooling and normalisation, as one graph."""

        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1)

    model = AutoModel.from_pretrained(str(model_path), local_files_only=True).eval()
    sample = torch.ones((2, 8), dtype=torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS}
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter's deprecation notices: it is the exporter that needs no extra package.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled(model),
            (sample, sample, torch.zeros_like(sample)),
            str(out),
            input_names=list(INPUTS),
            output_names=["embedding"],
            dynamic_axes={**axes, "embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )


def _quantize(source: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    advice = _DropPreprocessingAdvice()
    root.addFilter(advice)  # it advises a pre-processing step that measured no better here, on the root logger
    try:
        quantize_dynamic(
            str(source), str(out), per_channel=True, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"]
        )
    finally:
        root.removeFilter(advice)


class _DropPreprocessingAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()
