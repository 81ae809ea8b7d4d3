"""Text analysis per language: each language's stop words and Snowball stemmer, English as before."""

from __future__ import annotations

import pytest

from indexer.analysis import ENGLISH, analyze, analyzer, without_stopwords


def test_english_terms_are_unchanged() -> None:
    assert analyze("the printer is offline") == ["printer", "offlin"]
    assert analyze("the printer is offline", "en") == ["printer", "offlin"]
    assert analyze("The printers are OFFLINE") == ["printer", "offlin"]
    assert ENGLISH == "en"


@pytest.mark.parametrize(
    ("language", "plural", "singular"),
    [
        ("pt", "senhas", "senha"),
        ("fr", "imprimantes", "imprimante"),
        ("pl", "drukarki", "drukarka"),
        ("pl", "hasła", "hasło"),
        ("es", "impresoras", "impresora"),
        ("de", "Druckern", "Drucker"),
    ],
)
def test_inflections_of_a_word_share_their_stem(language: str, plural: str, singular: str) -> None:
    (plural_stem,) = analyze(plural, language)
    (singular_stem,) = analyze(singular, language)
    assert plural_stem == singular_stem


def test_stemming_follows_the_language_asked_for() -> None:
    # English's stemmer keeps the Portuguese word's final "a"; Portuguese's removes it.
    assert analyze("senhas", "en") == analyze("senha", "en") == ["senha"]
    assert analyze("senhas", "pt") == analyze("senha", "pt") == ["senh"]
    assert analyze("imprimante", "en") != analyze("imprimante", "fr")


def test_portuguese_stop_words_are_removed() -> None:
    terms = analyze("Eu não consigo redefinir as minhas senhas", "pt")
    assert terms == analyze("consigo redefinir senhas", "pt")
    assert len(terms) == 3
    assert "não" not in terms and "eu" not in terms


def test_french_stop_words_are_removed_and_elisions_dropped() -> None:
    assert analyze("Les imprimantes du bureau", "fr") == analyze("imprimantes bureau", "fr")
    assert analyze("L'imprimante est hors ligne", "fr") == analyze("imprimante ligne", "fr")


def test_polish_is_stemmed_without_its_stop_words() -> None:
    terms = analyze("Drukarka nie drukuje, a drukarki na piętrze", "pl")
    assert "nie" not in terms and "na" not in terms
    assert terms.count(analyze("drukarka", "pl")[0]) == 2  # both forms of "printer" are one term
    assert analyze("drukarka", "pl") != ["drukarka"]  # stemmed, not passed through


def test_one_languages_stop_words_are_terms_in_another() -> None:
    # "die" is a German article but an English word; English keeps it as a term.
    assert analyze("die", "de") == []
    assert analyze("die", "en") == ["die"]


@pytest.mark.parametrize("code", ["xx", "ja", "zz-top", ""])
def test_an_unknown_language_is_lower_cased_and_tokenised_without_stemming(code: str) -> None:
    assert analyze("The Printers are OFFLINE, 42 times", code) == ["the", "printers", "are", "offline", "42", "times"]


def test_an_empty_text_has_no_terms_in_any_language() -> None:
    for code in ("en", "pt", "pl", "fr", "xx"):
        assert analyze("", code) == []
        assert analyze("   ...   ", code) == []


def test_the_analyser_of_a_language_is_built_once() -> None:
    assert analyzer("pt") is analyzer("pt")
    assert analyzer("pt") is not analyzer("fr")
    assert analyzer("pt").language == "pt"
    assert analyzer().language == ENGLISH


def test_a_query_read_in_english_loses_its_own_languages_stop_words_first() -> None:
    assert without_stopwords("où trouver ma fiche de paie", "fr") == "trouver fiche paie"
    assert without_stopwords("nie mogę się zalogować do VPN", "pl") == "mogę zalogować vpn"
