"""The English model on ONNX Runtime: the same vectors as sentence-transformers, several times faster on a CPU.

A query costs one tokenizer call (the model's own `tokenizers` file) and one session run; no torch at search time.
ONNX Runtime releases the GIL while it runs and a session may run from several threads at once, so concurrent
searches each get a core, and a bulk encode (indexing) spreads its batches over every core.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from indexer.embedders import ProgressCallback, Vectors
from indexer.embedders.onnx_export import prepared_graph
from indexer.embedders.sentence_transformer import bundled_model_path, model_name
from indexer.errors import ModelUnavailableError


class OnnxEmbedder:
    """`quantized`: the int8 graph. `threads`: intra-op threads of one run (1 keeps concurrent runs side by side).

    The int8 graph quantises activations per run, over every text of the run: a text's vector would depend on
    the texts batched with it (a restricted article's words would move another article's scores, and a query's
    vector would vary with the traffic beside it). So it encodes one text per run, and every text's vector is the
    same however it is encoded; the fp32 graph's batches are invariant already."""

    def __init__(
        self,
        model_path: Path | None,
        cache_dir: Path,
        *,
        quantized: bool = True,
        threads: int = 1,
        batch_size: int = 32,
    ) -> None:
        from tokenizers import Tokenizer

        path = model_path or bundled_model_path()
        if not (path / "tokenizer.json").is_file():
            raise ModelUnavailableError(f"no tokenizer.json in {path}: the ONNX encoder needs a fast tokenizer")
        graph = prepared_graph(path, cache_dir, quantized=quantized)
        self._session = cpu_session(graph, threads)
        self._tokenizer: Any = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=_max_tokens(path))
        self._tokenizer.enable_padding()
        self._run_size = 1 if quantized else batch_size
        self._name = f"{model_name(path)}+onnx{'-int8' if quantized else ''}"
        self._dimension = int(self._run(["warm"]).shape[1])  # the first run allocates: pay for it at load time

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> Vectors:
        return encode_by_length(texts, self._run_size, self._run, self._dimension, progress)

    def _run(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return np.asarray(self._session.run(None, feed)[0], dtype=np.float32)


def cpu_session(graph: Path, threads: int) -> Any:
    """An ONNX Runtime session on the CPU whose runs use `threads` cores each (1 keeps concurrent runs apart)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # A spinning idle thread steals the core another search needs on a busy host.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])


def encode_by_length(
    texts: Sequence[str],
    batch_size: int,
    encode: Callable[[list[str]], npt.NDArray[np.float32]],
    dimension: int,
    progress: ProgressCallback | None,
) -> Vectors:
    """`encode` over batches of `batch_size` texts of similar length (no time lost on padding), the batches on every
    core at once (ONNX Runtime releases the GIL, one thread per run), the rows back in the texts' order;
    `progress` after each batch, in order."""
    if not texts:
        return np.zeros((0, dimension), dtype=np.float32)
    if len(texts) <= batch_size:
        vectors = encode(list(texts))
        if progress is not None:
            progress(len(texts))
        return vectors
    order = np.argsort([len(t) for t in texts], kind="stable")
    batches = [order[start : start + batch_size] for start in range(0, len(texts), batch_size)]
    result = np.empty((len(texts), dimension), dtype=np.float32)
    with ThreadPoolExecutor(max(1, os.cpu_count() or 1), thread_name_prefix="kb-encode") as pool:
        encoded = pool.map(lambda batch: encode([texts[i] for i in batch]), batches)
        for batch, vectors in zip(batches, encoded, strict=True):
            result[batch] = vectors
            if progress is not None:
                progress(len(batch))
    return result


def _max_tokens(path: Path) -> int:
    """sentence-transformers' truncation length for this model (its `max_seq_length`), else BERT's 512."""
    try:
        config = json.loads((path / "sentence_bert_config.json").read_text(encoding="utf-8"))
        return int(config.get("max_seq_length") or 512)
    except (OSError, ValueError):
        return 512
