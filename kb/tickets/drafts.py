"""A draft article from a resolved ticket: Symptoms from the requester's words, Cause and Resolution from
the agents' notes and resolution. Saved in the store as a draft linked to its ticket, so that the team reviews it
and publishes it like any other article."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import yaml

from kb.errors import Conflict
from kb.tickets.model import Ticket
from kb.tickets.states import DONE

MAX_ATTEMPTS = 99


def _slug(text: str) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "-".join(words)[:60].strip("-") or "draft"


def draft_ids(ticket: Ticket) -> Iterator[str]:
    """Ids to try for the ticket's draft, in order: a second draft of one ticket gets a suffix."""
    base = f"{_slug(ticket.subject)}-t{ticket.id}"
    yield base
    for attempt in range(2, MAX_ATTEMPTS + 1):
        yield f"{base}-{attempt}"


def draft_markdown(ticket: Ticket, notes: list[str], article_id: str) -> str:
    if ticket.status not in DONE or not ticket.resolution:
        raise Conflict("resolve the ticket (with a resolution note) before drafting an article", field="status")
    front = {
        "id": article_id,
        "title": ticket.subject,
        "team": ticket.team,
        "updated": datetime.now(UTC).date().isoformat(),
        "source_ticket": ticket.id,
    }
    symptoms = "\n".join(f"> {line}" if line.strip() else ">" for line in ticket.description.splitlines())
    cause = "\n\n".join(n.strip() for n in notes) or "_Not recorded on the ticket: add what caused it._"
    return (
        f"---\n{yaml.safe_dump(front, sort_keys=False, allow_unicode=True)}---\n\n"
        f"## Symptoms\n\n{symptoms}\n\n"
        f"## Cause\n\n{cause}\n\n"
        f"## Resolution\n\n{ticket.resolution.strip()}\n"
    )
