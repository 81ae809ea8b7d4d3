"""Several servers on one database. Each article change records the digest of what employees see after it (NULL: the
article is no longer shown), so that a server following the change log can tell at once whether its own index
already holds the change; a pending event can be claimed by one server; leases name the server doing shared work;
the answer calibration it measures is stored for every server to adopt.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Nullable: a change logged before this revision has no hash; a follower treats it as one to apply.
    with op.batch_alter_table("article_changes") as batch:
        batch.add_column(sa.Column("shown_digest", sa.String(64)))
    with op.batch_alter_table("pending_events") as batch:
        batch.add_column(sa.Column("claimed_until", UTC_DATETIME))
    op.create_table(
        "calibrations",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("measured_at", UTC_DATETIME, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_table("calibrations")
    with op.batch_alter_table("pending_events") as batch:
        batch.drop_column("claimed_until")
    with op.batch_alter_table("article_changes") as batch:
        batch.drop_column("shown_digest")
