"""The answer decision: more evidence, more confidence, on the scale of the KB's own calibration."""

from __future__ import annotations

import math

import pytest

from kb.search.confidence import CALIBRATION_VERSION, MIN_SPAN, Calibration, ConfidenceModel, Evidence, Scale

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


def test_the_same_evidence_is_less_convincing_where_uncovered_questions_score_higher() -> None:
    # Overlapping neighbours (pages of one product) lift what a question the KB does not answer reaches.
    evidence = Evidence(0.6, 0.05)
    apart = Calibration(title_score=0.8, title_uncovered=0.45)
    overlapping = Calibration(title_score=0.8, title_uncovered=0.6)
    assert MODEL.confidence(evidence, apart) > MODEL.confidence(evidence, overlapping)


def test_the_span_read_in_units_never_narrows_to_noise() -> None:
    scale = Calibration(title_score=0.62, title_uncovered=0.6).reading(cross_lingual=False)
    assert scale.span == MIN_SPAN
    assert scale.units(0.7) == pytest.approx(1.0)


def test_a_stored_question_is_judged_against_the_uncovered_score() -> None:
    faq = Calibration(question_uncovered=0.8, questions=20, question_share=0.9)
    assert faq.faq
    assert MODEL.confidence(Evidence(0.8, 0.0, stored_question=True), faq) == pytest.approx(0.5)
    assert MODEL.confidence(Evidence(0.9, 0.0, stored_question=True), faq) == pytest.approx(0.9526, abs=1e-4)


def test_a_stored_calibration_is_read_back_and_an_outdated_one_is_not() -> None:
    stored = {"version": CALIBRATION_VERSION, "title_score": 0.82, "samples": 40, "title_uncovered": 0.47}
    assert Calibration.of(stored) == Calibration(0.82, 40, 0.47)
    assert Calibration.of({**stored, "version": "old"}) is None
    assert Calibration.of(None) is None


def test_a_question_in_another_language_is_read_on_the_multilingual_encoders_scale() -> None:
    both = Calibration(title_score=0.85, multilingual_title_score=0.6)
    foreign = Evidence(0.4, 0.05, keyword=0.5, cross_lingual=True)
    # Read from zero: hidden English titles do not say where a foreign question the KB does not answer scores.
    expected = MODEL.cross_lingual.logit(foreign, Scale(covered=0.6, uncovered=0.0))
    assert MODEL.confidence(foreign, both) == pytest.approx(1 / (1 + math.exp(-expected)))
    # Without the multilingual measurement (an English-only index) the English scale is all there is.
    english = Calibration(title_score=0.85)
    assert english.reading(cross_lingual=True) == english.reading(cross_lingual=False)
