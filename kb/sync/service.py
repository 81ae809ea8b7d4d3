"""`GET /v1/sync`: the articles a reader may see that changed since their cursor, and tombstones for those they
could see and no longer may (archived, deleted, audience changed), in the store's order of changes, so that paging
under concurrent publishing skips nothing and repeats nothing.

The cursor is opaque to clients: the number of the last change a page covered. A tombstone names an article only to
a reader who could read it before the change; a first sync (no cursor) has none."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from kb.access import Principal, can_read_article
from kb.articles.model import StoredArticle
from kb.errors import InvalidInput
from kb.store.articles import ArticleRepository

MAX_LIMIT = 500
_PREFIX = "c1:"


@dataclass(frozen=True)
class SyncedArticle:
    article: StoredArticle
    markdown: str  # the published version's text

    def record(self) -> dict[str, Any]:
        """The article as a sync page and a download bundle carry it (the same fields in both)."""
        article = self.article.as_published()
        return {
            "id": article.id,
            "title": article.title,
            "team": article.team,
            "tags": list(article.tags),
            "audience": list(article.audience),
            "language": article.language,
            "updated": article.updated,
            "version": article.version,
            "etag": article.etag,
            "markdown": self.markdown,
        }


@dataclass(frozen=True)
class SyncPage:
    articles: list[SyncedArticle]
    tombstones: list[str]
    cursor: str
    has_more: bool


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith(_PREFIX):
            raise ValueError(text)
        seq = int(text[len(_PREFIX) :])
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput(
            "`since` is not a cursor this server gave: sync without it to start over", field="since"
        ) from exc
    if seq < 0:
        raise InvalidInput("`since` is not a cursor this server gave", field="since")
    return seq


class SyncService:
    def __init__(self, articles: ArticleRepository) -> None:
        self._articles = articles

    def page(self, reader: Principal, since: str | None = None, limit: int = 100) -> SyncPage:
        """One page of changes after `since` (everything the reader may read when it is None)."""
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"`limit` must be between 1 and {MAX_LIMIT}", field="limit")
        start = 0 if since is None else decode_cursor(since)
        changes = self._articles.changes_since(start, limit + 1)
        page, has_more = changes[:limit], len(changes) > limit
        ids = [c.article_id for c in page]
        shown, stored = self._articles.shown_markdown(ids), self._articles.get_many(ids)
        articles, tombstones = [], []
        for change in page:
            current = stored.get(change.article_id)
            visible = current is not None and current.published and change.article_id in shown
            if visible and current is not None and can_read_article(reader, current.audience):
                articles.append(SyncedArticle(current, shown[change.article_id]))
                continue
            # Gone for this reader: say so only to one who could read it before (and had a copy to drop).
            if since is not None and change.was_shown and can_read_article(reader, change.audience_before):
                tombstones.append(change.article_id)
        cursor = page[-1].seq if page else (start if since is not None else self._articles.last_change())
        return SyncPage(articles, tombstones, encode_cursor(cursor), has_more)
