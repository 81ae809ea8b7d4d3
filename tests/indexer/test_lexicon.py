"""English keywords for another language's words, read off the real multilingual encoder's word vectors."""

from __future__ import annotations

import pytest

from indexer.analysis import word_counts
from indexer.embedders.multilingual import UniversalSentenceEncoder
from indexer.lexicon import WordTranslator
from tests.fakes import Counting

pytestmark = pytest.mark.real_model

VOCABULARY = word_counts(
    [
        "Reset your password after an account lockout and log in again.",
        "The printer is offline: check the cable and the driver.",
        "The office fridge and the kitchen are cleaned on Fridays.",
        "A supplier invoice is paid within thirty days.",
    ]
)


@pytest.fixture(scope="module")
def use() -> UniversalSentenceEncoder:
    return UniversalSentenceEncoder()


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("nie działa drukarka", "pl", "printer"),
        ("esqueci minha senha", "pt", "password"),
        ("le frigo ne refroidit plus", "fr", "fridge"),
        ("faktura od dostawcy", "pl", "supplier"),
    ],
)
def test_a_word_in_another_language_is_given_the_kbs_english_word(
    use: UniversalSentenceEncoder, text: str, language: str, expected: str
) -> None:
    assert expected in WordTranslator(VOCABULARY, use).translate(text, language).translated


def test_a_word_the_kb_has_no_english_for_is_given_nothing(use: UniversalSentenceEncoder) -> None:
    translation = WordTranslator(VOCABULARY, use).translate("przepis na pierogi ruskie", "pl")
    assert translation.translated == [] and translation.english == ""


def test_stop_words_english_words_and_known_words_are_encoded_once_or_never(use: UniversalSentenceEncoder) -> None:
    encoder = Counting(use)
    translator = WordTranslator(VOCABULARY, encoder)
    first = translator.translate("la imprimante et le driver", "fr")
    assert first.translated == ["printer"]  # an English word of the KB ("driver") already meets English text
    assert first.english == "printer driver"  # the question in English words, in its order
    kb_words = len(encoder.encoded)
    assert encoder.encoded[-1:] == ["imprimante"]  # "la", "et", "le": stop words; "driver": the KB's own word
    assert translator.translate("imprimante", "fr").translated == ["printer"]
    assert len(encoder.encoded) == kb_words  # a word seen before is not encoded again


def test_the_words_seen_are_bounded(use: UniversalSentenceEncoder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("indexer.lexicon.WORD_CACHE", 2)
    encoder = Counting(use)
    translator = WordTranslator(VOCABULARY, encoder)
    for word in ("imprimante", "frigo", "senha", "imprimante"):
        translator.translate(word, "fr")
    assert encoder.encoded.count("imprimante") == 2  # forgotten once two other words were seen


def test_a_new_generations_translator_encodes_only_the_words_its_vocabulary_gained(
    use: UniversalSentenceEncoder,
) -> None:
    encoder = Counting(use)
    WordTranslator(VOCABULARY, encoder).translate("imprimante", "fr")
    grown = {**VOCABULARY, "keyboard": 1}
    encoder.encoded.clear()
    assert WordTranslator(grown, encoder).translate("clavier", "fr").translated == ["keyboard"]
    assert encoder.encoded == ["keyboard", "clavier"]
