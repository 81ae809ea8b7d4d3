"""The ticket lifecycle: new → open → pending (waiting on the requester) → resolved → closed, and reopen."""

from __future__ import annotations

from typing import Literal, get_args

from kb.errors import Conflict

Status = Literal["new", "open", "pending", "resolved", "closed"]
STATES: tuple[Status, ...] = get_args(Status)
ACTIVE: tuple[Status, ...] = ("new", "open", "pending")
# A ticket that is done: it counts as resolved in the metrics, may be rated and may become an article.
DONE: tuple[Status, ...] = ("resolved", "closed")
# What a requester may do to their own resolved ticket: reopen it or close it; the rest is the team's work.
REQUESTER_MOVES: tuple[Status, ...] = ("open", "closed")

# Closed is final: a new problem gets a new ticket, which keeps each ticket's numbers honest.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    "new": frozenset({"open", "pending", "resolved"}),
    "open": frozenset({"pending", "resolved"}),
    "pending": frozenset({"open", "resolved"}),
    "resolved": frozenset({"open", "closed"}),
    "closed": frozenset(),
}


def check_transition(old: Status, new: str) -> None:
    if new not in STATES:
        raise Conflict(f"unknown status {new!r}; use {', '.join(STATES)}", field="status")
    if new != old and new not in TRANSITIONS[old]:
        allowed = ", ".join(sorted(TRANSITIONS[old])) or "nothing (closed is final)"
        raise Conflict(f"a {old} ticket cannot become {new}; it can become {allowed}", field="status")
