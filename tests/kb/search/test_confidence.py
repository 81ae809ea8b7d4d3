"""The answer decision: more evidence, more confidence, on the scale of the KB's own calibration."""

from __future__ import annotations

import math

import pytest

from kb.search.confidence import CALIBRATION_VERSION, MIN_TITLE_SCORE, Calibration, ConfidenceModel, Evidence

MODEL = ConfidenceModel()
DOCUMENTS = Calibration(title_score=0.85)


def test_confidence_grows_with_score_margin_and_keywords() -> None:
    weak = MODEL.confidence(Evidence(0.5, 0.01), DOCUMENTS)
    assert 0.0 < weak < MODEL.confidence(Evidence(0.7, 0.01), DOCUMENTS)
    assert weak < MODEL.confidence(Evidence(0.5, 0.1), DOCUMENTS)
    assert weak < MODEL.confidence(Evidence(0.5, 0.01, keyword=1.0), DOCUMENTS) < 1.0


def test_the_same_evidence_is_more_convincing_in_a_kb_whose_titles_score_lower() -> None:
    evidence = Evidence(0.7, 0.05)
    assert MODEL.confidence(evidence, Calibration(title_score=0.8)) > MODEL.confidence(
        evidence, Calibration(title_score=0.9)
    )


def test_the_scale_never_goes_below_the_fitted_range() -> None:
    assert Calibration(title_score=0.5).scale == MIN_TITLE_SCORE


def test_a_stored_question_is_judged_against_the_uncovered_score() -> None:
    faq = Calibration(question_uncovered=0.8, questions=20, question_share=0.9)
    assert faq.faq
    assert MODEL.confidence(Evidence(0.8, 0.0, stored_question=True), faq) == pytest.approx(0.5)
    assert MODEL.confidence(Evidence(0.9, 0.0, stored_question=True), faq) == pytest.approx(0.9526, abs=1e-4)


def test_a_stored_calibration_is_read_back_and_an_outdated_one_is_not() -> None:
    stored = {"version": CALIBRATION_VERSION, "title_score": 0.82, "samples": 40, "question_uncovered": None}
    assert Calibration.of(stored) == Calibration(0.82, 40)
    assert Calibration.of({**stored, "version": "old"}) is None
    assert Calibration.of(None) is None


def test_a_question_in_another_language_is_read_on_the_multilingual_encoders_scale() -> None:
    both = Calibration(title_score=0.85, multilingual_title_score=0.6)
    foreign = Evidence(0.4, 0.05, keyword=0.5, cross_lingual=True)
    expected = MODEL.cross_lingual.logit(foreign, 0.6)
    assert MODEL.confidence(foreign, both) == pytest.approx(1 / (1 + math.exp(-expected)))
    # Without the multilingual measurement (an English-only index) the English scale is all there is.
    assert Calibration(title_score=0.85).reading(cross_lingual=True) == (0.85, None)
