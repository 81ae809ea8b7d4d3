"""The English model as an ONNX graph (ONNX Runtime fp32 and int8, OpenVINO bfloat16): exported once from the
bundled folder, the same vectors as torch, the same vector for a text however it is batched, and refused for a
folder it cannot reproduce."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from indexer.embedders.onnx_export import FP32, INT8, model_hash, prepared_graph
from indexer.embedders.onnx_runtime import GraphBackend, OnnxEmbedder
from indexer.embedders.sentence_transformer import SentenceTransformerEmbedder, bundled_model_path
from indexer.errors import ModelUnavailableError

pytestmark = pytest.mark.real_model

TEXTS = [
    "vpn drops every few minutes on hotel wifi",
    "the printr is ofline",
    "How do I add my husband to the company health insurance? He starts a new job in March and loses his cover.",
    "où trouver ma fiche de paie",
]


@pytest.fixture(scope="module")
def cache() -> Path:
    return Path(os.environ["KB_MODEL_CACHE_DIR"])


@pytest.fixture(scope="module")
def torch_vectors() -> np.ndarray:
    return SentenceTransformerEmbedder().encode(TEXTS)


@pytest.mark.parametrize(("backend", "least"), [("onnx", 0.9999), ("onnx-int8", 0.98), ("openvino", 0.9995)])
def test_graph_vectors_are_the_models_own(
    cache: Path, torch_vectors: np.ndarray, backend: GraphBackend, least: float
) -> None:
    encoder = OnnxEmbedder(None, cache, backend=backend)
    vectors = encoder.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert (vectors * torch_vectors).sum(axis=1).min() >= least
    assert encoder.name == f"all-MiniLM-L6-v2+{backend}"


@pytest.mark.parametrize(("backend", "tolerance"), [("onnx", 1e-5), ("onnx-int8", 0), ("openvino", 0)])
def test_a_texts_vector_does_not_depend_on_the_texts_encoded_with_it(
    cache: Path, backend: GraphBackend, tolerance: float
) -> None:
    """Otherwise a restricted article's words would move other articles' vectors, and a query's vector would vary
    with the traffic batched beside it."""
    encoder = OnnxEmbedder(None, cache, backend=backend)
    alone = np.vstack([encoder.encode([text]) for text in TEXTS])
    together = encoder.encode(TEXTS)
    many = encoder.encode(TEXTS * 20)[: len(TEXTS)]  # the bulk path: batches on several threads
    np.testing.assert_allclose(together, alone, atol=tolerance)
    np.testing.assert_allclose(many, alone, atol=tolerance)


def test_the_graphs_are_exported_once_into_a_folder_named_by_the_models_hash(cache: Path) -> None:
    model = bundled_model_path()
    graph = prepared_graph(model, cache, quantized=True)
    assert graph.name == INT8 and (graph.parent / FP32).is_file()
    assert graph.parent.name.endswith(model_hash(model))
    before = graph.stat().st_mtime_ns
    assert prepared_graph(model, cache, quantized=True) == graph
    assert graph.stat().st_mtime_ns == before
    assert not list(graph.parent.glob("*.part"))


def test_a_changed_model_is_another_graph(tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(bundled_model_path(), model)
    before = model_hash(model)
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, "note": "fine-tuned"}))
    assert model_hash(model) != before


def test_a_model_that_does_not_mean_pool_is_refused_before_any_export(tmp_path: Path) -> None:
    model = tmp_path / "cls-model"
    shutil.copytree(bundled_model_path(), model)
    pooling = model / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    pooling.write_text(json.dumps({**config, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}))
    with pytest.raises(ModelUnavailableError, match="KB_ENCODER=torch"):
        OnnxEmbedder(model, tmp_path / "cache")
    assert not (tmp_path / "cache").exists()
