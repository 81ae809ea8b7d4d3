"""Query spelling against the KB's own words."""

from __future__ import annotations

import pytest

from indexer.analysis import word_counts
from indexer.spelling import SpellingCorrector

KB_TEXT = [
    "GlobalProtect VPN will not connect. Reset your password in Okta.",
    "The floor printer is offline: restart the printer, then print a test page.",
    "Submit the expense report; a rejected expense report shows the reason. Printer printer offline.",
    "Annual leave requests go to your manager.",
]


@pytest.fixture(scope="module")
def corrector() -> SpellingCorrector:
    return SpellingCorrector(word_counts(KB_TEXT))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("forgot my pasword", "forgot my password"),
        ("the printr is ofline", "the printer is offline"),
        ("expnse report rejectd", "expense report rejected"),
        ("globalprotct wont conect", "globalprotect wont connect"),
        ("Pasword", "password"),  # case does not hide a slip
    ],
)
def test_a_slip_becomes_the_kb_word_it_meant(corrector: SpellingCorrector, query: str, expected: str) -> None:
    assert corrector.correct(query) == expected


@pytest.mark.parametrize(
    "query",
    [
        "lease a bike",  # an English word is never "corrected" into a KB word (lease → leave)
        "okta vpn globalprotect",  # the KB's own words, even when no dictionary knows them
        "the wifi is down",  # too short to guess
        "jurry duty",  # nothing in the KB is near: left alone rather than guessed
        "2fa 42 ok",
    ],
)
def test_known_short_and_unmatched_words_are_left_alone(corrector: SpellingCorrector, query: str) -> None:
    assert corrector.correct(query) == query


def test_word_counts_are_lower_cased_letters_only() -> None:
    assert word_counts(["Printer printer 42 PRINTER-offline"]) == {"printer": 3, "offline": 1}


def test_names_and_other_languages_are_left_alone(corrector: SpellingCorrector) -> None:
    assert corrector.correct("Müller says the printr is down") == "Müller says the printer is down"
    assert corrector.correct("imprimante hors ligne oublié") == "imprimante hors ligne oublié"


def test_a_long_text_of_junk_looks_up_only_a_few_words(corrector: SpellingCorrector) -> None:
    junk = " ".join(f"zq{chr(97 + n % 26)}{chr(97 + n // 26)}xw" for n in range(200)) + " pasword"
    assert corrector.correct(junk).endswith("pasword")  # the budget ran out before the last word
    assert corrector.correct("pasword") == "password"
