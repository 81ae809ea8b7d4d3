"""Articles live in the store: every saved change is a version, and an article knows its workflow state, which
version employees see, who wrote it last, the ticket it came from and the file it was imported from. A vote may
carry a comment.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Nullable: the rows of a store from before this revision were mirrored from files; they gain their first
    # version when `kb index` (or `kb import`) next brings the folder in.
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("version", sa.Integer))
        batch.add_column(sa.Column("published_version", sa.Integer))
        batch.add_column(sa.Column("author", sa.String(200)))
        batch.add_column(sa.Column("ticket_id", sa.Integer))
        batch.add_column(sa.Column("origin", sa.String(1000)))
        batch.add_column(sa.Column("origin_root", sa.String(1000)))
        batch.add_column(sa.Column("created_at", UTC_DATETIME))
    with op.batch_alter_table("article_feedback") as batch:
        batch.add_column(sa.Column("comment", sa.Text))
    op.create_table(
        "article_versions",
        sa.Column("article_id", sa.String(200), primary_key=True),
        sa.Column("number", sa.Integer, primary_key=True),
        sa.Column("markdown", sa.Text, nullable=False),
        sa.Column("markdown_hash", sa.String(64), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
    )

    op.create_table(
        "article_changes",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("article_id", sa.String(200), nullable=False),
        sa.Column("was_shown", sa.Boolean, nullable=False),
        sa.Column("audience_before", sa.JSON, nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
    )
    op.create_index("ix_article_changes_article_id", "article_changes", ["article_id"])


def downgrade() -> None:
    op.drop_index("ix_article_changes_article_id", "article_changes")
    op.drop_table("article_changes")
    op.drop_table("article_versions")
    with op.batch_alter_table("article_feedback") as batch:
        batch.drop_column("comment")
    with op.batch_alter_table("articles") as batch:
        for column in ("created_at", "origin_root", "origin", "ticket_id", "author", "published_version", "version"):
            batch.drop_column(column)
