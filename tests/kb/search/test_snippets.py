"""The passage that answers: the sentences sharing most query terms, cut to length."""

from __future__ import annotations

from kb.search.snippets import best_passage, sentences

TEXT = (
    "Open the settings app. The printer on floor three is offline when its tray is empty. "
    "Refill the tray and press resume. Call the desk if it still fails."
)


def test_the_sentence_with_most_query_terms_starts_the_passage() -> None:
    passage, matched = best_passage(TEXT, "printer offline", max_chars=90)
    assert passage.startswith("The printer on floor three is offline")
    assert matched == ["offlin", "printer"]  # stemmed terms, sorted


def test_without_a_shared_term_the_section_opening_is_the_passage() -> None:
    passage, matched = best_passage(TEXT, "quokka", max_chars=40)
    assert passage.startswith("Open the settings app.")
    assert matched == []


def test_a_long_passage_is_cut_on_a_word_with_an_ellipsis() -> None:
    passage, _ = best_passage("word " * 100 + ".", "word", max_chars=50)
    assert len(passage) <= 50
    assert passage.endswith("…")


def test_empty_text_has_no_passage() -> None:
    assert best_passage("", "printer") == ("", [])
    assert sentences("One. Two!\nThree?") == ["One.", "Two!", "Three?"]
