"""A draft article from a resolved ticket: Symptoms from the requester's words, Cause and Resolution from
the agents' notes and resolution. Written as a Markdown file with `status: draft`, so it is not indexed
until someone from the team reviews it and publishes it."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from kb.errors import Conflict
from kb.tickets.model import Ticket
from kb.tickets.states import DONE

DRAFTS_FOLDER = "drafts"


@dataclass(frozen=True)
class Draft:
    article_id: str
    path: Path  # relative to the articles folder: where the server keeps its files is not the caller's business
    markdown: str


def _slug(text: str) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "-".join(words)[:60].strip("-") or "draft"


def draft_markdown(ticket: Ticket, notes: list[str], article_id: str) -> str:
    if ticket.status not in DONE or not ticket.resolution:
        raise Conflict("resolve the ticket (with a resolution note) before drafting an article", field="status")
    front = {
        "id": article_id,
        "title": ticket.subject,
        "team": ticket.team,
        "status": "draft",
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


def write_draft(ticket: Ticket, notes: list[str], articles_dir: Path) -> Draft:
    """Write the draft under `articles/drafts/`, never over an existing file (a second draft gets a suffix)."""
    folder = articles_dir / DRAFTS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    base = f"{_slug(ticket.subject)}-t{ticket.id}"
    for attempt in range(1, 100):
        article_id = base if attempt == 1 else f"{base}-{attempt}"
        path = folder / f"{article_id}.md"
        markdown = draft_markdown(ticket, notes, article_id)
        # Write to a temporary file, then link it into place: link fails if the name is taken.
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=folder, delete=False, suffix=".tmp") as tmp:
            tmp.write(markdown)
        try:
            os.link(tmp.name, path)
        except FileExistsError:
            continue
        finally:
            os.unlink(tmp.name)
        return Draft(article_id, path.relative_to(articles_dir), markdown)
    raise Conflict(f"too many drafts for ticket {ticket.id}", field="ticket_id")
