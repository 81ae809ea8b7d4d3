"""Language detection of queries and articles, and the KB_LANGUAGES setting it detects among."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kb.language import DEFAULT_LANGUAGES, DetectedLanguage, LanguageDetector, article_language, shared_detector
from kb.settings import Settings

SENTENCES = {
    "pt": "Não consigo redefinir a minha senha do computador portátil",
    "pl": "Nie mogę zresetować hasła do mojego laptopa, drukarka nie działa",
    "fr": "Je ne peux pas réinitialiser le mot de passe de mon ordinateur portable",
    "en": "I cannot reset the password of my laptop because the portal keeps rejecting it",
}
FRENCH_ARTICLE = (
    "Votre ordinateur portable ne se connecte plus au réseau Wi-Fi du bureau. Redémarrez le routeur, puis oubliez "
    "le réseau dans les paramètres et reconnectez-vous avec votre mot de passe habituel. Si le problème persiste, "
    "ouvrez un ticket auprès du support informatique."
)
COMMAND_TABLE = """\
| cmd | args |
|---|---|
| ls -la | /tmp |
| kubectl get pods | -n prod |
"""


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return shared_detector()


@pytest.mark.parametrize("code", sorted(SENTENCES))
def test_a_clear_sentence_is_detected_in_its_language(detector: LanguageDetector, code: str) -> None:
    detected = detector.detect(SENTENCES[code])

    assert detected.code == code
    assert detected.sure
    assert detected.english == (code == "en")


def test_a_short_query_of_english_words_is_read_as_english(detector: LanguageDetector) -> None:
    detected = detector.detect("printer offline")

    assert detected.english
    assert detected.code == "en"
    assert 0.0 < detected.confidence <= 1.0


@pytest.mark.parametrize("text", ["", "   ", "1234 !!! --- 42", "#$%^ 2024-01-01"])
def test_a_text_without_letters_is_english_with_no_confidence(detector: LanguageDetector, text: str) -> None:
    detected = detector.detect(text)

    assert detected == DetectedLanguage("en", 0.0)
    assert detected.english
    assert not detected.sure


def test_a_detector_of_one_language_always_answers_it() -> None:
    assert LanguageDetector(("en",)).detect(SENTENCES["pt"]) == DetectedLanguage("en", 1.0)


def test_a_detector_chooses_only_among_its_languages() -> None:
    detected = LanguageDetector(("en", "pt")).detect(SENTENCES["pt"])
    assert detected.code == "pt"
    assert LanguageDetector(("en", "pt")).detect(SENTENCES["pl"]).code in ("en", "pt")


def test_the_shared_detector_is_one_per_set_of_languages() -> None:
    assert shared_detector().languages == DEFAULT_LANGUAGES
    assert shared_detector(("en", "pt")) is shared_detector(("en", "pt"))
    assert shared_detector(("en", "pt")) is not shared_detector()


def test_a_french_article_is_french() -> None:
    assert article_language(FRENCH_ARTICLE) == "fr"


@pytest.mark.parametrize("text", [COMMAND_TABLE, "xq zz 123", "Printer offline", "", "VPN"])
def test_a_command_table_or_short_junk_is_read_as_english(text: str) -> None:
    assert article_language(text) == "en"


# KB_LANGUAGES ---------------------------------------------------------------------------------------------------


def test_the_default_languages_include_english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KB_LANGUAGES", raising=False)
    assert Settings().languages == list(DEFAULT_LANGUAGES)
    assert "en" in DEFAULT_LANGUAGES


@pytest.mark.parametrize(("value", "expected"), [("en,pt", ["en", "pt"]), (" EN, pt ,, ", ["en", "pt"])])
def test_kb_languages_is_a_comma_separated_list(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]
) -> None:
    monkeypatch.setenv("KB_LANGUAGES", value)
    assert Settings().languages == expected


def test_kb_languages_may_be_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_LANGUAGES", '["en", "pl"]')
    assert Settings().languages == ["en", "pl"]


@pytest.mark.parametrize(
    ("value", "message"),
    [("en,xx", "xx"), ("en,portuguese", "portuguese"), ("pt,fr", "must include en"), ("", "must include en")],
)
def test_an_unknown_code_or_a_list_without_english_is_refused_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("KB_LANGUAGES", value)

    with pytest.raises(ValidationError, match=message) as refused:
        Settings()

    (error,) = refused.value.errors()
    assert error["loc"] == ("languages",)
    assert "languages" in str(refused.value)
