"""Translations and languages in front matter: `translation_of` ties a translation to its original, and an article
that does not declare its language is read for it."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.articles import Article, ArticleProblem, load_articles, parse_article
from kb.indexing import to_document

pytestmark = pytest.mark.both_stores

# Line numbers are part of the test: keep the layout of these texts exactly as written.
TRANSLATION = """\
---
id: imprimante-hors-ligne
title: L'imprimante de l'étage est hors ligne
team: IT
language: fr
translation_of: Printer Offline Floor Printer
---
## Résolution
Redémarrez l'imprimante, puis supprimez les travaux bloqués dans la file d'attente.
"""

SELF_TRANSLATION = """\
---
id: printer-offline
title: Printer offline
team: IT
translation_of: Printer Offline
---
## Resolution
Restart the printer.
"""

UNDECLARED_FRENCH = """\
---
id: wifi-bureau
title: Le portable ne se connecte plus au Wi-Fi du bureau
team: IT
---
## Symptômes
Votre ordinateur portable ne se connecte plus au réseau sans fil du bureau, alors que les autres appareils
fonctionnent normalement.

## Résolution
Redémarrez le routeur, puis oubliez le réseau dans les paramètres et reconnectez-vous avec votre mot de passe
habituel. Si le problème persiste, ouvrez un ticket auprès du support informatique.
"""

UNDECLARED_ENGLISH = """\
---
id: vpn-hotel
title: VPN drops on hotel Wi-Fi
team: IT
---
## Resolution
Open any web page to accept the hotel's captive portal, then reconnect the VPN client.
"""


def _article(raw: str, source: str = "test.md") -> Article:
    parsed = parse_article(raw, source=source)
    assert isinstance(parsed, Article), parsed
    return parsed


def test_translation_of_is_parsed_as_a_slug() -> None:
    article = _article(TRANSLATION)

    assert article.translation_of == "printer-offline-floor-printer"
    assert article.group == "printer-offline-floor-printer"
    assert article.language == "fr"
    assert article.front_matter["translation_of"] == "Printer Offline Floor Printer"  # as written


def test_an_original_is_its_own_group() -> None:
    article = _article(UNDECLARED_ENGLISH)

    assert article.translation_of is None
    assert article.group == "vpn-hotel"


def test_a_blank_translation_of_means_none() -> None:
    article = _article(TRANSLATION.replace("translation_of: Printer Offline Floor Printer", "translation_of:"))

    assert article.translation_of is None
    assert article.group == "imprimante-hors-ligne"


def test_translation_of_is_a_known_front_matter_key(tmp_path: Path) -> None:
    (tmp_path / "imprimante-hors-ligne.md").write_text(TRANSLATION, encoding="utf-8")

    loaded = load_articles(tmp_path)

    assert loaded.problems == []
    assert [a.translation_of for a in loaded.articles] == ["printer-offline-floor-printer"]


def test_an_article_that_translates_itself_is_a_problem_on_the_key_line() -> None:
    problem = parse_article(SELF_TRANSLATION, source="printer-offline.md")

    assert isinstance(problem, ArticleProblem)
    assert problem.path == "printer-offline.md"
    assert problem.line == 5  # "translation_of: Printer Offline"
    assert "translation of itself" in problem.message
    assert str(problem).startswith("printer-offline.md:5")


def test_an_article_that_translates_itself_is_reported_by_the_folder_load(tmp_path: Path) -> None:
    (tmp_path / "printer-offline.md").write_text(SELF_TRANSLATION, encoding="utf-8")

    loaded = load_articles(tmp_path)

    assert loaded.articles == []
    assert [(p.path, p.line) for p in loaded.problems] == [("printer-offline.md", 5)]


def test_an_article_without_a_language_in_french_gets_fr() -> None:
    article = _article(UNDECLARED_FRENCH)

    assert article.language == "fr"
    assert "language" not in article.front_matter


def test_an_article_without_a_language_in_english_gets_en() -> None:
    assert _article(UNDECLARED_ENGLISH).language == "en"


def test_a_declared_language_wins_over_detection() -> None:
    declared = UNDECLARED_FRENCH.replace("team: IT\n", "team: IT\nlanguage: EN\n")

    assert _article(declared).language == "en"


def test_the_indexed_document_carries_language_and_translation() -> None:
    document = to_document(_article(TRANSLATION))

    assert document.language == "fr"
    assert document.meta["language"] == "fr"
    assert document.meta["translation_of"] == "printer-offline-floor-printer"
    assert "translation_of" not in to_document(_article(UNDECLARED_ENGLISH)).meta
