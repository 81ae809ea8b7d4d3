"""Changing tickets: create (routed, idempotent), change (state, priority, team, assignee), reply and note, rate.

Who may do what is asked of kb.access; times are kept in UTC and measured in the owning team's business hours
(kb.tickets.sla). Every change is one transaction with its history events and the announcements it raises,
made only if the ticket is still as it was read (StaleTicket otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from kb.access import Principal, can_work_ticket
from kb.errors import Conflict, Forbidden, InvalidInput
from kb.events import Announcement
from kb.store.tickets import DuplicateKey, IdempotencyClaim, StaleTicket, TicketRepository
from kb.store.users import UserRepository
from kb.teams import PRIORITIES, TeamDirectory, business_hours_between, first_response_due
from kb.tickets.inputs import check_choice, checked_key, checked_text, fingerprint, known_team
from kb.tickets.model import (
    CSAT_SCORES,
    MAX_DESCRIPTION,
    MAX_MESSAGE,
    MAX_REQUESTER,
    MAX_SUBJECT,
    NewTicket,
    Ticket,
    TicketChange,
    TicketEvent,
    event_row,
)
from kb.tickets.queries import TicketQueries
from kb.tickets.states import DONE, REQUESTER_MOVES, check_transition
from kb.tickets.views import AudiencesOf

MESSAGE_ATTEMPTS = 5
Record = Callable[[str, Any, Any], None]


class TicketLifecycle:
    def __init__(
        self,
        repository: TicketRepository,
        teams: TeamDirectory,
        router: Callable[[str], str],
        users: UserRepository,
        queries: TicketQueries,
        audiences_of: AudiencesOf,
        relay: Callable[[list[int]], None],
        clock: Callable[[], datetime],
    ) -> None:
        """`router(text)` names the team for a ticket that names none; `audiences_of(article_ids)`: the audiences
        of those that exist (one lookup for many); `relay` hands recorded events to the notifiers once their
        change has committed."""
        self._repository = repository
        self._teams = teams
        self._route = router
        self._users = users
        self._queries = queries
        self._audiences_of = audiences_of
        self._relay = relay
        self._clock = clock

    # Create -----------------------------------------------------------------------------------------------
    def create(self, new: NewTicket, idempotency_key: str | None = None) -> tuple[Ticket, bool]:
        """The new ticket, or with a key already used by this requester, the ticket it made: (ticket, replayed)."""
        key = checked_key(idempotency_key)
        subject = checked_text(new.subject, "subject", MAX_SUBJECT)
        description = checked_text(new.description, "description", MAX_DESCRIPTION)
        requester = checked_text(new.requester, "requester", MAX_REQUESTER)
        check_choice("priority", new.priority, PRIORITIES)
        claim = None
        if key is not None:
            claim = IdempotencyClaim(requester, "ticket", key, fingerprint(asdict(new)))
            if (replay := self._replay(claim)) is not None:
                return self._queries.get(replay), True
        team = known_team(
            self._teams,
            new.team.strip() if new.team and new.team.strip() else self._route_text(new, subject, description),
        )
        created_at = self._clock()
        user = self._users.by_name(requester)
        values = {
            "subject": subject,
            "description": description,
            "requester": requester,
            "requester_email": user.email if user else None,
            "team": team.name,
            "priority": new.priority,
            "status": "new",
            "search_query": new.search_query,
            "viewed_article_ids": self._known_articles(new.viewed_article_ids),
            "not_helpful_article_ids": self._known_articles(new.not_helpful_article_ids),
            "created_at": created_at,
            "updated_at": created_at,
            "paused_hours": 0.0,
            "expected_first_response_by": first_response_due(team, created_at, new.priority),
        }
        created = event_row(created_at, requester, "created", field="team", new=team.name)
        try:
            ticket, recorded = self._repository.add(values, created, claim, [Announcement("ticket.created")])
        except DuplicateKey:
            assert claim is not None
            replay = self._replay(claim)
            assert replay is not None  # the key exists: that is why the insert failed
            return self._queries.get(replay), True
        self._relay(recorded)
        return ticket, False

    def _known_articles(self, article_ids: list[str]) -> list[str]:
        known = self._audiences_of(set(article_ids))
        return [a for a in dict.fromkeys(article_ids) if a in known]

    def _route_text(self, new: NewTicket, subject: str, description: str) -> str:
        """Route by what the requester searched for as well as what they wrote."""
        context = f"{new.search_query.strip()}. " if new.search_query and new.search_query.strip() else ""
        return self._route(f"{context}{subject}. {description}")

    def _replay(self, claim: IdempotencyClaim) -> int | None:
        stored = self._repository.claimed(claim)
        if stored is None:
            return None
        request_hash, result_id = stored
        if request_hash != claim.request_hash:
            raise InvalidInput(
                "this Idempotency-Key was already used for a different request; use a new key",
                field="Idempotency-Key",
            )
        return result_id

    # Change -----------------------------------------------------------------------------------------------
    def update(self, ticket_id: int, change: TicketChange, actor: Principal) -> Ticket:
        ticket = self._queries.readable(ticket_id, actor)
        if not can_work_ticket(actor, ticket.team):
            self._check_requester_change(ticket, change)
        now = self._clock()
        changes: dict[str, Any] = {}
        events: list[dict[str, Any]] = []

        def record(name: str, old: Any, new: Any) -> None:
            changes[name] = new
            events.append(event_row(now, actor.name, "change", field=name, old=old, new=new))

        if change.priority is not None and change.priority != ticket.priority:
            check_choice("priority", change.priority, PRIORITIES)
            record("priority", ticket.priority, change.priority)
        team = self._teams.get(ticket.team)
        if change.team is not None and change.team.strip().lower() != ticket.team.lower():
            team = known_team(self._teams, change.team)
            record("team", ticket.team, team.name)
            if ticket.assignee and not self._may_be_assigned(ticket.assignee, team.name):
                record("assignee", ticket.assignee, None)  # the new team picks its own agent
        if change.assignee is not None and (change.assignee or None) != ticket.assignee:
            assignee = change.assignee.strip() or None
            owner = changes.get("team", ticket.team)
            if assignee is not None and not self._may_be_assigned(assignee, owner):
                raise InvalidInput(f"{assignee!r} is not an agent of team {owner}", field="assignee")
            record("assignee", ticket.assignee, assignee)
            if assignee and ticket.status == "new" and change.status is None:
                changes.update(self._move(ticket, "open", now, record))
        if change.status is not None and change.status != ticket.status:
            if change.status == "resolved":
                resolution = checked_text(change.resolution or "", "resolution", MAX_MESSAGE)
                changes["resolution"] = resolution
                events.append({**event_row(now, actor.name, "resolution"), "body": resolution})
                if ticket.first_response_at is None:
                    changes["first_response_at"] = now
            changes.update(self._move(ticket, change.status, now, record))
        elif change.resolution is not None:
            raise InvalidInput("a resolution is given when setting `status` to resolved", field="resolution")
        if not events:
            return ticket
        if team is not None and ("priority" in changes or "team" in changes):
            # The promise is the owning team's: a transfer or a new priority moves it.
            priority = changes.get("priority", ticket.priority)
            changes["expected_first_response_by"] = first_response_due(team, ticket.created_at, priority)
        changes["updated_at"] = now
        kind = "ticket.resolved" if changes.get("status") == "resolved" else "ticket.updated"
        try:
            _, recorded = self._repository.update(
                ticket_id, changes, events, version=ticket.version, announce=[Announcement(kind)], at=now
            )
        except StaleTicket as exc:
            raise Conflict("the ticket changed while you were editing it; reload it and try again") from exc
        self._relay(recorded)
        return self._queries.get(ticket_id)

    @staticmethod
    def _check_requester_change(ticket: Ticket, change: TicketChange) -> None:
        """A requester may only reopen or close their own resolved ticket; the rest is the team's work."""
        if any(v is not None for v in (change.priority, change.team, change.assignee, change.resolution)):
            raise Forbidden("only the agents of the ticket's team can change its priority, team or assignee")
        if change.status is not None and change.status not in REQUESTER_MOVES:
            raise Forbidden("a requester can reopen (open) or close (closed) their resolved ticket")
        if change.status is not None and ticket.status != "resolved":
            raise Conflict(
                f"only a resolved ticket can be reopened or closed by its requester; it is {ticket.status}",
                field="status",
            )

    def _move(self, ticket: Ticket, new: str, now: datetime, record: Record) -> dict[str, Any]:
        """Record a state change; returns the fields that change with it (the SLA pause, timestamps)."""
        old = ticket.status
        check_transition(old, new)
        record("status", old, new)
        team = self._teams.get(ticket.team)
        updates: dict[str, Any] = {}
        if old == "pending" and ticket.pending_since is not None and team is not None:
            paused = business_hours_between(ticket.pending_since, now, team)
            updates["paused_hours"] = ticket.paused_hours + paused
            updates["pending_since"] = None
        if new == "pending":
            updates["pending_since"] = now
        if new == "resolved":
            updates["resolved_at"] = now
        if old == "resolved" and new == "open":
            updates["resolved_at"] = None
            updates["resolution"] = None  # the next resolution says what finally fixed it
            updates["sla_risk_notified"] = False
        if new == "closed":
            updates["closed_at"] = now
        return updates

    def _may_be_assigned(self, name: str, team: str) -> bool:
        user = self._users.by_name(name)
        if user is None:
            return False
        principal = Principal(name=user.name, role=user.role, teams=frozenset(user.teams))
        return can_work_ticket(principal, team)

    # Conversation -----------------------------------------------------------------------------------------
    def reply(
        self, ticket_id: int, body: str, actor: Principal, idempotency_key: str | None = None
    ) -> tuple[TicketEvent, bool]:
        """A reply visible to the requester: (event, replayed). An agent's first reply is the first response;
        the requester's reply reopens a pending or resolved ticket."""
        return self._message(ticket_id, body, actor, internal=False, idempotency_key=idempotency_key)

    def note(self, ticket_id: int, body: str, actor: Principal) -> TicketEvent:
        """An internal note: agents of the team and admins only, never shown to the requester."""
        ticket = self._queries.readable(ticket_id, actor)
        if not can_work_ticket(actor, ticket.team):
            raise Forbidden("internal notes are for the agents of the ticket's team")
        return self._message(ticket_id, body, actor, internal=True, idempotency_key=None)[0]

    def _message(
        self, ticket_id: int, body: str, actor: Principal, *, internal: bool, idempotency_key: str | None
    ) -> tuple[TicketEvent, bool]:
        key = checked_key(idempotency_key)
        text = checked_text(body, "body", MAX_MESSAGE)
        claim = None if key is None else IdempotencyClaim(actor.name, f"reply:{ticket_id}", key, fingerprint(text))
        # A message never conflicts with a concurrent change: on a stale read it is simply written again.
        for _ in range(MESSAGE_ATTEMPTS):
            # Access first: a replay answers only someone who may still read the ticket (not after a transfer).
            ticket = self._queries.readable(ticket_id, actor)
            if claim is not None and (replay := self._replay(claim)) is not None:
                return self._stored_event(replay), True
            try:
                return self._write_message(ticket, text, actor, internal, claim), False
            except DuplicateKey:
                continue  # the same key committed first: the loop returns its message
            except StaleTicket:
                continue
        raise Conflict("the ticket is changing too fast to add a message; try again", field="body")

    def _write_message(
        self, ticket: Ticket, text: str, actor: Principal, internal: bool, claim: IdempotencyClaim | None
    ) -> TicketEvent:
        if ticket.status == "closed":
            raise Conflict("the ticket is closed; open a new one", field="status")
        now = self._clock()
        agent = can_work_ticket(actor, ticket.team) and actor.name != ticket.requester
        changes: dict[str, Any] = {"updated_at": now}
        events: list[dict[str, Any]] = []

        def record(name: str, old: Any, new: Any) -> None:
            changes[name] = new
            events.append(event_row(now, actor.name, "change", field=name, old=old, new=new))

        if not internal:
            new_status = None
            if agent:
                if ticket.first_response_at is None:
                    changes["first_response_at"] = now
                if ticket.status == "new":
                    new_status = "open"
            elif ticket.status in ("pending", "resolved"):
                new_status = "open"
            if new_status is not None:
                changes.update(self._move(ticket, new_status, now, record))
        message = {**event_row(now, actor.name, "note" if internal else "reply"), "body": text, "internal": internal}
        announce = [] if internal else [Announcement("ticket.replied", about_message=True)]
        event_id, recorded = self._repository.update(
            ticket.id, changes, [*events, message], claim, version=ticket.version, announce=announce, at=now
        )
        assert event_id is not None
        self._relay(recorded)
        return self._stored_event(event_id)

    def _stored_event(self, event_id: int) -> TicketEvent:
        found = self._repository.event(event_id)
        assert found is not None  # ids come from committed rows
        return found

    # Satisfaction -----------------------------------------------------------------------------------------
    def rate(self, ticket_id: int, score: int, comment: str | None, actor: Principal) -> Ticket:
        ticket = self._queries.readable(ticket_id, actor)
        if actor.name != ticket.requester:
            raise Forbidden("only the requester rates a ticket")
        if ticket.status not in DONE:
            raise Conflict("a ticket is rated once it is resolved", field="status")
        if ticket.csat_score is not None:
            raise Conflict("this ticket has already been rated", field="score")
        low, high = CSAT_SCORES
        if not low <= score <= high:
            raise InvalidInput(f"`score` must be {low} to {high}", field="score")
        now = self._clock()
        comment = comment.strip() if comment and comment.strip() else None
        event = {**event_row(now, actor.name, "csat", field="csat_score", new=str(score)), "body": comment}
        rating = {"csat_score": score, "csat_comment": comment, "csat_at": now}
        try:
            self._repository.update(ticket_id, rating, [event], version=ticket.version, at=now)
        except StaleTicket as exc:  # rated (or reopened) meanwhile: the first rating stands
            raise Conflict("this ticket changed meanwhile (already rated?); reload it", field="score") from exc
        return self._queries.get(ticket_id)
