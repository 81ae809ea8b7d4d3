"""The ticket lifecycle: create (routed, idempotent), read, list, change, reply, note, rate, auto-close.

Who may do what is asked of kb.access; times are kept in UTC and measured in the owning team's business
hours (kb.tickets.sla). Every change is one transaction with its history event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from kb.access import Principal, can_read_article, can_read_ticket, can_work_ticket
from kb.errors import Conflict, Forbidden, InvalidInput, NotFound
from kb.store.database import UserRepository
from kb.store.event_log import Announcement
from kb.store.tickets import DuplicateKey, IdempotencyClaim, StaleTicket, TicketFilter, TicketRepository
from kb.teams import PRIORITIES, Team, TeamDirectory, add_business_hours, business_hours_between
from kb.tickets.sla import SLA_STATES, sla_status
from kb.tickets.states import ACTIVE, STATES, check_transition

MAX_SUBJECT = 300
MAX_DESCRIPTION = 20_000
MAX_MESSAGE = 20_000
MAX_KEY = 200
MESSAGE_ATTEMPTS = 5


@dataclass(frozen=True)
class NewTicket:
    subject: str
    description: str
    requester: str
    team: str | None = None
    priority: str = "normal"
    search_query: str | None = None
    viewed_article_ids: list[str] = field(default_factory=list)
    not_helpful_article_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TicketChange:
    """A PATCH: only the fields that are set change. `assignee=""` unassigns."""

    status: str | None = None
    priority: str | None = None
    team: str | None = None
    assignee: str | None = None
    resolution: str | None = None


@dataclass(frozen=True)
class TicketQuery:
    scope: str = "visible"  # mine | team | visible (everything the reader may see)
    status: str | None = None
    team: str | None = None
    priority: str | None = None
    assignee: str | None = None
    sla: str | None = None
    page: int = 1
    per_page: int = 20


def _text(value: str, name: str, limit: int) -> str:
    text = value.strip()
    if not text:
        raise InvalidInput(f"`{name}` must not be empty", field=name)
    if len(text) > limit:
        raise InvalidInput(f"`{name}` is longer than {limit} characters", field=name)
    return text


def _all_public(article_ids: Collection[str]) -> dict[str, list[str]]:
    """Without an article store: every id counts as an article meant for everyone."""
    return {article_id: [] for article_id in article_ids}


def _choice(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise InvalidInput(f"unknown {name} {value!r}; use {', '.join(allowed)}", field=name)


def _key(key: str | None) -> str | None:
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY:
        raise InvalidInput(f"the Idempotency-Key must be 1-{MAX_KEY} characters", field="Idempotency-Key")
    return key.strip()


def _fingerprint(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _event(at: datetime, actor: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"at": at, "actor": actor, "kind": kind, "internal": False, **fields}


class TicketService:
    def __init__(
        self,
        repository: TicketRepository,
        teams: TeamDirectory,
        router: Callable[[str], str],
        users: UserRepository,
        audiences_of: Callable[[Collection[str]], dict[str, list[str]]] = _all_public,
        relay: Callable[[list[int]], None] = lambda _: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`audiences_of(article_ids)`: the audiences of those that exist (one lookup for many); `relay`
        hands recorded events to the notifiers once their change has committed."""
        self._repository = repository
        self._teams = teams
        self._route = router
        self._users = users
        self._audiences_of = audiences_of
        self._relay = relay
        self._clock = clock

    # Create -----------------------------------------------------------------------------------------------
    def create(self, new: NewTicket, idempotency_key: str | None = None) -> tuple[dict[str, Any], bool]:
        """The new ticket, or with a key already used by this requester, the ticket it made: (ticket, replayed)."""
        key = _key(idempotency_key)
        subject = _text(new.subject, "subject", MAX_SUBJECT)
        description = _text(new.description, "description", MAX_DESCRIPTION)
        requester = _text(new.requester, "requester", 200)
        _choice("priority", new.priority, PRIORITIES)
        claim = None
        if key is not None:
            claim = IdempotencyClaim(requester, "ticket", key, _fingerprint(asdict(new)))
            if (replay := self._replay(claim)) is not None:
                return self.get(replay), True
        team = self._team(
            new.team.strip() if new.team and new.team.strip() else self._route_text(new, subject, description)
        )
        created_at = self._clock()
        user = self._users.by_name(requester)
        values = {
            "subject": subject,
            "description": description,
            "requester": requester,
            "requester_email": user["email"] if user else None,
            "team": team.name,
            "priority": new.priority,
            "status": "new",
            "search_query": new.search_query,
            "viewed_article_ids": self._known_articles(new.viewed_article_ids),
            "not_helpful_article_ids": self._known_articles(new.not_helpful_article_ids),
            "created_at": created_at,
            "updated_at": created_at,
            "paused_hours": 0.0,
            "expected_first_response_by": add_business_hours(
                created_at, team.first_response_target(new.priority), team
            ),
        }
        created = _event(created_at, requester, "created", field="team", new=team.name)
        try:
            ticket, recorded = self._repository.add(values, created, claim, [Announcement("ticket.created")])
        except DuplicateKey:
            assert claim is not None
            replay = self._replay(claim)
            assert replay is not None  # the key exists: that is why the insert failed
            return self.get(replay), True
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

    def _team(self, name: str) -> Team:
        team = self._teams.get(name)
        if team is None:
            raise InvalidInput(f"unknown team {name!r}; known teams: {', '.join(self._teams.names())}", field="team")
        return team

    # Read -------------------------------------------------------------------------------------------------
    def get(self, ticket_id: int) -> dict[str, Any]:
        ticket = self._repository.get(ticket_id)
        if ticket is None:
            raise NotFound(f"no ticket {ticket_id}", field="ticket_id")
        return ticket

    def readable(self, ticket_id: int, reader: Principal) -> dict[str, Any]:
        """The ticket if `reader` may see it; otherwise the same 404 as for a missing one."""
        ticket = self._repository.get(ticket_id)
        if ticket is None or not can_read_ticket(reader, ticket["requester"], ticket["team"]):
            raise NotFound(f"no ticket {ticket_id}", field="ticket_id")
        return ticket

    def view(self, ticket: dict[str, Any], reader: Principal, *, history: bool = True) -> dict[str, Any]:
        """What `reader` sees of a ticket: its fields, SLA status and, for the detail view, its history.
        Internal notes only reach the agents of the team and admins."""
        team = self._teams.get(ticket["team"])
        now = self._clock()
        view = dict(ticket)
        # The requester may have read articles this reader may not: their ids stay out of the reader's view.
        context = ticket["viewed_article_ids"] + ticket["not_helpful_article_ids"]
        audiences = self._audiences_of(set(context)) if context else {}
        for key in ("viewed_article_ids", "not_helpful_article_ids"):
            view[key] = [a for a in ticket[key] if can_read_article(reader, audiences.get(a) or [])]
        if team is not None:
            sla = sla_status(ticket, team, now)
            view["expected_resolution_by"] = sla.resolution.due
            view["sla"] = {
                "state": sla.state,
                "paused": sla.paused,
                **{
                    name: {
                        "state": c.state,
                        "due": c.due,
                        "target_hours": c.target_hours,
                        "used_hours": round(c.used_hours, 2),
                    }
                    for name, c in (("first_response", sla.first_response), ("resolution", sla.resolution))
                },
            }
        if history:
            view["events"] = self._repository.events(ticket["id"], internal=can_work_ticket(reader, ticket["team"]))
        return view

    def find(self, reader: Principal, query: TicketQuery) -> tuple[list[dict[str, Any]], int]:
        """A page of the tickets `reader` may see that match `query`, newest first, with SLA status."""
        if query.scope not in ("mine", "team", "visible"):
            raise InvalidInput("`scope` must be mine, team or visible", field="scope")
        for name, value, allowed in (
            ("status", query.status, STATES),
            ("priority", query.priority, PRIORITIES),
            ("sla", query.sla, SLA_STATES),
        ):
            if value is not None:
                _choice(name, value, allowed)
        if not 1 <= query.per_page <= 100 or query.page < 1:
            raise InvalidInput("`page` must be 1 or more and `per_page` 1-100", field="per_page")
        where = TicketFilter(
            statuses=None if query.status is None else (query.status,),
            priority=query.priority,
            assignee=query.assignee,
            team=self._team(query.team).name if query.team is not None else None,
        )
        if query.scope == "mine" or (query.scope == "visible" and reader.role == "employee"):
            where = replace(where, requester=reader.name)
        elif query.scope == "team" or reader.role == "agent":
            mine = None if query.scope == "team" else reader.name
            where = replace(where, teams=self._teams_of(reader), include_requester=mine)
        rows = [t for t in self._repository.find(where) if can_read_ticket(reader, t["requester"], t["team"])]
        start, end = (query.page - 1) * query.per_page, query.page * query.per_page
        if query.sla is None:  # SLA status only for the page shown
            return [self.view(t, reader, history=False) for t in rows[start:end]], len(rows)
        views = [self.view(t, reader, history=False) for t in rows]
        matching = [v for v in views if v.get("sla", {}).get("state") == query.sla]
        return matching[start:end], len(matching)

    def _teams_of(self, reader: Principal) -> list[str]:
        if reader.role == "admin":
            return self._teams.names()
        return [t.name for t in self._teams if can_work_ticket(reader, t.name)]

    # Change -----------------------------------------------------------------------------------------------
    def update(self, ticket_id: int, change: TicketChange, actor: Principal) -> dict[str, Any]:
        ticket = self.readable(ticket_id, actor)
        agent = can_work_ticket(actor, ticket["team"])
        if not agent:
            self._check_requester_change(ticket, change)
        now = self._clock()
        changes: dict[str, Any] = {}
        events: list[dict[str, Any]] = []

        def record(name: str, old: Any, new: Any) -> None:
            changes[name] = new
            events.append(_event(now, actor.name, "change", field=name, old=old, new=new))

        if change.priority is not None and change.priority != ticket["priority"]:
            _choice("priority", change.priority, PRIORITIES)
            record("priority", ticket["priority"], change.priority)
        team = self._teams.get(ticket["team"])
        if change.team is not None and change.team.strip().lower() != ticket["team"].lower():
            team = self._team(change.team)
            record("team", ticket["team"], team.name)
            if ticket["assignee"] and not self._may_be_assigned(ticket["assignee"], team.name):
                record("assignee", ticket["assignee"], None)  # the new team picks its own agent
        if change.assignee is not None and (change.assignee or None) != ticket["assignee"]:
            assignee = change.assignee.strip() or None
            if assignee is not None and not self._may_be_assigned(assignee, changes.get("team", ticket["team"])):
                raise InvalidInput(
                    f"{assignee!r} is not an agent of team {changes.get('team', ticket['team'])}", field="assignee"
                )
            record("assignee", ticket["assignee"], assignee)
            if assignee and ticket["status"] == "new" and change.status is None:
                changes.update(self._move(ticket, "open", now, record))
        if change.status is not None and change.status != ticket["status"]:
            if change.status == "resolved":
                resolution = _text(change.resolution or "", "resolution", MAX_MESSAGE)
                changes["resolution"] = resolution
                events.append({**_event(now, actor.name, "resolution"), "body": resolution})
                if ticket["first_response_at"] is None:
                    changes["first_response_at"] = now
            changes.update(self._move(ticket, change.status, now, record))
        elif change.resolution is not None:
            raise InvalidInput("a resolution is given when setting `status` to resolved", field="resolution")
        if not events:
            return ticket
        if team is not None and ("priority" in changes or "team" in changes):
            # The promise is the owning team's: a transfer or a new priority moves it.
            priority = changes.get("priority", ticket["priority"])
            changes["expected_first_response_by"] = add_business_hours(
                ticket["created_at"], team.first_response_target(priority), team
            )
        changes["updated_at"] = now
        kind = "ticket.resolved" if changes.get("status") == "resolved" else "ticket.updated"
        try:
            _, recorded = self._repository.update(
                ticket_id, changes, events, version=ticket["version"], announce=[Announcement(kind)], at=now
            )
        except StaleTicket as exc:
            raise Conflict("the ticket changed while you were editing it; reload it and try again") from exc
        self._relay(recorded)
        return self.get(ticket_id)

    def _check_requester_change(self, ticket: dict[str, Any], change: TicketChange) -> None:
        """A requester may only reopen or close their own resolved ticket; the rest is the team's work."""
        if any(v is not None for v in (change.priority, change.team, change.assignee, change.resolution)):
            raise Forbidden("only the agents of the ticket's team can change its priority, team or assignee")
        if change.status is not None and change.status not in ("open", "closed"):
            raise Forbidden("a requester can reopen (open) or close (closed) their resolved ticket")
        if change.status is not None and ticket["status"] != "resolved":
            raise Conflict(
                f"only a resolved ticket can be reopened or closed by its requester; it is {ticket['status']}",
                field="status",
            )

    def _move(
        self, ticket: dict[str, Any], new: str, now: datetime, record: Callable[[str, Any, Any], None]
    ) -> dict[str, Any]:
        """Record a state change; returns the fields that change with it (the SLA pause, timestamps)."""
        old = ticket["status"]
        check_transition(old, new)
        record("status", old, new)
        team = self._teams.get(ticket["team"])
        updates: dict[str, Any] = {}
        if old == "pending" and ticket["pending_since"] is not None and team is not None:
            paused = business_hours_between(ticket["pending_since"], now, team)
            updates["paused_hours"] = ticket["paused_hours"] + paused
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
        principal = Principal(name=user["name"], role=user["role"], teams=frozenset(user["teams"]))
        return can_work_ticket(principal, team)

    # Conversation -----------------------------------------------------------------------------------------
    def reply(
        self, ticket_id: int, body: str, actor: Principal, idempotency_key: str | None = None
    ) -> tuple[dict[str, Any], bool]:
        """A reply visible to the requester: (event, replayed). An agent's first reply is the first response;
        the requester's reply reopens a pending or resolved ticket."""
        return self._message(ticket_id, body, actor, internal=False, idempotency_key=idempotency_key)

    def note(self, ticket_id: int, body: str, actor: Principal) -> dict[str, Any]:
        """An internal note: agents of the team and admins only, never shown to the requester."""
        ticket = self.readable(ticket_id, actor)
        if not can_work_ticket(actor, ticket["team"]):
            raise Forbidden("internal notes are for the agents of the ticket's team")
        return self._message(ticket_id, body, actor, internal=True, idempotency_key=None)[0]

    def _message(
        self, ticket_id: int, body: str, actor: Principal, *, internal: bool, idempotency_key: str | None
    ) -> tuple[dict[str, Any], bool]:
        key = _key(idempotency_key)
        text = _text(body, "body", MAX_MESSAGE)
        claim = None if key is None else IdempotencyClaim(actor.name, f"reply:{ticket_id}", key, _fingerprint(text))
        # A message never conflicts with a concurrent change: on a stale read it is simply written again.
        for _ in range(MESSAGE_ATTEMPTS):
            # Access first: a replay answers only someone who may still read the ticket (not after a transfer).
            ticket = self.readable(ticket_id, actor)
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
        self, ticket: dict[str, Any], text: str, actor: Principal, internal: bool, claim: IdempotencyClaim | None
    ) -> dict[str, Any]:
        if ticket["status"] == "closed":
            raise Conflict("the ticket is closed; open a new one", field="status")
        now = self._clock()
        agent = can_work_ticket(actor, ticket["team"]) and actor.name != ticket["requester"]
        changes: dict[str, Any] = {"updated_at": now}
        events: list[dict[str, Any]] = []

        def record(name: str, old: Any, new: Any) -> None:
            changes[name] = new
            events.append(_event(now, actor.name, "change", field=name, old=old, new=new))

        if not internal:
            new_status = None
            if agent:
                if ticket["first_response_at"] is None:
                    changes["first_response_at"] = now
                if ticket["status"] == "new":
                    new_status = "open"
            elif ticket["status"] in ("pending", "resolved"):
                new_status = "open"
            if new_status is not None:
                changes.update(self._move(ticket, new_status, now, record))
        message = {**_event(now, actor.name, "note" if internal else "reply"), "body": text, "internal": internal}
        announce = [] if internal else [Announcement("ticket.replied", about_message=True)]
        event_id, recorded = self._repository.update(
            ticket["id"], changes, [*events, message], claim, version=ticket["version"], announce=announce, at=now
        )
        assert event_id is not None
        self._relay(recorded)
        return self._stored_event(event_id)

    def _stored_event(self, event_id: int) -> dict[str, Any]:
        found = self._repository.event(event_id)
        assert found is not None  # ids come from committed rows
        return found

    # Satisfaction -----------------------------------------------------------------------------------------
    def rate(self, ticket_id: int, score: int, comment: str | None, actor: Principal) -> dict[str, Any]:
        ticket = self.readable(ticket_id, actor)
        if actor.name != ticket["requester"]:
            raise Forbidden("only the requester rates a ticket")
        if ticket["status"] not in ("resolved", "closed"):
            raise Conflict("a ticket is rated once it is resolved", field="status")
        if ticket["csat_score"] is not None:
            raise Conflict("this ticket has already been rated", field="score")
        if not 1 <= score <= 5:
            raise InvalidInput("`score` must be 1 to 5", field="score")
        now = self._clock()
        comment = comment.strip() if comment and comment.strip() else None
        event = {**_event(now, actor.name, "csat", field="csat_score", new=str(score)), "body": comment}
        rating = {"csat_score": score, "csat_comment": comment, "csat_at": now}
        try:
            self._repository.update(ticket_id, rating, [event], version=ticket["version"], at=now)
        except StaleTicket as exc:  # rated (or reopened) meanwhile: the first rating stands
            raise Conflict("this ticket changed meanwhile (already rated?); reload it", field="score") from exc
        return self.get(ticket_id)

    # Housekeeping -----------------------------------------------------------------------------------------
    def close_resolved(self, after_days: int) -> list[int]:
        """Close tickets resolved more than `after_days` days ago; the requester had that long to reopen.
        A ticket reopened between the read and the write is left open."""
        now = self._clock()
        closed = []
        for ticket in self._repository.resolved_before(now - timedelta(days=after_days)):
            event = _event(now, "system", "change", field="status", old="resolved", new="closed")
            try:
                _, recorded = self._repository.update(
                    ticket["id"],
                    {"status": "closed", "closed_at": now, "updated_at": now},
                    [event],
                    version=ticket["version"],
                    announce=[Announcement("ticket.updated")],
                    at=now,
                )
            except StaleTicket:
                continue
            self._relay(recorded)
            closed.append(ticket["id"])
        return closed

    def flag_at_risk(self) -> list[int]:
        """Announce `ticket.sla_at_risk` once for each active ticket whose SLA is at risk or breached."""
        now = self._clock()
        flagged = []
        for ticket in self._repository.find(TicketFilter(statuses=ACTIVE)):
            team = self._teams.get(ticket["team"])
            if ticket["sla_risk_notified"] or team is None:
                continue
            sla = sla_status(ticket, team, now)
            if sla.state == "on_track" or sla.paused:
                continue
            try:
                _, recorded = self._repository.update(
                    ticket["id"],
                    {"sla_risk_notified": True},
                    [],
                    version=ticket["version"],
                    announce=[Announcement("ticket.sla_at_risk", {"sla": {"state": sla.state}})],
                    at=now,
                )
            except StaleTicket:
                continue  # changed meanwhile: the next round judges it again
            self._relay(recorded)
            flagged.append(ticket["id"])
        return flagged

    # Events -----------------------------------------------------------------------------------------------
    def event_data(self, pending: dict[str, Any]) -> dict[str, Any]:
        """The payload of a recorded ticket event, built from the ticket as it is when dispatched. Only public
        fields: internal notes and the article ids of the search context never leave."""
        ticket = self.get(pending["ticket_id"])
        team = self._teams.get(ticket["team"])
        data: dict[str, Any] = {
            "ticket": {
                "id": ticket["id"],
                "url": f"/v1/tickets/{ticket['id']}",
                **{k: ticket.get(k) for k in ("subject", "status", "priority", "team", "requester", "assignee")},
                **{
                    k: ticket[k].isoformat() if ticket.get(k) else None
                    for k in ("created_at", "expected_first_response_by")
                },
            },
            "requester_email": ticket.get("requester_email"),
            "team_email": team.email if team else None,
            **pending["data"],
        }
        if pending["event_id"] is not None:
            message = self._stored_event(pending["event_id"])
            data["reply"] = {"author": message["actor"], "body": message["body"]}
        return data
