"""The encoders as the product loads them: the English model's documents in fp32 (the index's encoder), its queries
in bfloat16 on OpenVINO where the CPU multiplies bfloat16 in hardware, and fp32 queries when that is switched off."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.embedders import Embedder
from indexer.embedders.batching import QueryBatcher
from indexer.embedders.openvino_session import has_bfloat16
from kb.indexing import load_embedder, load_multilingual
from kb.settings import Settings

pytestmark = pytest.mark.real_model

QUESTION = "vpn drops every few minutes on hotel wifi"


def batcher(encoder: Embedder) -> QueryBatcher:
    assert isinstance(encoder, QueryBatcher)
    return encoder


def test_documents_are_fp32_and_queries_bfloat16_where_the_cpu_has_it(real_embedder: Embedder) -> None:
    english = batcher(real_embedder)
    assert english.name == "all-MiniLM-L6-v2+onnx"  # what the index records: the documents' encoder
    assert english.queries.name == ("all-MiniLM-L6-v2+openvino" if has_bfloat16() else english.name)
    query, document = english.submit(QUESTION)(), english.encode([QUESTION])[0]
    assert float(np.dot(query, document)) > 0.9999


def test_the_multilingual_encoder_reads_queries_as_it_reads_documents(tmp_path: Path) -> None:
    """Its graph is small: OpenVINO's per-run overhead would cost more than bfloat16 saves."""
    use = batcher(load_multilingual(Settings(data_dir=tmp_path)))
    assert use.name == "use-multilingual-v3+onnx" and use.queries is use.inner


def test_queries_stay_fp32_when_asked(tmp_path: Path) -> None:
    english = batcher(load_embedder(Settings(data_dir=tmp_path, query_bfloat16=False)))
    assert english.queries is english.inner
