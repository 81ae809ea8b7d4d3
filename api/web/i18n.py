"""The portal's words in the reader's language: English, Portuguese (Brazil), Polish and French, from gettext
catalogs (`locales/<locale>/LC_MESSAGES/messages.po`) compiled in memory by Babel when first needed."""

from __future__ import annotations

import datetime as dt
import gettext
import io
from functools import lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES = ("en", "pt_BR", "pl", "fr")
DEFAULT = "en"
FOLDER = Path(__file__).parent / "locales"


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str) -> gettext.NullTranslations:
    """The catalog of `locale` (English is the source text: no catalog)."""
    path = FOLDER / locale / "LC_MESSAGES" / "messages.po"
    if locale == DEFAULT or not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def match(tag: str) -> str | None:
    """The shipped locale for a language tag ("pt-BR", "pt", "fr-CA", "pl_PL"), if any."""
    wanted = tag.strip().replace("-", "_").lower()
    if not wanted:
        return None
    for locale in LOCALES:
        if locale.lower() == wanted:
            return locale
    language = wanted.split("_")[0]
    return next((locale for locale in LOCALES if locale.split("_")[0].lower() == language), None)


def negotiate(accept_language: str) -> str:
    """The best shipped locale for an Accept-Language header, by its q-values; English when none fits."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, tag))
    for quality, _, tag in sorted(ranked):
        if quality < 0 and (found := match(tag)) is not None:
            return found
    return DEFAULT


def html_lang(locale: str) -> str:
    """The `lang` attribute for `locale` (BCP 47: pt-BR)."""
    return locale.replace("_", "-")


@lru_cache(maxsize=len(LOCALES))
def display_name(locale: str) -> str:
    """The language's own name for itself, for the language switcher."""
    name = Locale.parse(locale).get_display_name(locale) or locale
    return name[:1].upper() + name[1:]


def when(value: dt.datetime, pattern: str = "EEE d MMM HH:mm", *, locale: str, zone: bool = True) -> str:
    """An instant in the reader's language (day and month names), in UTC, which the text says."""
    text = format_datetime(value, pattern, tzinfo=dt.UTC, locale=locale)
    return f"{text} UTC" if zone else text
