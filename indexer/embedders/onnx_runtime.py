"""The English model as an exported ONNX graph: the same vectors as sentence-transformers, several times faster on a
CPU, run by ONNX Runtime (fp32 or int8) or by OpenVINO (bfloat16 where the CPU has it: see `openvino_session`).

A query costs one tokenizer call (the model's own `tokenizers` file) and one graph run; no torch at search time.
Both runtimes release the GIL while they run and a graph may run from several threads at once, so concurrent
searches each get a core, and a bulk encode (indexing) spreads its batches over every core.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from indexer.embedders import ProgressCallback, Vectors
from indexer.embedders.onnx_export import prepared_graph
from indexer.embedders.openvino_session import SHAPE_STEP
from indexer.embedders.sentence_transformer import bundled_model_path, model_name
from indexer.errors import ModelUnavailableError

# onnx: ONNX Runtime, fp32; onnx-int8: ONNX Runtime, int8 matrix products; openvino: OpenVINO, bfloat16 products.
GraphBackend = Literal["onnx", "onnx-int8", "openvino"]


class GraphSession(Protocol):
    def run(self, feed: dict[str, npt.NDArray[Any]]) -> npt.NDArray[np.float32]:
        """The graph's first output for `feed`; callable from several threads at once."""
        ...


class OnnxEmbedder:
    """`backend`: which graph runs on which runtime. `threads`: cores of one run (1 keeps concurrent runs side by
    side).

    The int8 graph quantises activations per run, over every text of the run: a text's vector would depend on
    the texts batched with it (a restricted article's words would move another article's scores, and a query's
    vector would vary with the traffic beside it). So it encodes one text per run, and every text's vector is the
    same however it is encoded. ONNX Runtime's fp32 batches are invariant already (to 1e-5), and OpenVINO's exactly
    once lengths are padded to a multiple of 16 (tested: a batch's rows equal each text's run alone)."""

    def __init__(
        self,
        model_path: Path | None,
        cache_dir: Path,
        *,
        backend: GraphBackend = "onnx",
        threads: int = 1,
        batch_size: int = 32,
    ) -> None:
        from tokenizers import Tokenizer

        path = model_path or bundled_model_path()
        if not (path / "tokenizer.json").is_file():
            raise ModelUnavailableError(f"no tokenizer.json in {path}: the ONNX encoder needs a fast tokenizer")
        graph = prepared_graph(path, cache_dir, quantized=backend == "onnx-int8")
        self._session = graph_session(graph, backend, threads)
        self._tokenizer: Any = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=_max_tokens(path))
        # OpenVINO prepares its kernels for each new input shape (a millisecond, more than a short query's whole
        # run): lengths rounded up to a multiple of 16 keep queries to a few shapes. The padding is masked out,
        # and with it a text comes out of a batch exactly as alone (unpadded lengths moved it in the 4th decimal).
        self._tokenizer.enable_padding(pad_to_multiple_of=SHAPE_STEP if backend == "openvino" else None)
        self._run_size = run_size(backend, batch_size)
        self._name = f"{model_name(path)}+{backend}"
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
        return self._session.run(feed)


def graph_session(graph: Path, backend: GraphBackend, threads: int) -> GraphSession:
    """`graph` on `backend`'s runtime, on the CPU, its runs using `threads` cores each."""
    if backend == "openvino":
        from indexer.embedders.openvino_session import OpenVinoSession

        return OpenVinoSession(graph, threads)
    return _OnnxRuntimeSession(graph, threads)


def run_size(backend: GraphBackend, batch_size: int) -> int:
    """Texts per run: one where a run's other texts would change a text's vector (see `OnnxEmbedder`)."""
    return 1 if backend == "onnx-int8" else batch_size


class _OnnxRuntimeSession:
    def __init__(self, graph: Path, threads: int) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # A spinning idle thread steals the core another search needs on a busy host.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])

    def run(self, feed: dict[str, npt.NDArray[Any]]) -> npt.NDArray[np.float32]:
        return np.asarray(self._session.run(None, feed)[0], dtype=np.float32)


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
