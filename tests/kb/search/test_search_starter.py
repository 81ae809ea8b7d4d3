"""The starter KB answers real employee questions phrased unlike any title."""

from __future__ import annotations

import pytest

from kb.service import KnowledgeBase

# Rankings and answers over the starter KB are MiniLM's.
pytestmark = [pytest.mark.real_model, pytest.mark.both_stores]

QUESTIONS = {
    "my vpn keeps dropping every few minutes when I'm on hotel wifi": "vpn-drops-on-public-wifi",
    "I forgot my password and now my account is locked": "password-reset-account-lockout",
    "the printer on my floor says it is offline": "printer-offline-floor-printer",
    "my badge doesn't open the office door anymore": "badge-not-opening-doors",
    "how do I get reimbursed for a taxi I paid myself": "reimburse-out-of-pocket-expenses",
    "I need to take a few days off next month, how do I ask": "request-annual-leave",
}


@pytest.mark.parametrize(("question", "expected"), QUESTIONS.items())
def test_question_answered_with_right_article_in_top_3(starter_kb: KnowledgeBase, question: str, expected: str) -> None:
    outcome = starter_kb.search.find(question, limit=3)
    assert expected in [hit.article_id for hit in outcome.hits]
    assert outcome.answered
    assert outcome.ticket is None


@pytest.mark.parametrize(
    "nonsense", ["purple elephant banana recipe", "asdkjh qwe zzzz", "who won the football world cup in 1998"]
)
def test_off_topic_question_gets_no_answer_and_a_ticket_offer(starter_kb: KnowledgeBase, nonsense: str) -> None:
    outcome = starter_kb.search.find(nonsense)
    assert not outcome.answered
    assert outcome.ticket is not None
    assert outcome.ticket.suggested_team in starter_kb.teams.directory.names()
    assert outcome.ticket.subject == nonsense
    assert nonsense in outcome.ticket.description


@pytest.mark.parametrize(
    ("misspelt", "right"),
    [
        ("forgot my pasword", "forgot my password"),
        ("the printr is ofline", "the printer is offline"),
        ("my expnse report was rejectd", "my expense report was rejected"),
    ],
)
def test_a_one_letter_slip_finds_what_the_right_spelling_finds(
    starter_kb: KnowledgeBase, misspelt: str, right: str
) -> None:
    slipped = starter_kb.search.find(misspelt, limit=3, record=False)
    spelled = starter_kb.search.find(right, limit=3, record=False)
    assert slipped.corrected_query == right
    assert [h.article_id for h in slipped.hits] == [h.article_id for h in spelled.hits]
    assert slipped.query == misspelt  # the employee's own words stay the query (ticket subject, search log)


def test_the_offline_printer_outranks_the_paper_jam_for_a_misspelt_question(starter_kb: KnowledgeBase) -> None:
    outcome = starter_kb.search.find("the printr is ofline", limit=3, record=False)
    assert outcome.hits[0].article_id == "printer-offline-floor-printer"
