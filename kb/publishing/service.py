"""`kb.publishing`: articles written, reviewed, published, versioned and archived in the store.

The rules: agents of the owning team (and admins) write; publishing needs a reviewer other than the newest
version's author (an admin may publish their own, and the audit log says so); only published articles reach
employees; every saved change is a version, and a write over a version that is no longer the newest is refused.
After every change that employees would see, the live index is brought up to date (`on_change`)."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, get_args

from kb.access import Principal, can_read_article, can_write_article
from kb.articles import Article, LoadResult, parse_article
from kb.articles.model import ArticleVersion, StoredArticle
from kb.errors import Conflict, Forbidden, InvalidInput, NotFound, PreconditionFailed
from kb.publishing.files import export_markdown
from kb.publishing.validation import validate_markdown
from kb.store.articles import ArticleRepository, ImportReport, Write
from kb.store.audit import AuditRepository
from kb.teams import TeamDirectory

log = logging.getLogger(__name__)

State = Literal["draft", "review", "published", "archived"]
STATES: tuple[State, ...] = get_args(State)
# Where each state may go. A published article that is edited goes back to draft while its published version
# stays in search; an archived one is revived as a draft, to be reviewed again.
TRANSITIONS: dict[str, tuple[State, ...]] = {
    "draft": ("review", "archived"),
    "review": ("draft", "published", "archived"),
    "published": ("archived",),
    "archived": ("draft",),
}

# (text, how many, reader, the article being written) -> (id, title, similarity) nearest first
SimilarArticles = Callable[[str, int, Principal, str | None], list[tuple[str, str, float]]]


@dataclass(frozen=True)
class Duplicate:
    article_id: str
    title: str
    similarity: float


@dataclass(frozen=True)
class Saved:
    """An article after a write with its newest version's Markdown, and the published articles most like it (for
    create and submit to review)."""

    article: StoredArticle
    markdown: str
    duplicates: tuple[Duplicate, ...] = ()


class PublishingService:
    def __init__(
        self,
        articles: ArticleRepository,
        teams: TeamDirectory,
        audit: AuditRepository,
        *,
        on_change: Callable[[], object],
        similar: SimilarArticles,
        max_bytes: int,
    ) -> None:
        self._articles = articles
        self._teams = teams
        self._audit = audit
        self._on_change = on_change
        self._similar = similar
        self._max_bytes = max_bytes

    # Writing ----------------------------------------------------------------------------------------------
    def create(
        self, markdown: str, author: Principal, *, ticket_id: int | None = None, comment: str | None = None
    ) -> Saved:
        """A new draft (version 1) owned by the team its front matter names, which must be one of the author's."""
        article = validate_markdown(markdown, self._teams, max_bytes=self._max_bytes)
        self._check_writer(author, article.team)
        saved = self._articles.create(
            Write(article, author.name, "draft", comment=comment or "created", ticket_id=ticket_id)
        )
        self._audit.add(actor=author.name, action="article.create", target=article.id, origin=author.origin)
        return Saved(saved, article.markdown, self._duplicates(article, author))

    def update(
        self, article_id: str, markdown: str, author: Principal, if_match: frozenset[str], comment: str | None = None
    ) -> Saved:
        """A new version of the article's text. Employees keep the published version until this one is published:
        editing a published article makes it a draft again (and puts it back through review)."""
        return self._save_text(self._writable(article_id, author, if_match), markdown, author, comment)

    def transition(
        self, article_id: str, to: str, actor: Principal, if_match: frozenset[str] | None, comment: str | None = None
    ) -> Saved:
        """Move the article through its workflow (TRANSITIONS). Publishing makes the newest version the one
        employees see and needs a reviewer other than its author; archiving takes it out of search."""
        if to not in STATES:
            raise InvalidInput(f"unknown state {to!r}; expected one of {', '.join(STATES)}", field="to")
        current = self._writable(article_id, actor, if_match)
        allowed = TRANSITIONS[current.status]
        if to not in allowed:
            raise Conflict(
                f"an article in {current.status} cannot go to {to}; it may go to {', '.join(allowed)}", field="to"
            )
        newest = self._version_or_fail(article_id, current.version)
        shown: Article | None = None
        published_version = current.published_version
        if current.status == "archived":
            # Revived, it is a draft again: nothing of it is shown until it is published anew, and the row reads
            # as its newest text (its team decides who writes it).
            shown, published_version = self._parsed(newest), None
        action = f"article.{to}"
        if to == "published":
            if current.author == actor.name:
                if actor.role != "admin":
                    raise Forbidden(
                        "publishing needs a reviewer other than the last author: ask someone in the team", field="to"
                    )
                action = "article.published.self_review_override"
            shown = self._parsed(newest)
            published_version = current.version
        saved = self._articles.change_state(article_id, current.version, current.status, to, shown, published_version)
        self._audit.add(
            actor=actor.name,
            action=action,
            target=article_id,
            origin=actor.origin,
            version=current.version,
            comment=comment or "",
        )
        if to == "published" or (to == "archived" and current.published):
            self._index_changed()
        duplicates = self._duplicates(self._parsed(newest), actor) if to == "review" else ()
        return Saved(saved, newest.markdown, duplicates)

    def restore(
        self, article_id: str, number: int, actor: Principal, if_match: frozenset[str], comment: str | None = None
    ) -> Saved:
        """Version `number`'s text saved as a new version (history is never rewritten)."""
        current = self._writable(article_id, actor, if_match)
        old = self._version_or_fail(article_id, number)
        return self._save_text(current, old.markdown, actor, comment or f"restored version {number}")

    def _save_text(self, current: StoredArticle, markdown: str, author: Principal, comment: str | None) -> Saved:
        if current.status == "archived":
            raise Conflict("an archived article is not edited: revive it first (transition to draft)", field="status")
        article = validate_markdown(markdown, self._teams, max_bytes=self._max_bytes, article_id=current.id)
        self._check_writer(author, article.team)  # also the team it moves to
        status = "draft" if current.status == "published" else current.status
        saved = self._articles.save(Write(article, author.name, status, comment=comment), current.version)
        self._audit.add(
            actor=author.name, action="article.update", target=current.id, origin=author.origin, version=saved.version
        )
        return Saved(saved, article.markdown)

    def delete(self, article_id: str, actor: Principal, if_match: frozenset[str] | None) -> None:
        """Gone for good, history included (archive keeps it): admins only."""
        if actor.role != "admin":
            raise Forbidden("only admins delete articles; archive it to take it out of search", field="article_id")
        current = self._writable(article_id, actor, if_match)
        self._articles.delete(article_id)
        self._audit.add(actor=actor.name, action="article.delete", target=article_id, origin=actor.origin)
        if current.published:
            self._index_changed()

    # Reading ----------------------------------------------------------------------------------------------
    def get(self, article_id: str, reader: Principal) -> StoredArticle:
        """Any state for those who write it (agents of its team, admins); for its readers, the published version
        as published (a newer draft, its number and its state are the writers' business)."""
        found = self._articles.get(article_id)
        if found is not None and can_write_article(reader, found.team):
            return found
        if found is None or not found.published or not can_read_article(reader, found.audience):
            raise NotFound(f"no article {article_id!r}", field="article_id")
        return found.as_published()

    def newest(self, article_id: str, reader: Principal) -> Saved:
        """The article with its newest version's text, for those who write it."""
        current = self._writable(article_id, reader, None)
        return Saved(current, self._version_or_fail(article_id, current.version).markdown)

    def versions(self, article_id: str, reader: Principal) -> list[ArticleVersion]:
        self._writable(article_id, reader, None)
        return self._articles.versions(article_id)

    def version(self, article_id: str, number: int, reader: Principal) -> ArticleVersion:
        self._writable(article_id, reader, None)
        return self._version_or_fail(article_id, number)

    def diff(self, article_id: str, old: int, new: int, reader: Principal) -> str:
        """A unified diff of version `old`'s Markdown against version `new`'s."""
        self._writable(article_id, reader, None)
        before, after = self._version_or_fail(article_id, old), self._version_or_fail(article_id, new)
        return "".join(
            difflib.unified_diff(
                before.markdown.splitlines(keepends=True),
                after.markdown.splitlines(keepends=True),
                fromfile=f"{article_id}@{old}",
                tofile=f"{article_id}@{new}",
            )
        )

    def queue(self, status: str, reader: Principal) -> list[StoredArticle]:
        """Articles in `status` (review: the review queue) of the teams `reader` writes for."""
        if status not in STATES:
            raise InvalidInput(f"unknown status {status!r}; expected one of {', '.join(STATES)}", field="status")
        if reader.role not in ("agent", "admin"):
            raise Forbidden("only agents and admins see articles that are not published", field="status")
        return [a for a in self._articles.with_status(status) if can_write_article(reader, a.team)]

    # Files ------------------------------------------------------------------------------------------------
    def import_articles(self, loaded: LoadResult, folder: Path) -> ImportReport:
        """Bring a folder's articles in (see ArticleRepository.import_articles); the caller updates the index."""
        report = self._articles.import_articles(loaded.articles, prune=False, root=str(folder.resolve()))
        for article_id in report.added + report.updated:
            self._audit.add(actor="import", action="article.import", target=article_id, origin="cli")
        return report

    def export(self, folder: Path) -> int:
        """Every article's newest version written to `folder` as `<id>.md` (or the path it was imported from)."""
        return export_markdown(self._articles.all(), self._articles.newest_markdown(), folder)

    def publish_files(self, articles: Sequence[Article], actor: Principal) -> list[str]:
        """Publish files checked by `validate_file` (from `kb publish`, for teams whose review happens in git): each
        file is the truth for the article it names. One whose text is already the newest version is published if
        it is not yet."""
        report = self._articles.import_articles(articles, prune=False, author=actor.name, take_over=True)
        published = report.added + report.updated
        for article_id in report.unchanged:
            current = self._articles.get(article_id)
            if current is not None and current.status != "published":
                shown = self._parsed(self._version_or_fail(article_id, current.version))
                self._articles.change_state(
                    article_id, current.version, current.status, "published", shown, current.version
                )
                published.append(article_id)
        for article_id in published:
            self._audit.add(actor=actor.name, action="article.publish_file", target=article_id, origin=actor.origin)
        if published:
            self._index_changed()
        return published

    def validate_file(self, markdown: str, source: str) -> Article:
        """A file to publish as it is: valid as an article written in kb, and saying no state but published."""
        article = validate_markdown(markdown, self._teams, max_bytes=self._max_bytes)
        if article.status != "published":
            raise InvalidInput(
                f"{source} says `status: {article.status}`; `kb publish` publishes: remove the key or say published",
                field="status",
            )
        return replace(article, source="")  # kept in kb from now on: no `kb index` folder mirrors it

    # Helpers ----------------------------------------------------------------------------------------------
    def _index_changed(self) -> None:
        """Update the live index after a committed change. The change stands if this fails (a full disk, a kill):
        the server's start (kb.follower) and its maintenance schedule (`catch_up`) repair the index from the store."""
        try:
            self._on_change()
        except Exception:
            log.exception("the index could not follow an article change; it is repaired from the store later")

    def _writable(self, article_id: str, actor: Principal, if_match: frozenset[str] | None) -> StoredArticle:
        current = self._articles.get(article_id)
        if current is None or not can_write_article(actor, current.team):
            if current is not None and current.published and can_read_article(actor, current.audience):
                raise Forbidden("only agents of the article's team (and admins) change it", field="article_id")
            raise NotFound(f"no article {article_id!r}", field="article_id")
        if if_match is not None and "*" not in if_match and current.etag not in if_match:
            raise PreconditionFailed(
                f"article {article_id!r} changed since you read it (now {current.etag}): read it again and redo "
                f"your change",
                field="If-Match",
            )
        return current

    def _check_writer(self, author: Principal, team: str | None) -> None:
        if not can_write_article(author, team):
            raise Forbidden(f"only agents of team {team!r} (and admins) write its articles", field="team")

    def _version_or_fail(self, article_id: str, number: int) -> ArticleVersion:
        found = self._articles.version(article_id, number)
        if found is None:
            raise NotFound(f"article {article_id!r} has no version {number}", field="version")
        return found

    def _parsed(self, version: ArticleVersion) -> Article:
        parsed = parse_article(version.markdown, source="", default_id=version.article_id)
        if not isinstance(parsed, Article):  # saved versions were validated; a stored one that fails is damage
            raise Conflict(f"version {version.number} of {version.article_id!r} no longer parses: {parsed}")
        return parsed

    def _duplicates(self, article: Article, reader: Principal) -> tuple[Duplicate, ...]:
        text = "\n".join([article.title, *(s.text for s in article.sections[:2])])
        try:
            found = self._similar(text, 3, reader, article.id)
        except Exception:  # no index yet (a new KB): nothing to compare with is not a reason to refuse a draft
            log.info("near-duplicate check skipped: no index to compare with", exc_info=True)
            return ()
        return tuple(Duplicate(*entry) for entry in found)
