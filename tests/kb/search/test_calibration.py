"""The answer decision is calibrated on the KB it serves: measured at index time, stored with the generation,
measured again whenever the KB changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from indexer.generation import current_generation
from kb.search.confidence import ConfidenceModel, Evidence
from kb.service import KnowledgeBase
from kb.settings import Settings
from tests.conftest import STARTER_ARTICLES
from tests.fakes import HashingEmbedder

# The fitted answer threshold depends on the real model's scores.
pytestmark = [pytest.mark.real_model, pytest.mark.both_stores]

OFF_TOPIC = [
    ("Sourdough starter feeding schedule", "Feed the starter twice a day with equal weights of flour and water."),
    ("Tomato sauce for pasta", "Simmer crushed tomatoes with garlic and olive oil for twenty minutes."),
    ("Choosing running shoes", "Pick shoes by your gait and replace them every 800 kilometres."),
    ("Repotting a monstera", "Move it to a pot one size larger in spring and water lightly."),
    ("Chess openings for beginners", "Learn the Italian game and the Queen's gambit before anything else."),
    ("Brewing pour-over coffee", "Use a 1:16 ratio and water just off the boil, poured in slow circles."),
    ("Training a puppy to sit", "Reward the puppy with a treat the moment it sits, in short sessions."),
    ("Knitting a scarf", "Cast on forty stitches and knit every row in garter stitch."),
    ("Planning a hiking trip", "Check the weather, pack water and tell someone your route."),
    ("Baking chocolate chip cookies", "Chill the dough for a day before baking at 180 degrees."),
]


def _stored_calibration(kb: KnowledgeBase) -> dict[str, object]:
    generation = current_generation(kb.settings.index_dir)
    assert generation is not None
    meta = json.loads((generation / "meta.json").read_text(encoding="utf-8"))
    calibration: dict[str, object] = meta["calibration"]
    return calibration


def test_the_calibration_is_stored_with_the_generation_and_refitted_when_the_kb_changes(
    indexed_small_kb: KnowledgeBase, small_articles: Path
) -> None:
    kb = indexed_small_kb
    before = _stored_calibration(kb)
    assert before["samples"] == 4 and 0 < float(before["title_score"]) <= 1  # type: ignore[arg-type]
    assert kb.indexing.searcher().calibration.title_score == before["title_score"]
    borderline = Evidence(top_dense=0.42, margin=0.03, keyword=0.2)  # a question the decision could go either way on
    calibration_before = kb.indexing.searcher().calibration

    for number, (title, text) in enumerate(OFF_TOPIC):
        body = f"---\nid: hobby-{number}\ntitle: {title}\nteam: HR\n---\n\n## Resolution\n{text}\n"
        (small_articles / f"hobby-{number}.md").write_text(body, encoding="utf-8")
    kb.indexing.build()

    after = _stored_calibration(kb)
    assert after["samples"] == 14
    assert after["title_score"] != before["title_score"]
    assert kb.indexing.searcher().calibration.title_score == after["title_score"]
    model = ConfidenceModel()  # the decision on the same evidence moved with the KB
    assert model.confidence(borderline, kb.indexing.searcher().calibration) != model.confidence(
        borderline, calibration_before
    )


def test_an_unchanged_kb_keeps_its_generation_and_calibration(indexed_small_kb: KnowledgeBase) -> None:
    kb = indexed_small_kb
    generation = kb.indexing.searcher().index.generation
    report = kb.indexing.build()
    assert not report.build.changed
    assert kb.indexing.searcher().index.generation == generation


def test_an_index_from_before_calibration_is_measured_at_load_and_again_at_the_next_build(
    indexed_small_kb: KnowledgeBase,
) -> None:
    kb = indexed_small_kb
    generation = current_generation(kb.settings.index_dir)
    assert generation is not None
    meta_file = generation / "meta.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    stored = meta.pop("calibration")
    meta_file.write_text(json.dumps(meta), encoding="utf-8")  # as an older kb wrote it

    fresh = KnowledgeBase(kb.settings, embedder=kb.indexing.embedder)
    try:
        # Measured on load, the same figure.
        assert fresh.indexing.searcher().calibration.title_score == stored["title_score"]
        report = fresh.indexing.build()
        assert report.build.changed  # the build writes a calibrated generation even though no article changed
        assert _stored_calibration(fresh)["title_score"] == stored["title_score"]
    finally:
        fresh.close()


def test_a_lone_article_is_not_a_confident_answer_to_everything(small_kb: KnowledgeBase, small_articles: Path) -> None:
    """With one article in sight, nothing says it stands out: an unrelated question gets no answer."""
    for path in small_articles.glob("*.md"):
        if path.stem != "printer-offline-floor-printer":
            path.unlink()
    small_kb.indexing.build()
    assert small_kb.search.find("the printer on my floor says it is offline", record=False).answered
    for unrelated in ("how do I get a parking permit", "my payslip shows the wrong bank account"):
        assert not small_kb.search.find(unrelated, record=False).answered


FAQ = [
    ("How do I reset my password?", "Open the self-service portal and choose Forgot password."),
    ("How can I get a new badge?", "Ask Facilities at the front desk with your ID."),
    ("Where do I find my payslip?", "Payslips are in the HR portal under Documents."),
    ("Can I work from another country?", "Up to 20 days a year, after telling HR two weeks ahead."),
    ("Why is my laptop so slow?", "Restart it and let the updates finish overnight."),
    ("What is the guest Wi-Fi password?", "It changes weekly and is shown at reception."),
    ("How do I book a meeting room?", "Use the room calendar in the mail client."),
    ("Who approves my expenses?", "Your manager, then Finance for anything above 500 euros."),
    ("When are salaries paid?", "On the 25th, or the working day before it."),
    ("How do I request a second monitor?", "Open a ticket with IT; it arrives within a week."),
    ("Is there parking for bicycles?", "Yes, in the basement, with a badge."),
    ("Can I expense a phone?", "Only with your manager's written approval."),
]


def _faq_kb(tmp_path: Path, restricted: int = 0) -> KnowledgeBase:
    folder = tmp_path / "faq"
    folder.mkdir()
    (folder / "teams.yaml").write_text((STARTER_ARTICLES / "teams.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    for number, (title, text) in enumerate(FAQ):
        audience = "audience: [hr]\n" if number < restricted else ""
        body = f"---\nid: faq-{number}\ntitle: {title}\nteam: HR\n{audience}---\n\n## Resolution\n{text}\n"
        (folder / f"faq-{number}.md").write_text(body, encoding="utf-8")
    kb = KnowledgeBase(Settings(data_dir=tmp_path / "data", articles_dir=folder), embedder=HashingEmbedder())
    kb.indexing.build()
    return kb


def test_a_kb_of_stored_questions_measures_where_its_uncovered_questions_score(tmp_path: Path) -> None:
    kb = _faq_kb(tmp_path)
    try:
        stored = _stored_calibration(kb)
        calibration = kb.indexing.searcher().calibration
    finally:
        kb.close()
    assert stored["questions"] == len(FAQ) and stored["question_share"] == 1.0
    uncovered = calibration.question_uncovered
    assert uncovered is not None and 0 < uncovered < 1
    assert calibration.faq
    # The bar is where this KB's uncovered questions score: above it an answer, below it a ticket, whatever the
    # other evidence (an entry whose title is no question is an FAQ entry all the same in such a KB).
    model = ConfidenceModel()
    above = Evidence(top_dense=uncovered + 0.05, margin=0.0, keyword=0.0, stored_question=False)
    below = Evidence(top_dense=uncovered - 0.05, margin=0.3, keyword=1.0, stored_question=True)
    assert model.confidence(above, calibration) > 0.5 > model.confidence(below, calibration)


def test_documents_and_restricted_questions_do_not_make_an_faq(indexed_small_kb: KnowledgeBase, tmp_path: Path) -> None:
    documents = indexed_small_kb.indexing.searcher().calibration
    assert documents.question_uncovered is None and not documents.faq
    # Questions only some may read do not shape everyone's decision: 4 of 12 restricted leave 8, too few to measure.
    kb = _faq_kb(tmp_path, restricted=4)
    try:
        stored = _stored_calibration(kb)
    finally:
        kb.close()
    assert stored["questions"] == 8
    assert stored["question_uncovered"] is None


def test_a_question_that_lands_among_stored_questions_is_held_to_their_bar(tmp_path: Path) -> None:
    """In a KB that mixes documents with FAQ entries, documentation that happens to rank first does not lower the bar
    for a question whose nearest articles are stored questions."""
    kb = _faq_kb(tmp_path)
    doc = "---\nid: printer-guide\ntitle: Printer guide\nteam: IT\n---\n\n## Resolution\nPower cycle the printer.\n"
    (kb.settings.articles_dir / "printer-guide.md").write_text(doc, encoding="utf-8")
    try:
        kb.indexing.build()
        retrieval = kb.indexing.searcher().retrieve("Printer guide. Resolution. Power cycle the printer.")
    finally:
        kb.close()
    assert retrieval.ranked[0][0] == "printer-guide"
    assert retrieval.evidence.stored_question
