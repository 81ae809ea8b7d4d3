"""Tables, in SQLAlchemy Core with portable types, so the same code runs on SQLite now and PostgreSQL later."""

from __future__ import annotations

import sqlalchemy as sa

from kb.store.timestamps import UtcDateTime

# Every change to these tables comes with a revision in kb/store/migrations/versions/ (Alembic): the store is
# upgraded from the revisions, never from this module, which only says what the newest one must produce
# (tests/kb/store/test_migrations.py compares the two).
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
    sa.Column("synced_at", UtcDateTime(), nullable=False),  # when the row last changed
    # The publishing flow (issue 20). The parsed columns above hold the version employees see
    # (`published_version`) when there is one, else the newest; `status` is the newest version's workflow state.
    sa.Column("version", sa.Integer),  # the newest version's number
    sa.Column("published_version", sa.Integer),  # the version search and employees see; NULL: never published
    sa.Column("author", sa.String(200)),  # who saved the newest version
    sa.Column("ticket_id", sa.Integer),  # the resolved ticket it was drafted from
    sa.Column("origin", sa.String(1000)),  # the file it was imported from (relative); NULL once edited in kb
    sa.Column("origin_root", sa.String(1000)),  # the folder that file is in: `kb index` mirrors only its own
    sa.Column("created_at", UtcDateTime()),
)

# What employees could see changed for an article (published, updated while published, archived, deleted,
# audience changed): the order of these rows is what `GET /v1/sync` pages through. A row keeps who could read the
# article before the change, so that a tombstone names an article only to readers who could have had it.
article_changes = sa.Table(
    "article_changes",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("article_id", sa.String(200), nullable=False, index=True),
    sa.Column("was_shown", sa.Boolean, nullable=False),  # employees could see a version before the change
    sa.Column("audience_before", sa.JSON, nullable=False, default=list),
    sa.Column("at", UtcDateTime(), nullable=False),
    # What employees see after the change (kb.store.change_log.shown_digest; NULL: nothing any more): the change
    # log servers follow (kb.follower).
    sa.Column("shown_digest", sa.String(64)),
)

# Every saved change of an article: its whole Markdown as written, so that export gives back the same bytes.
article_versions = sa.Table(
    "article_versions",
    metadata,
    sa.Column("article_id", sa.String(200), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("markdown", sa.Text, nullable=False),
    sa.Column("markdown_hash", sa.String(64), nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("comment", sa.Text),
    sa.Column("created_at", UtcDateTime(), nullable=False),
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
    sa.Column("created_at", UtcDateTime(), nullable=False, index=True),
    sa.Column("expected_first_response_by", UtcDateTime(), nullable=False),
    # Lifecycle (issue 6). Nullable so that a store created before them gains them with ALTER TABLE.
    sa.Column("assignee", sa.String(200)),
    sa.Column("updated_at", UtcDateTime()),
    sa.Column("first_response_at", UtcDateTime()),
    sa.Column("resolved_at", UtcDateTime()),
    sa.Column("closed_at", UtcDateTime()),
    sa.Column("resolution", sa.Text),
    sa.Column("pending_since", UtcDateTime()),
    sa.Column("paused_hours", sa.Float),  # business hours spent pending: the SLA clock stops meanwhile
    sa.Column("not_helpful_article_ids", sa.JSON),
    sa.Column("csat_score", sa.Integer),
    sa.Column("csat_comment", sa.Text),
    sa.Column("csat_at", UtcDateTime()),
    sa.Column("sla_risk_notified", sa.Boolean),
    sa.Column("requester_email", sa.String(320)),
    # Bumped by every change: a change made from a stale read is refused instead of overwriting another one.
    sa.Column("version", sa.Integer),
)

# Events recorded in the same transaction as the change that raised them, then handed to the notifiers (and
# marked). One left undispatched by a crash is dispatched by the next maintenance round: none is lost.
pending_events = sa.Table(
    "pending_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(50), nullable=False),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Column("ticket_id", sa.Integer),  # ticket events: the payload is built from the ticket when dispatched
    sa.Column("event_id", sa.Integer),  # the reply a `ticket.replied` is about
    sa.Column("data", sa.JSON, nullable=False, default=dict),
    sa.Column("dispatched_at", UtcDateTime(), index=True),
    # The server handing it on holds it until then: with several servers, one dispatches it, once.
    sa.Column("claimed_until", UtcDateTime()),
)

# The answer calibration as last measured by the server doing the shared maintenance; every server adopts the newest.
calibrations = sa.Table(
    "calibrations",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("measured_at", UtcDateTime(), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
)

# Work that one server of several does at a time (the maintenance round): whoever holds the lease, until it expires.
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
)

# Every change to a ticket: state, priority, team, assignee, replies, internal notes, resolution, rating.
ticket_events = sa.Table(
    "ticket_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ticket_id", sa.Integer, sa.ForeignKey("tickets.id"), nullable=False, index=True),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(30), nullable=False),  # created, change, reply, note, csat
    sa.Column("field", sa.String(30)),
    sa.Column("old", sa.String(300)),
    sa.Column("new", sa.String(300)),
    sa.Column("body", sa.Text),
    sa.Column("internal", sa.Boolean, nullable=False, default=False),
)

# One row per (caller, scope, key): the same Idempotency-Key returns the first result, never a duplicate.
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("caller", sa.String(200), nullable=False),
    sa.Column("scope", sa.String(100), nullable=False),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("result_id", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("caller", "scope", "key"),
)

nps_responses = sa.Table(
    "nps_responses",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user", sa.String(200), nullable=False),
    sa.Column("quarter", sa.String(7), nullable=False),  # "2026-Q4"
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("comment", sa.Text),
    sa.Column("team", sa.String(100)),  # the desk the answer is about, when given
    sa.Column("at", UtcDateTime(), nullable=False, index=True),
    sa.UniqueConstraint("user", "quarter"),
)

# Article views and helpful / not-helpful votes, for "top articles" and the search context of tickets.
# Views add up; a user has at most one vote per article (the latest).
VOTE_KINDS = ("helpful", "not_helpful")
article_feedback = sa.Table(
    "article_feedback",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("article_id", sa.String(200), nullable=False, index=True),
    sa.Column("user", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # view, helpful, not_helpful
    sa.Column("query", sa.Text),
    sa.Column("at", UtcDateTime(), nullable=False, index=True),
    sa.Column("comment", sa.Text),  # a vote's optional words (issue 20)
)

# The embedding of each resolved ticket (subject + description), for "similar past cases".
ticket_vectors = sa.Table(
    "ticket_vectors",
    metadata,
    sa.Column("ticket_id", sa.Integer, sa.ForeignKey("tickets.id"), primary_key=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("vector", sa.LargeBinary, nullable=False),
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
    sa.Column("created_at", UtcDateTime(), nullable=False, index=True),
    sa.Column("user", sa.String(200)),  # who searched, for deflection (no ticket from them within 24 h)
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
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

# Only a hash of each token is kept: a copy of the database does not let anyone sign in.
tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Column("revoked_at", UtcDateTime()),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime(), nullable=False, index=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("target", sa.String(300), nullable=False, default=""),
    sa.Column("origin", sa.String(200), nullable=False, default=""),
    sa.Column("detail", sa.JSON, nullable=False, default=dict),
)

# Teams edited through the API: each row replaces (or adds) the team of that name from the teams file.
# `version` counts the row's writes, so an edit can be stored only over the version it merged into (several
# servers share this table); NULL in a row written before versions existed, read as 1. Nullable so that the
# baseline migration can add it to a store from before it.
team_overrides = sa.Table(
    "team_overrides",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),  # the team's name in lower case
    sa.Column("config", sa.JSON, nullable=False),  # the whole team, as the teams file would describe it
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=True),
)

# Webhooks registered by admins: each receives the events it subscribed to ("*": all), signed with its secret.
# The secret is kept as given (it signs every delivery, so it cannot be hashed); deleting a webhook deactivates it.
webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("secret", sa.String(200), nullable=False),
    sa.Column("events", sa.JSON, nullable=False, default=list),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
)

# The durable outbox: one row per (event, webhook), written when the event happens and sent by the delivery
# worker, so a restart or an unreachable receiver loses nothing. `next_attempt_at` NULL and no `delivered_at`:
# given up (or the webhook was deleted).
webhook_outbox = sa.Table(
    "webhook_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("webhook_id", sa.Integer, sa.ForeignKey("webhooks.id"), nullable=False, index=True),
    sa.Column("event_kind", sa.String(50), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # JSON: {"event", "at", "data"}; the row id is added on sending
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", UtcDateTime(), index=True),
    sa.Column("delivered_at", UtcDateTime()),
    sa.Column("last_error", sa.Text),
)
