"""Tables, in SQLAlchemy Core with portable types, so the same code runs on SQLite now and PostgreSQL later."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

articles = sa.Table(
    "articles",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("team", sa.String(100)),
    sa.Column("tags", sa.JSON, nullable=False, default=list),
    sa.Column("audience", sa.JSON, nullable=False, default=list),
    sa.Column("language", sa.String(20), nullable=False, default="en"),
    sa.Column("status", sa.String(20), nullable=False, default="published"),
    sa.Column("updated", sa.String(40)),
    sa.Column("source", sa.String(1000), nullable=False, default=""),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("front_matter", sa.JSON, nullable=False, default=dict),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
)

tickets = sa.Table(
    "tickets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("requester", sa.String(200), nullable=False),
    sa.Column("team", sa.String(100), nullable=False),
    sa.Column("priority", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("search_query", sa.Text),
    sa.Column("viewed_article_ids", sa.JSON, nullable=False, default=list),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expected_first_response_by", sa.DateTime(timezone=True), nullable=False),
)

search_log = sa.Table(
    "search_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("query", sa.Text, nullable=False),
    sa.Column("answered", sa.Boolean, nullable=False),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("top_ids", sa.JSON, nullable=False, default=list),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("groups", sa.JSON, nullable=False, default=list),
    sa.Column("teams", sa.JSON, nullable=False, default=list),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# Only a hash of each token is kept: a copy of the database does not let anyone sign in.
tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("target", sa.String(300), nullable=False, default=""),
    sa.Column("origin", sa.String(200), nullable=False, default=""),
    sa.Column("detail", sa.JSON, nullable=False, default=dict),
)
