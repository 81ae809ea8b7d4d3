"""The article as the domain sees it, independent of where it came from."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
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
    markdown: str = ""  # the text as written (front matter and body): what the store keeps and export writes back

    @property
    def searchable(self) -> bool:
        return self.status == "published"

    @property
    def group(self) -> str:
        """The original article's id: a translation and its original are one result in search."""
        return self.translation_of or self.id

    @cached_property  # computed once per parsed version: a publish re-hashes only what changed
    def content_hash(self) -> str:
        """Changes exactly when what is embedded changes (title and sections), not on metadata edits."""
        payload = json.dumps([self.title, [(s.heading, s.text) for s in self.sections]], ensure_ascii=False).encode(
            "utf-8"
        )
        return hashlib.sha256(payload).hexdigest()


def markdown_hash(markdown: str) -> str:
    """Identifies a version's text exactly: importing the same file twice saves nothing."""
    return hashlib.sha256(markdown.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StoredArticle:
    """An article as the store holds it: what listing, reading and the access checks read. The parsed fields are
    those of the version employees see (`published_version`) when there is one, else of the newest version;
    `status` is the newest version's workflow state. The written form is `Article`."""

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
    version: int = 0
    published_version: int | None = None
    author: str | None = None
    ticket_id: int | None = None
    origin: str | None = None

    @property
    def published(self) -> bool:
        """Employees see it: a version was published and the article is not archived (a newer draft of a
        published article leaves the published version in search until it is published in turn)."""
        return self.published_version is not None and self.status != "archived"

    @property
    def etag(self) -> str:
        """Changes with every saved version and every state change (a strong validator for If-Match)."""
        return f'"{self.id}.{self.version}.{self.status}"'

    def as_published(self) -> StoredArticle:
        """The article as its readers know it: the published version, as published (a newer draft, its number and
        its state are its writers' business)."""
        return replace(self, status="published", version=self.published_version or 0)


@dataclass(frozen=True)
class ArticleVersion:
    """One saved change: the whole Markdown, who saved it, when and why."""

    article_id: str
    number: int
    markdown: str
    author: str
    comment: str | None
    created_at: datetime


@dataclass(frozen=True)
class ArticleProblem:
    """Why one file could not be accepted, with where to look."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"
