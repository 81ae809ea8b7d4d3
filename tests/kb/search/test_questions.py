"""Which titles are stored questions (FAQ entries) for the answer decision."""

from __future__ import annotations

import pytest

from kb.search.questions import is_question


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("How do I link a cell in Google Spreadsheets to a cell in another document?", True),
        ("In Gmail, how can I find the oldest message from a person?", True),  # a question by its mark
        ("How to hide contacts from Hangouts within Gmail", True),  # by its opening word
        ("Como resetar minha senha", True),
        ("Comment trouver ma fiche de paie", True),
        ("Jak połączyć się z VPN", True),
        ("VPN drops every few minutes on hotel Wi-Fi", False),
        ("Strikethrough with GitHub Markdown", False),
        ("which", False),  # command names, not questions
        ("who", False),
        ("?", False),
        ("Is up?", False),
    ],
)
def test_stored_questions_are_titles_that_ask(title: str, expected: bool) -> None:
    assert is_question(title) is expected
