"""`kb eval`: the real pipeline scored on the shared retrieval data sets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from indexer.embedders.sentence_transformer import SentenceTransformerEmbedder
from kb.cli.main import app
from kb.evaluation.metrics import mrr_at_k, ndcg_at_k, recall_at_k
from tests.conftest import EVAL_DIR

KEYS = {
    "ndcg@10",
    "recall@10",
    "mrr@10",
    "answer_precision",
    "answer_recall",
    "answer_f1",
    "queries",
    "docs",
    "retriever",
    "index_s",
    "search_p50_ms",
}
STACKFAQ = EVAL_DIR / "stackfaq"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, embedder: SentenceTransformerEmbedder, tmp_path: Path) -> CliRunner:
    monkeypatch.setattr("kb.cli.evaluate.load_embedder", lambda _settings: embedder)
    # The user's data dir must stay untouched: point it somewhere we can check.
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "user-data"))
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def _eval(runner: CliRunner, dataset: Path, *args: str) -> dict[str, object]:
    result = runner.invoke(app, ["eval", str(dataset), "--json", *args])
    assert result.exit_code == 0, result.output
    figures: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def test_metrics_on_known_rankings() -> None:
    assert ndcg_at_k(["a", "b"], {"a"}) == 1.0
    assert ndcg_at_k(["x", "a"], {"a"}) == pytest.approx(1 / 1.5849625)
    assert recall_at_k(["a", "x", "b"], {"a", "b", "c", "d"}) == 0.5
    assert mrr_at_k(["x", "y", "a"], {"a"}) == pytest.approx(1 / 3)
    assert mrr_at_k(["x"], {"a"}) == 0.0


def test_eval_slice_prints_exact_keys_and_hybrid_holds_its_own(runner: CliRunner, tmp_path: Path) -> None:
    figures = {
        r: _eval(runner, STACKFAQ, "--retriever", r, "--limit-queries", "40") for r in ("hybrid", "dense", "keyword")
    }

    for retriever, result in figures.items():
        assert set(result) == KEYS
        assert result["retriever"] == retriever
        assert result["queries"] == 80  # 40 answerable + 40 unanswerable
        assert result["docs"] == 197
        assert result["answer_f1"] is not None
    hybrid = figures["hybrid"]["ndcg@10"]
    assert isinstance(hybrid, float)
    for single in ("dense", "keyword"):
        assert hybrid >= float(figures[single]["ndcg@10"]) - 0.01  # type: ignore[arg-type]
    assert not (tmp_path / "user-data").exists()


def test_eval_of_a_folder_that_is_not_a_dataset_fails_cleanly(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", str(tmp_path)])

    assert result.exit_code != 0
    assert "corpus.jsonl" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_full_stackfaq_meets_the_quality_targets(runner: CliRunner) -> None:
    hybrid = _eval(runner, STACKFAQ, "--retriever", "hybrid")
    dense = _eval(runner, STACKFAQ, "--retriever", "dense")
    keyword = _eval(runner, STACKFAQ, "--retriever", "keyword")

    assert hybrid["answer_precision"] is not None
    assert float(hybrid["ndcg@10"]) >= 0.99  # type: ignore[arg-type]
    assert float(hybrid["ndcg@10"]) >= float(dense["ndcg@10"])  # type: ignore[arg-type]
    assert float(hybrid["ndcg@10"]) >= float(keyword["ndcg@10"])  # type: ignore[arg-type]
    assert float(hybrid["answer_f1"]) >= 0.92  # type: ignore[arg-type]
