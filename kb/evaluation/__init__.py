"""Search quality as numbers: run the real pipeline on a BEIR-layout data set and score it."""

from kb.evaluation.dataset import EvalDataset, load_dataset
from kb.evaluation.runner import EvalReport, run_eval

__all__ = ["EvalDataset", "EvalReport", "load_dataset", "run_eval"]
