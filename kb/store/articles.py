"""The articles and their versions: the store is where articles live; files are imported into it and exported
from it. Every write is one transaction that checks the version it builds on, so two editors cannot overwrite
each other and a crash leaves either the whole change or none of it."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from kb.articles import Article
from kb.articles.model import ArticleVersion, StoredArticle, markdown_hash
from kb.articles.parsing import with_status
from kb.errors import Conflict, NotFound, PreconditionFailed
from kb.store import change_log, schema


@dataclass(frozen=True)
class ImportReport:
    added: list[str]
    updated: list[str]
    unchanged: list[str]
    removed: list[str]
    kept: list[str]  # files that would overwrite an article written in kb or brought from another folder


@dataclass(frozen=True)
class Change:
    """An article whose visible state changed: the last change's number, and whether (and to whom) it was shown
    before its first change in the window."""

    article_id: str
    seq: int
    was_shown: bool
    audience_before: tuple[str, ...]


@dataclass(frozen=True)
class Write:
    """One saved version: the parsed article, who saves it and why, the state it leaves the article in, and the
    file it came from (None: written in kb)."""

    article: Article
    author: str
    status: str
    comment: str | None = None
    origin: str | None = None
    root: str | None = None
    ticket_id: int | None = None


class ArticleRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # Reading ----------------------------------------------------------------------------------------------
    def get(self, article_id: str) -> StoredArticle | None:
        return self.get_many([article_id]).get(article_id)

    def get_many(self, ids: Collection[str]) -> dict[str, StoredArticle]:
        """The stored articles of `ids` that exist, by id."""
        wanted, found = list(ids), dict[str, StoredArticle]()
        with self._engine.connect() as conn:
            for start in range(0, len(wanted), 500):  # bounded IN lists
                query = sa.select(schema.articles).where(schema.articles.c.id.in_(wanted[start : start + 500]))
                found |= {row.id: _article(row) for row in conn.execute(query)}
        return found

    def shown_digests(self) -> dict[str, tuple[str, str | None, list[str]]]:
        """(content hash, team, audience) of every article employees see: what the live index must hold."""
        table = schema.articles
        query = sa.select(table.c.id, table.c.content_hash, table.c.team, table.c.audience).where(
            table.c.published_version.is_not(None), table.c.status != "archived"
        )
        with self._engine.connect() as conn:
            return {row.id: (row.content_hash, row.team, list(row.audience or [])) for row in conn.execute(query)}

    def audiences(self, ids: Collection[str] | None = None) -> dict[str, list[str]]:
        """Stored articles' audiences by id: every article's, or those of `ids` that exist."""
        table = schema.articles
        query = sa.select(table.c.id, table.c.audience)
        if ids is not None:
            query = query.where(table.c.id.in_(list(ids)))
        with self._engine.connect() as conn:
            return {row.id: list(row.audience or []) for row in conn.execute(query)}

    def published(self) -> list[StoredArticle]:
        """Every article employees may see (published and not archived), by title. Readability is decided by
        the caller (kb.access), so the list is filtered before it is paged, counted or faceted."""
        table = schema.articles
        query = (
            sa.select(table)
            .where(table.c.published_version.is_not(None), table.c.status != "archived")
            .order_by(table.c.title, table.c.id)
        )
        with self._engine.connect() as conn:
            return [_article(r) for r in conn.execute(query)]

    def with_status(self, status: str) -> list[StoredArticle]:
        """Every article whose newest version is in `status` (the review queue, the drafts), newest first."""
        table = schema.articles
        query = sa.select(table).where(table.c.status == status).order_by(table.c.synced_at.desc(), table.c.id)
        with self._engine.connect() as conn:
            return [_article(r) for r in conn.execute(query)]

    def all(self) -> list[StoredArticle]:
        with self._engine.connect() as conn:
            return [_article(r) for r in conn.execute(sa.select(schema.articles).order_by(schema.articles.c.id))]

    def versions(self, article_id: str) -> list[ArticleVersion]:
        table = schema.article_versions
        query = sa.select(table).where(table.c.article_id == article_id).order_by(table.c.number)
        with self._engine.connect() as conn:
            return [_version(r) for r in conn.execute(query)]

    def version(self, article_id: str, number: int) -> ArticleVersion | None:
        table = schema.article_versions
        query = sa.select(table).where(table.c.article_id == article_id, table.c.number == number)
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return _version(row) if row else None

    def newest_markdown(self) -> dict[str, str]:
        """Each article's newest version's Markdown, by id: what `kb export` writes."""
        articles, versions = schema.articles, schema.article_versions
        query = sa.select(articles.c.id, versions.c.markdown).join(
            versions, sa.and_(versions.c.article_id == articles.c.id, versions.c.number == articles.c.version)
        )
        with self._engine.connect() as conn:
            return {row.id: row.markdown for row in conn.execute(query)}

    def shown_versions(self) -> dict[str, tuple[str, str]]:
        """(Markdown hash, language) of the version employees see, for every article they may see: what the index
        holds. The language is the one read when it was saved, so it is not detected again."""
        query = self._shown(schema.article_versions.c.markdown_hash)
        with self._engine.connect() as conn:
            return {row.id: (row.markdown_hash, row.language) for row in conn.execute(query)}

    def shown_markdown(self, ids: Collection[str]) -> dict[str, str]:
        """The Markdown of the version employees see of each of `ids` (those still shown)."""
        found: dict[str, str] = {}
        wanted = list(ids)
        with self._engine.connect() as conn:
            for start in range(0, len(wanted), 500):  # bounded IN lists
                query = self._shown(schema.article_versions.c.markdown).where(
                    schema.articles.c.id.in_(wanted[start : start + 500])
                )
                found |= {row.id: row.markdown for row in conn.execute(query)}
        return found

    @staticmethod
    def _shown(column: sa.ColumnElement[Any]) -> sa.Select[Any]:
        articles, versions = schema.articles, schema.article_versions
        return (
            sa.select(articles.c.id, articles.c.language, column)
            .join(
                versions,
                sa.and_(versions.c.article_id == articles.c.id, versions.c.number == articles.c.published_version),
            )
            .where(articles.c.status != "archived")
        )

    def changes_since(self, since: int, limit: int) -> list[Change]:
        """The articles whose visible state changed after change `since`, in the order of their last change, at
        most `limit`; each with who could read it at `since` (its first change after it says)."""
        table = schema.article_changes
        grouped = (
            sa.select(
                table.c.article_id, sa.func.max(table.c.seq).label("last"), sa.func.min(table.c.seq).label("first")
            )
            .where(table.c.seq > since)
            .group_by(table.c.article_id)
            .order_by(sa.text("last"))
            .limit(limit)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(grouped).all()
            firsts = {
                r.seq: r for r in conn.execute(sa.select(table).where(table.c.seq.in_([row.first for row in rows])))
            }
        return [
            Change(
                row.article_id,
                int(row.last),
                bool(firsts[row.first].was_shown),
                tuple(firsts[row.first].audience_before or ()),
            )
            for row in rows
        ]

    def last_change(self) -> int:
        return change_log.ChangeLogRepository(self._engine).head()

    # Writing ----------------------------------------------------------------------------------------------
    def create(self, write: Write) -> StoredArticle:
        """Version 1 of a new article; Conflict when the id is taken."""
        try:
            with self._engine.begin() as conn:
                # The row first: a concurrent create of the same id fails here, on the key, before anything else.
                self._save(conn, write, number=1, previous=None, shown=None)
        except sa.exc.IntegrityError as exc:
            raise Conflict(f"the id {write.article.id!r} is taken: choose another `id`", field="id") from exc
        return self._get_or_fail(write.article.id)

    def save(self, write: Write, expected_version: int) -> StoredArticle:
        """A new version over `expected_version`: PreconditionFailed when someone saved another meanwhile.
        Employees keep seeing the version they saw until the new one is published."""
        article, now = write.article, datetime.now(UTC)
        table = schema.articles
        with self._engine.begin() as conn:
            # Compare-and-set first (it takes the write lock): of two writers over one version, one wins.
            claimed = conn.execute(
                sa.update(table)
                .where(table.c.id == article.id, table.c.version == expected_version)
                .values(version=expected_version + 1, status=write.status, author=write.author, origin=None)
                .values(origin_root=None, synced_at=now)
            )
            if claimed.rowcount != 1:
                self._refuse(conn, article.id, expected_version)
            shown = conn.execute(sa.select(table.c.published_version).where(table.c.id == article.id)).scalar()
            if shown is None:  # never published: the row shows the newest text to its writers
                conn.execute(sa.update(table).where(table.c.id == article.id).values(**_parsed(article)))
            self._insert_version(conn, write, expected_version + 1, now)
        return self._get_or_fail(article.id)

    def change_state(
        self,
        article_id: str,
        expected_version: int,
        expected_status: str,
        status: str,
        shown: Article | None,
        published_version: int | None,
    ) -> StoredArticle:
        """A workflow step over (`expected_version`, `expected_status`): the newest version's state and the version
        employees see; the parsed columns follow `shown` when it is given (a newly published or revived one)."""
        table = schema.articles
        values: dict[str, Any] = {
            "status": status,
            "synced_at": datetime.now(UTC),
            "published_version": published_version,
        }
        if shown is not None:
            values |= _parsed(shown)
        with self._engine.begin() as conn:
            change_log.in_change_order(conn)  # before its row lock: a change may follow
            # Read before the compare-and-set: if it matches, the row was still this one (an audience or a
            # published version never changes without the version or the state changing).
            before = self._row(conn, article_id)
            moved = conn.execute(
                sa.update(table)
                .where(table.c.id == article_id, table.c.version == expected_version, table.c.status == expected_status)
                .values(**values)
            )
            if moved.rowcount != 1:
                self._refuse(conn, article_id, expected_version)
            if before is not None and (before.published or (published_version is not None and status != "archived")):
                _log_change(conn, before)
        return self._get_or_fail(article_id)

    def _refuse(self, conn: Connection, article_id: str, expected_version: int) -> NoReturn:
        """Why a compare-and-set matched no row: the article is gone, or it changed since it was read."""
        row = conn.execute(sa.select(schema.articles).where(schema.articles.c.id == article_id)).first()
        if row is None:
            raise NotFound(f"no article {article_id!r}", field="article_id")
        current = _article(row)
        raise PreconditionFailed(
            f"article {article_id!r} changed since you read it (now version {current.version}, {current.status}; "
            f"you sent version {expected_version}): read it again and redo your change",
            field="If-Match",
        )

    def delete(self, article_id: str) -> None:
        """The article and its history: nothing of it stays to be found or restored."""
        with self._engine.begin() as conn:
            change_log.in_change_order(conn)
            before = self._row(conn, article_id)
            conn.execute(sa.delete(schema.article_versions).where(schema.article_versions.c.article_id == article_id))
            conn.execute(sa.delete(schema.articles).where(schema.articles.c.id == article_id))
            if before is not None and before.published:
                _log_change(conn, before)

    def import_articles(
        self,
        articles: Sequence[Article],
        *,
        prune: bool,
        root: str | None = None,
        author: str = "import",
        take_over: bool = False,
    ) -> ImportReport:
        """Bring files from the folder `root` into the store in one transaction, by content.

        A file whose text the newest version has (as written, or as `kb export` writes it, with the state in its
        `status:`) is skipped; a changed one becomes a new version in the state its front matter says. An article
        written or edited in kb, or brought in from another folder, is never overwritten by a file (`kept`), unless
        `take_over` (`kb publish`, whose files are the truth for what they name); a file with a text an article
        edited in kb once had is simply an older copy. With `prune`, the folder is the whole truth for the articles
        imported from it: one whose file is gone is deleted; no other article is ever touched."""
        report = ImportReport([], [], [], [], [])
        now = datetime.now(UTC)
        articles_t, versions_t = schema.articles, schema.article_versions
        with self._engine.begin() as conn:
            # Servers starting together on one PostgreSQL import the same folder: one at a time, each seeing the
            # rows the one before it wrote.
            change_log.in_change_order(conn)
            current = {row.id: row for row in conn.execute(sa.select(articles_t))}
            versions = conn.execute(sa.select(versions_t.c.article_id, versions_t.c.number, versions_t.c.markdown_hash))
            known: dict[tuple[str, str], int] = {(v.article_id, v.markdown_hash): v.number for v in versions}
            for article in articles:
                row = current.get(article.id)
                if row is None or row.version is None:  # new, or mirrored before versions existed
                    number = 1
                    write = Write(article, author, article.status, origin=article.source or None, root=root)
                    shown = number if article.searchable else None
                    previous = _article(row) if row else None
                    self._save(conn, write, number=number, previous=previous, shown=shown, now=now)
                    if shown is not None:
                        _log_change(conn, previous, now, article.id)
                    (report.added if row is None else report.updated).append(article.id)
                    continue
                text = markdown_hash(article.markdown)
                seen = known.get((article.id, text))
                ours = row.origin is not None and row.origin_root == root
                if seen == row.version or (
                    seen is None
                    and text == markdown_hash(with_status(self._newest(conn, article.id, row.version), row.status))
                ):
                    report.unchanged.append(article.id)
                    if ours and row.origin != (article.source or None):
                        # The same text at another path (a file moved or renamed): export writes it there now.
                        conn.execute(
                            sa.update(articles_t).where(articles_t.c.id == article.id).values(origin=article.source)
                        )
                    continue
                if not (ours or take_over):
                    # An older copy of an article edited since (skipped quietly), or a file that would overwrite one.
                    (report.unchanged if seen is not None else report.kept).append(article.id)
                    continue
                write = Write(article, author, article.status, origin=article.source or None, root=root)
                number = row.version + 1
                shown = number if article.searchable else None
                previous = _article(row)
                self._save(conn, write, number=number, previous=previous, shown=shown, now=now)
                if previous.published or shown is not None:
                    _log_change(conn, previous, now)
                report.updated.append(article.id)
            if prune:
                present = {a.id for a in articles}
                for article_id, row in current.items():
                    from_here = row.origin is not None and row.origin_root == root
                    if article_id not in present and (from_here or row.version is None):
                        conn.execute(sa.delete(versions_t).where(versions_t.c.article_id == article_id))
                        conn.execute(sa.delete(articles_t).where(articles_t.c.id == article_id))
                        if _article(row).published:
                            _log_change(conn, _article(row), now)
                        report.removed.append(article_id)
        report.removed.sort()
        return report

    @staticmethod
    def _row(conn: Connection, article_id: str) -> StoredArticle | None:
        row = conn.execute(sa.select(schema.articles).where(schema.articles.c.id == article_id)).first()
        return _article(row) if row else None

    @staticmethod
    def _newest(conn: Connection, article_id: str, number: int) -> str:
        versions = schema.article_versions
        query = sa.select(versions.c.markdown).where(versions.c.article_id == article_id, versions.c.number == number)
        return str(conn.execute(query).scalar() or "")

    def unversioned(self) -> int:
        """Rows mirrored before versions existed: `kb index` brings them in (until then nothing is published)."""
        table = schema.articles
        with self._engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).where(table.c.version.is_(None))).scalar_one())

    def _save(
        self,
        conn: Connection,
        write: Write,
        *,
        number: int,
        previous: StoredArticle | None,
        shown: int | None,
        now: datetime | None = None,
    ) -> None:
        """Point the article at version `number` (a new row without `previous`), then insert that version;
        `shown` is the version employees see after the write (the parsed columns follow it: they stay as they were
        when it is an older version)."""
        now = now or datetime.now(UTC)
        article = write.article
        values: dict[str, Any] = {
            "status": write.status,
            "version": number,
            "author": write.author,
            "origin": write.origin,
            "origin_root": write.root,
            "synced_at": now,
            "published_version": shown,
        }
        if shown in (None, number):
            values |= _parsed(article)
        if previous is None:
            values |= {"id": article.id, "created_at": now, "ticket_id": write.ticket_id}
            conn.execute(sa.insert(schema.articles).values(**values))
        else:
            if write.ticket_id is not None:
                values["ticket_id"] = write.ticket_id
            conn.execute(sa.update(schema.articles).where(schema.articles.c.id == article.id).values(**values))
        self._insert_version(conn, write, number, now)

    @staticmethod
    def _insert_version(conn: Connection, write: Write, number: int, now: datetime) -> None:
        conn.execute(
            sa.insert(schema.article_versions).values(
                article_id=write.article.id,
                number=number,
                markdown=write.article.markdown,
                markdown_hash=markdown_hash(write.article.markdown),
                author=write.author,
                comment=write.comment,
                created_at=now,
            )
        )

    def _get_or_fail(self, article_id: str) -> StoredArticle:
        found = self.get(article_id)
        if found is None:  # deleted between the write and this read
            raise NotFound(f"no article {article_id!r}", field="article_id")
        return found


def _log_change(
    conn: Connection, before: StoredArticle | None, now: datetime | None = None, article_id: str | None = None
) -> None:
    """Record that what employees may see of an article changed (the change log, with who could read it before)."""
    change_log.append(conn, before.id if before is not None else str(article_id), before, now or datetime.now(UTC))


def _parsed(article: Article) -> dict[str, Any]:
    """The columns read from a version's text."""
    return {
        "title": article.title,
        "team": article.team,
        "tags": list(article.tags),
        "audience": list(article.audience),
        "language": article.language,
        "updated": article.updated,
        "source": article.source,
        "body": article.body,
        "front_matter": article.front_matter,
        "content_hash": article.content_hash,
    }


def _article(row: sa.Row[Any]) -> StoredArticle:
    values = row._mapping
    return StoredArticle(
        id=values["id"],
        title=values["title"],
        team=values["team"],
        tags=tuple(values["tags"] or ()),
        audience=tuple(values["audience"] or ()),
        language=values["language"],
        status=values["status"],
        updated=values["updated"],
        source=values["source"],
        body=values["body"],
        front_matter=dict(values["front_matter"] or {}),
        content_hash=values["content_hash"],
        synced_at=values["synced_at"],
        version=values["version"] or 0,
        published_version=values["published_version"],
        author=values["author"],
        ticket_id=values["ticket_id"],
        origin=values["origin"],
    )


def _version(row: sa.Row[Any]) -> ArticleVersion:
    values = row._mapping
    return ArticleVersion(
        article_id=values["article_id"],
        number=values["number"],
        markdown=values["markdown"],
        author=values["author"],
        comment=values["comment"],
        created_at=values["created_at"],
    )
