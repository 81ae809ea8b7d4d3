"""A generated history: tickets with their conversations (replies, notes, pending spells, resolutions, CSAT),
searches, article views and votes, and NPS answers, as rows of the schema's tables.

Every status change a generated ticket goes through is checked against the real transition table
(kb.tickets.states), so the demo cannot show a lifecycle the service would refuse. Everything is drawn from one
`random.Random(seed)` in a fixed order, and times from `start` and `now`: the same seed gives the same history.
Nothing here touches the store (kb.demo.writer writes the rows).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kb.demo.arrivals import TEAM_WEIGHT_OTHER, TEAM_WEIGHTS, ArrivalSlots
from kb.demo.articles import DemoArticle
from kb.demo.texts import (
    AGENT_REPLIES,
    FIRST_NAMES,
    GAPS,
    LAST_NAMES,
    NOISE_QUERIES,
    NOTES,
    PENDING_QUESTIONS,
    REQUESTER_REPLIES,
    RESOLUTIONS,
    TOPICS,
)
from kb.settings import Settings
from kb.surveys import quarter_of
from kb.teams import Team, add_business_hours, first_response_due
from kb.tickets.states import Status, check_transition

PRIORITY_WEIGHTS = {"low": 0.17, "normal": 0.63, "high": 0.15, "urgent": 0.05}
# A resolved ticket nobody closes closes itself after the days the service waits by default.
AUTO_CLOSE_DAYS: int = Settings.model_fields["auto_close_days"].default

# A row of one of the schema's tables, as a bulk insert takes it: every column named.
Row = dict[str, Any]
# A ticket's row and its events' rows (without `ticket_id`: the writer knows it only once the ticket is inserted).
GeneratedTicket = tuple[Row, list[Row]]


@dataclass(frozen=True)
class History:
    """What `generate_history` drew, sorted by time within each table."""

    tickets: list[GeneratedTicket]
    searches: list[Row]
    feedback: list[Row]
    nps: list[Row]
    articles: int  # how many articles the searches, views and votes could refer to


@dataclass
class _Search:
    at: datetime
    query: str
    answered: bool
    confidence: float
    top_ids: list[str]
    user: str | None


@dataclass
class _Drawn:
    tickets: list[GeneratedTicket] = field(default_factory=list)
    searches: list[_Search] = field(default_factory=list)
    feedback: list[Row] = field(default_factory=list)
    nps: list[Row] = field(default_factory=list)


def _event(at: datetime, actor: str, kind: str, **fields: Any) -> Row:
    """Every event with every column, as a bulk insert (one statement, many rows) needs."""
    return {"at": at, "actor": actor, "kind": kind, "field": None, "old": None, "new": None, "body": None,
            "internal": False, **fields}  # fmt: skip


class _StatusTrail:
    """A generated ticket's status, moved only along the service's own transition table."""

    def __init__(self) -> None:
        self.current: Status = "new"

    def move(self, at: datetime, actor: str, new: Status) -> Row:
        """The status-change event; Conflict if the service would refuse the change."""
        check_transition(self.current, new)
        event = _event(at, actor, "change", field="status", old=self.current, new=new)
        self.current = new
        return event


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return math.exp(rng.gauss(math.log(median), sigma))


class _Generator:
    """Draws people, tickets, searches, views and NPS answers from one random source, in a fixed order."""

    def __init__(
        self, rng: random.Random, teams: list[Team], articles: Sequence[DemoArticle], start: datetime, now: datetime
    ) -> None:
        self.rng = rng
        self.teams = teams
        self.start = start
        self.now = now
        self.slots = {t.name: ArrivalSlots(t, start, now) for t in teams}
        self.team_weights = [TEAM_WEIGHTS.get(t.name.lower(), TEAM_WEIGHT_OTHER) for t in teams]
        readable = [a for a in articles if not a.audience]  # demo employees belong to no group
        self.articles_of = {t.name: [a for a in readable if (a.team or "").lower() == t.name.lower()] for t in teams}
        self.articles = readable
        self.agents = {t.name: self._agents(t) for t in teams}
        self.users: list[str] = []
        self.history = _Drawn()

    def _agents(self, team: Team) -> list[str]:
        names = [f"{self.rng.choice(FIRST_NAMES)}.{self.rng.choice(LAST_NAMES)}" for _ in range(4)]
        return [f"{name}.{team.name.lower()}" for name in names]

    def people(self, count: int) -> None:
        seen: dict[str, None] = {}
        while len(seen) < count:
            first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
            name = f"{first}.{last}" if f"{first}.{last}" not in seen else f"{first}.{last}{self.rng.randrange(2, 99)}"
            seen[name] = None
        self.users = list(seen)

    # Searches ---------------------------------------------------------------------------------------------
    def _article_query(self, article: DemoArticle) -> str:
        title = article.title.lower()
        words = title.split()
        style = self.rng.random()
        if style < 0.4:
            return title
        if style < 0.7:
            return " ".join(words[: max(3, len(words) - 2)])
        return f"how do i fix {' '.join(words[:5])}"

    def search(self, team: Team, at: datetime, user: str | None, *, answered: bool) -> _Search:
        rng = self.rng
        own = self.articles_of.get(team.name) or self.articles
        if answered and own:
            article = rng.choice(own)
            others = [a.id for a in rng.sample(own, min(3, len(own))) if a.id != article.id][:2]
            return _Search(at, self._article_query(article), True, rng.uniform(0.55, 0.97), [article.id, *others], user)
        gaps = [g for t, g in GAPS if t == team.name.lower()] or [g for _t, g in GAPS]
        if rng.random() < 0.85:
            # Zipf-like: the first gaps of a desk are asked about far more often than the last.
            weights = [1 / (i + 1) for i in range(len(gaps))]
            query = rng.choice(rng.choices(gaps, weights)[0])
        else:
            query = rng.choice(NOISE_QUERIES)
        top = [a.id for a in rng.sample(own, min(rng.randrange(0, 4), len(own)))] if own else []
        return _Search(at, query, False, rng.uniform(0.05, 0.45), top, user)

    def view(self, search: _Search) -> None:
        """After an answered search, the person opens the top article (75 %) and sometimes votes (30 %)."""
        rng = self.rng
        if not search.answered or not search.top_ids or search.user is None or rng.random() > 0.75:
            return
        seen = search.at + timedelta(seconds=rng.randrange(5, 90))
        row = {"article_id": search.top_ids[0], "user": search.user, "query": search.query}
        self.history.feedback.append({**row, "kind": "view", "at": seen})
        if rng.random() < 0.3:
            kind = "helpful" if rng.random() < 0.8 else "not_helpful"
            self.history.feedback.append({**row, "kind": kind, "at": seen + timedelta(seconds=rng.randrange(20, 300))})

    # Tickets ----------------------------------------------------------------------------------------------
    def ticket(self) -> GeneratedTicket:
        rng, now = self.rng, self.now
        team = rng.choices(self.teams, self.team_weights)[0]
        created = self.slots[team.name].pick(rng)
        priority = rng.choices(list(PRIORITY_WEIGHTS), list(PRIORITY_WEIGHTS.values()))[0]
        requester = rng.choice(self.users)
        agent = rng.choice(self.agents[team.name])
        subject = rng.choice(TOPICS.get(team.name.lower(), ("Question for the desk",)))
        values: Row = {
            "subject": subject,
            "description": f"{subject}. Reported through the portal; details in the conversation.",
            "requester": requester,
            "requester_email": f"{requester}@example.com",
            "team": team.name,
            "priority": priority,
            "search_query": None,
            "viewed_article_ids": [],
            "not_helpful_article_ids": [],
            "created_at": created,
            "expected_first_response_by": first_response_due(team, created, priority),
            "paused_hours": 0.0,
            "sla_risk_notified": False,
        }
        if rng.random() < 0.4:  # they searched first and did not find (or trust) an answer
            searched = created - timedelta(seconds=rng.randrange(60, 5400))
            search = self.search(team, max(searched, self.start), requester, answered=rng.random() < 0.35)
            self.history.searches.append(search)
            self.view(search)
            values["search_query"] = search.query
            values["viewed_article_ids"] = search.top_ids[:1] if search.answered else []

        events = [_event(created, requester, "created", field="team", new=team.name)]
        # Delays in business hours, relative to the targets: about one in ten misses each one.
        response_target = team.first_response_target(priority)
        resolution_target = team.resolution_target(priority)
        respond = max(0.02, response_target * _lognormal(rng, 0.35, 0.8))
        handle = max(respond + 0.1, resolution_target * _lognormal(rng, 0.3, 0.9))
        responded = add_business_hours(created, respond, team)
        # A pending spell (a quarter of the tickets) stops the clock: it adds to the time, not to the handle time.
        pending = rng.random() < 0.25
        paused = min(40.0, _lognormal(rng, 4.0, 0.9)) if pending else 0.0
        if pending:
            before_pending = (handle - respond) * rng.uniform(0.1, 0.6)
            pending_from = add_business_hours(responded, before_pending, team)
            pending_to = add_business_hours(pending_from, paused, team)
            resolved = add_business_hours(pending_to, handle - respond - before_pending, team)
        else:
            resolved = pending_from = pending_to = add_business_hours(responded, handle - respond, team)

        status = _StatusTrail()
        if responded <= now:
            values.update(first_response_at=responded, assignee=agent)
            events += [
                _event(responded, agent, "change", field="assignee", old=None, new=agent),
                status.move(responded, agent, "open"),
                {**_event(responded, agent, "reply"), "body": rng.choice(AGENT_REPLIES)},
            ]
            if rng.random() < 0.35:
                noted = responded + (min(resolved, now) - responded) * rng.random()
                events.append({**_event(noted, agent, "note"), "body": rng.choice(NOTES), "internal": True})
        if pending and responded <= now and pending_from <= now:
            values["pending_since"] = pending_from
            events += [
                {**_event(pending_from, agent, "reply"), "body": rng.choice(PENDING_QUESTIONS)},
                status.move(pending_from, agent, "pending"),
            ]
            if pending_to <= now:
                values.update(pending_since=None, paused_hours=paused)
                events += [
                    status.move(pending_to, requester, "open"),
                    {**_event(pending_to, requester, "reply"), "body": rng.choice(REQUESTER_REPLIES)},
                ]
        if status.current == "open" and resolved <= now:
            resolution = rng.choice(RESOLUTIONS)
            values.update(resolved_at=resolved, resolution=resolution)
            events += [
                {**_event(resolved, agent, "resolution"), "body": resolution},
                status.move(resolved, agent, "resolved"),
            ]
            if rng.random() < 0.3:  # CSAT on about 30 % of resolved tickets; a missed target lowers it
                rated = resolved + timedelta(minutes=rng.randrange(10, 2880))
                if rated <= now:
                    late = handle > resolution_target or respond > response_target
                    weights = (15, 15, 25, 30, 15) if late else (4, 6, 12, 35, 43)
                    score = rng.choices(range(1, 6), weights)[0]
                    values.update(csat_score=score, csat_at=rated)
                    events.append(_event(rated, requester, "csat", field="csat_score", new=str(score)))
            closed = (
                resolved + timedelta(hours=rng.uniform(1, 72))
                if rng.random() < 0.3
                else resolved + timedelta(days=AUTO_CLOSE_DAYS)
            )
            if closed <= now:
                values["closed_at"] = closed
                closer = requester if closed - resolved < timedelta(days=3) else "system"
                events.append(status.move(closed, closer, "closed"))
        values["status"] = status.current
        events.sort(key=lambda e: e["at"])
        values["updated_at"] = events[-1]["at"]
        return values, events

    # NPS --------------------------------------------------------------------------------------------------
    def nps(self, known: set[tuple[str, str]], last_team: dict[str, str]) -> None:
        """Some people answer the quarterly survey: at most once per user per quarter."""
        rng = self.rng
        quarters: list[tuple[str, datetime, datetime]] = []
        cursor = self.start
        while cursor < self.now:
            month = (cursor.month - 1) // 3 * 3 + 1
            begin = datetime(cursor.year, month, 1, tzinfo=UTC)
            following = datetime(begin.year + (month + 2) // 12, (month + 2) % 12 + 1, 1, tzinfo=UTC)
            quarters.append((quarter_of(cursor), max(begin, self.start), min(following, self.now)))
            cursor = following
        weights = (1, 1, 1, 2, 2, 4, 6, 10, 18, 22, 18)
        for user in self.users:
            for quarter, begin, end in quarters:
                if rng.random() > 0.3 or (user, quarter) in known:
                    continue
                at = begin + (end - begin) * rng.random()
                team = last_team.get(user) if rng.random() < 0.6 else None
                score = rng.choices(range(11), weights)[0]
                self.history.nps.append(
                    {"user": user, "quarter": quarter, "score": score, "comment": None, "team": team, "at": at}
                )


def generate_history(
    teams: Sequence[Team],
    articles: Sequence[DemoArticle],
    *,
    tickets: int,
    start: datetime,
    now: datetime,
    seed: int,
    answered_nps: set[tuple[str, str]],
) -> History:
    """`tickets` tickets between `start` and `now` with the searches, views, votes and NPS answers around them.
    `answered_nps`: the (user, quarter) pairs already answered, which get no second answer."""
    configured = list(teams)
    rng = random.Random(seed)
    generator = _Generator(rng, configured, articles, start, now)
    generator.people(min(2000, max(30, tickets // 4)))

    made = [generator.ticket() for _ in range(tickets)]
    made.sort(key=lambda item: item[0]["created_at"])
    generator.history.tickets = made
    # Searches nobody followed with a ticket (or did: then it is chance, as in life): 2.5 per ticket.
    for _ in range(tickets * 5 // 2):
        team = rng.choices(configured, generator.team_weights)[0]
        user = rng.choice(generator.users) if rng.random() < 0.92 else None
        search = generator.search(team, generator.slots[team.name].pick(rng), user, answered=rng.random() < 0.76)
        generator.history.searches.append(search)
        generator.view(search)
    last_team = {values["requester"]: values["team"] for values, _events in made}
    generator.nps(answered_nps, last_team)

    drawn = generator.history
    drawn.searches.sort(key=lambda s: s.at)
    drawn.feedback.sort(key=lambda f: f["at"])
    search_rows = [
        {
            "query": s.query,
            "answered": s.answered,
            "confidence": round(s.confidence, 4),
            "top_ids": s.top_ids,
            "latency_ms": round(rng.uniform(8, 45), 1),
            "created_at": s.at,
            "user": s.user,
        }
        for s in drawn.searches
    ]
    return History(
        tickets=made, searches=search_rows, feedback=drawn.feedback, nps=drawn.nps, articles=len(generator.articles)
    )
