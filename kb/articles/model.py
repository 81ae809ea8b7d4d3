"""The article as the domain sees it, independent of where it came from."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

STATUSES = ("draft", "review", "published", "archived")
# Every front matter key kb reads. Any other is reported: a misspelt `audience` would otherwise publish a
# restricted article to everyone without a word.
FRONT_MATTER_KEYS = (
    "id",
    "title",
    "team",
    "tags",
    "audience",
    "language",
    "translation_of",
    "status",
    "updated",
    "source_ticket",
)


@dataclass(frozen=True)
class Section:
    """A heading and its plain text: the unit of retrieval and of the answer shown."""

    heading: str
    text: str
    line: int


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    body: str
    sections: tuple[Section, ...]
    team: str | None = None
    tags: tuple[str, ...] = ()
    audience: tuple[str, ...] = ()
    language: str = "en"
    status: str = "published"
    updated: str | None = None
    source: str = ""
    front_matter: dict[str, Any] = field(default_factory=dict)
    translation_of: str | None = None  # the id of the article this one translates: they are one search result

    @property
    def searchable(self) -> bool:
        return self.status == "published"

    @property
    def group(self) -> str:
        """The original article's id: a translation and its original are one result in search."""
        return self.translation_of or self.id

    @property
    def content_hash(self) -> str:
        """Changes exactly when what is embedded changes (title and sections), not on metadata edits."""
        payload = json.dumps([self.title, [(s.heading, s.text) for s in self.sections]], ensure_ascii=False).encode(
            "utf-8"
        )
        return hashlib.sha256(payload).hexdigest()


@dataclass(frozen=True)
class StoredArticle:
    """An article as the store mirrors it after indexing (drafts included): what listing, reading and the access
    checks read. The written form is `Article`; this is the read form, with when it was last mirrored."""

    id: str
    title: str
    team: str | None
    tags: tuple[str, ...]
    audience: tuple[str, ...]
    language: str
    status: str
    updated: str | None
    source: str
    body: str
    front_matter: dict[str, Any]
    content_hash: str
    synced_at: datetime

    @property
    def published(self) -> bool:
        return self.status == "published"


@dataclass(frozen=True)
class ArticleProblem:
    """Why one file could not be accepted, with where to look."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"
