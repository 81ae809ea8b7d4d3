"""Bodies and answers of the publishing endpoints: writing, reviewing and versioning articles."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kb.articles.model import ArticleVersion
from kb.publishing.service import Saved

ARTICLE_EXAMPLE = (
    "---\ntitle: Docking station shows no picture\nteam: it\ntags: [hardware]\n---\n\n"
    "## Symptoms\n\nThe monitors stay black when the laptop is docked.\n\n"
    "## Cause\n\nThe dock's firmware is older than the laptop's.\n\n"
    "## Resolution\n\n1. Undock.\n2. Run *Dock updater* from the Software Center.\n3. Dock again.\n"
)


class ArticleWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    markdown: str = Field(
        min_length=1,
        description="The whole article: YAML front matter (`title`, `team` required; no `status`) and sections "
        "(`## Resolution` required).",
        examples=[ARTICLE_EXAMPLE],
    )
    comment: str | None = Field(None, max_length=1000, description="What changed, for the version history.")


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: Literal["draft", "review", "published", "archived"] = Field(
        description="draft → review → published → archived; review → draft sends it back; archived → draft revives."
    )
    comment: str | None = Field(None, max_length=1000, description="Why, for the audit log and the author.")


class DuplicateOut(BaseModel):
    article_id: str
    title: str
    similarity: float = Field(description="Cosine of the nearest passages, 0 to 1: above about 0.7, update that one.")


class ArticleWork(BaseModel):
    """An article as its writers see it: workflow state, versions and the newest version's text."""

    id: str
    title: str
    team: str | None
    status: str = Field(description="The newest version's state: draft, review, published or archived.")
    version: int = Field(description="The newest version's number.")
    published_version: int | None = Field(description="The version employees see (null: none).")
    author: str | None = Field(description="Who saved the newest version.")
    ticket_id: int | None = Field(description="The resolved ticket it was drafted from.")
    etag: str = Field(description="Send it back in `If-Match` to change this version.")
    markdown: str = Field(description="The newest version's whole text.")
    duplicates: list[DuplicateOut] = Field(
        description="On create and on submitting for review: the published articles most like this one."
    )
    url: str

    @classmethod
    def of(cls, saved: Saved) -> ArticleWork:
        article = saved.article
        return cls(
            id=article.id,
            title=article.title,
            team=article.team,
            status=article.status,
            version=article.version,
            published_version=article.published_version,
            author=article.author,
            ticket_id=article.ticket_id,
            etag=article.etag,
            markdown=saved.markdown,
            duplicates=[DuplicateOut(**vars(d)) for d in saved.duplicates],
            url=f"/v1/articles/{article.id}",
        )


class VersionSummary(BaseModel):
    number: int
    author: str
    comment: str | None
    created_at: datetime

    @classmethod
    def of(cls, version: ArticleVersion) -> VersionSummary:
        return cls(number=version.number, author=version.author, comment=version.comment, created_at=version.created_at)


class VersionOut(VersionSummary):
    markdown: str

    @classmethod
    def of(cls, version: ArticleVersion) -> VersionOut:
        return cls(**VersionSummary.of(version).model_dump(), markdown=version.markdown)


class DiffOut(BaseModel):
    from_version: int
    to_version: int
    diff: str = Field(description="Unified diff of the two versions' Markdown (empty when they are the same).")
