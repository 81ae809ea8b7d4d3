"""`kb demo-data`: a realistic, generated history for trying the service metrics (and the portal) on a fresh KB.

Tickets across the configured teams (IT busiest), created mostly in each team's business hours with a weekday
and hour profile (a Monday-morning peak), priorities skewed to normal, first responses and resolutions at
plausible business-hour delays (about one in ten misses its target), pending spells, replies and internal
notes, CSAT on about 30 % of resolved tickets, NPS answers (at most one per user per quarter), searches
(about 70 % answered; some followed by a ticket from the same person), article views and votes.

Everything comes from one `random.Random(seed)` and `now` (default: the start of the current hour): the same
seed and `now` give the same history. Rows are written with bulk inserts, in batches; no model is loaded.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from indexer.build import Progress
from kb.articles import load_articles
from kb.errors import Conflict, InvalidInput
from kb.store import Store
from kb.store.metrics import MetricsRepository
from kb.surveys import quarter_of
from kb.teams import Team, TeamDirectory, add_business_hours

MAX_TICKETS = 200_000
MAX_DAYS = 3650
BATCH = 500
AUTO_CLOSE_DAYS = 7

# Share of the tickets each starter team receives; any other configured team gets TEAM_WEIGHT_OTHER.
TEAM_WEIGHTS = {"it": 0.48, "hr": 0.2, "facilities": 0.19, "finance": 0.13}
TEAM_WEIGHT_OTHER = 0.1
PRIORITY_WEIGHTS = {"low": 0.17, "normal": 0.63, "high": 0.15, "urgent": 0.05}
DAY_WEIGHTS = (1.45, 1.1, 1.0, 0.95, 0.8, 0.05, 0.03)  # Monday first
HOUR_WEIGHTS = (
    *(0.02,) * 7,
    0.3,  # 07
    1.0,  # 08
    1.5,  # 09
    1.4,  # 10
    1.2,  # 11
    0.7,  # 12
    0.9,  # 13
    1.1,  # 14
    1.0,  # 15
    0.8,  # 16
    0.5,  # 17
    0.25,  # 18
    0.12,  # 19
    0.08,  # 20
    0.05,  # 21
    0.03,  # 22
    0.02,  # 23
)
MONDAY_MORNING = 1.5  # Monday 08:00-12:00 on top of the day and hour weights
OUTSIDE_HOURS = 0.12  # weight of an hour the desk is closed (tickets arrive anyway, a few)
HOLIDAY = 0.1

FIRST_NAMES = (
    "ana", "joao", "marta", "pedro", "ines", "rui", "sofia", "tiago", "beatriz", "miguel", "kasia", "piotr",
    "agnieszka", "tomasz", "zofia", "marek", "claire", "julien", "camille", "louis", "emma", "hugo", "lea",
    "nathan", "olivia", "liam", "noah", "mia", "lucas", "eva", "david", "sara", "daniel", "laura", "max",
    "nina", "paul", "rita", "omar", "yuki",
)  # fmt: skip
LAST_NAMES = (
    "silva", "santos", "ferreira", "pereira", "costa", "almeida", "nowak", "kowalski", "wisniewska", "wojcik",
    "martin", "bernard", "dubois", "thomas", "robert", "richard", "petit", "durand", "leroy", "moreau",
    "smith", "jones", "brown", "taylor", "wilson", "evans", "walker", "wright", "green", "hall", "novak",
    "horvat", "meyer", "schmidt", "fischer", "weber", "rossi", "russo", "romano", "tanaka",
)  # fmt: skip

# What people ask each desk about: ticket subjects, and the gist of questions the KB cannot answer yet.
TOPICS: dict[str, tuple[str, ...]] = {
    "it": (
        "VPN keeps disconnecting",
        "Cannot sign in after password change",
        "MFA prompt never arrives on my phone",
        "Laptop very slow since the update",
        "Floor printer offline",
        "Outlook mailbox full",
        "Need admin rights to install software",
        "Docking station does not detect monitors",
        "Wi-Fi certificate warning in the office",
        "Shared mailbox missing in Outlook",
    ),
    "hr": (
        "Annual leave balance looks wrong",
        "Payslip not visible in the portal",
        "Need an employment certificate",
        "Question about parental leave",
        "How do I report sick leave",
        "Change of bank details for salary",
        "Health insurance enrolment for my partner",
        "Onboarding checklist for a new hire",
    ),
    "facilities": (
        "Badge does not open the 3rd floor door",
        "Lost my badge",
        "Meeting room screen not working",
        "Office too cold on the 2nd floor",
        "Broken chair at my desk",
        "Parking permit request",
        "Visitor registration for tomorrow",
        "Locker key lost",
    ),
    "finance": (
        "Expense report rejected",
        "Reimbursement not received",
        "Corporate card lost",
        "Purchase order approval stuck",
        "Supplier says invoice unpaid",
        "Per diem for a trip abroad",
        "Foreign currency receipt conversion",
    ),
}
# Unanswered questions, in paraphrases, with the desk they would go to: the knowledge gaps of the demo.
GAPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("it", ("second monitor for home office", "how to get a second monitor at home", "home office monitor request")),
    ("it", ("laptop battery swollen", "my laptop battery is swollen", "swollen battery laptop what to do")),
    ("it", ("install python on my laptop", "python installation laptop", "how to install python")),
    ("hr", ("bike to work scheme", "bike to work scheme application", "cycle to work scheme")),
    ("hr", ("sabbatical leave policy", "can I take a sabbatical", "sabbatical leave rules")),
    ("facilities", ("bike parking in the garage", "where can I park my bike", "bike parking garage access")),
    ("facilities", ("shower and towels at the office", "office showers towels", "are there showers in the office")),
    ("finance", ("home internet expense claim", "claim home internet costs", "home internet reimbursement")),
    ("finance", ("mileage allowance rate", "mileage rate for my own car", "car mileage allowance")),
)
NOISE_QUERIES = ("asdf", "help", "lunch menu today", "who is my manager", "wifi", "printer", "holiday calendar")

AGENT_REPLIES = (
    "Thanks for reporting this. I am looking into it now.",
    "I have picked this up; could you confirm when it started?",
    "Thanks, we are on it. I will update you here.",
)
PENDING_QUESTIONS = (
    "Could you send a screenshot of the error message?",
    "Can you confirm your device's asset tag?",
    "Could you tell us which days this affects?",
)
REQUESTER_REPLIES = ("Here it is, thanks.", "Done, see attached.", "Yes, it still happens.")
NOTES = (
    "Known issue, linked to last week's change.",
    "Checked the logs: same cause as the previous case.",
    "Escalated to second line for the fix.",
)
RESOLUTIONS = (
    "Reset the configuration and confirmed with the requester that it works again.",
    "Applied the documented fix; the requester confirmed.",
    "Replaced the faulty part and tested it together with the requester.",
)


@dataclass(frozen=True)
class DemoArticle:
    id: str
    title: str
    team: str | None
    audience: tuple[str, ...] = ()


@dataclass(frozen=True)
class DemoReport:
    tickets: int
    events: int
    searches: int
    feedback: int
    nps: int
    start: datetime
    end: datetime
    articles: int


@dataclass
class _Search:
    at: datetime
    query: str
    answered: bool
    confidence: float
    top_ids: list[str]
    user: str | None


@dataclass
class _History:
    tickets: list[tuple[dict[str, Any], list[dict[str, Any]]]] = field(default_factory=list)
    searches: list[_Search] = field(default_factory=list)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    nps: list[dict[str, Any]] = field(default_factory=list)


def demo_articles(store: Store, articles_dir: Path) -> list[DemoArticle]:
    """The published articles of the store (when the KB is indexed), else those of the articles folder."""
    stored = store.articles.published()
    if stored:
        return [DemoArticle(a["id"], a["title"], a["team"], tuple(a["audience"] or ())) for a in stored]
    if not articles_dir.is_dir():
        return []
    return [
        DemoArticle(a.id, a.title, a.team, a.audience) for a in load_articles(articles_dir).articles if a.searchable
    ]


class _Slots:
    """When a team's tickets arrive: every local hour of the span, weighted by weekday, hour and desk hours."""

    def __init__(self, team: Team, start: datetime, end: datetime) -> None:
        zone = team.zone
        holidays = set(team.holidays)
        self.starts: list[datetime] = []
        cumulative: list[float] = []
        total = 0.0
        day = start.astimezone(zone).date()
        last = end.astimezone(zone).date()
        while day <= last:
            weekday = day.weekday()
            open_hours = team.weekly_intervals.get(weekday, [])
            for hour in range(24):
                at = datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)
                if at < start or at + timedelta(hours=1) > end:
                    continue
                weight = DAY_WEIGHTS[weekday] * HOUR_WEIGHTS[hour]
                if weekday == 0 and 8 <= hour < 12:
                    weight *= MONDAY_MORNING
                inside = any(o.hour <= hour < (c.hour if c.minute == 0 else c.hour + 1) for o, c in open_hours)
                if not inside and team.weekly_intervals:
                    weight *= OUTSIDE_HOURS
                if day in holidays:
                    weight *= HOLIDAY
                total += weight
                self.starts.append(at)
                cumulative.append(total)
            day += timedelta(days=1)
        self._cumulative = cumulative

    def pick(self, rng: random.Random) -> datetime:
        index = bisect_left(self._cumulative, rng.random() * self._cumulative[-1])
        return self.starts[min(index, len(self.starts) - 1)] + timedelta(seconds=rng.randrange(3600))


def _event(at: datetime, actor: str, kind: str, **fields: Any) -> dict[str, Any]:
    """Every event with every column, as a bulk insert (one statement, many rows) needs."""
    return {"at": at, "actor": actor, "kind": kind, "field": None, "old": None, "new": None, "body": None,
            "internal": False, **fields}  # fmt: skip


def _status(at: datetime, actor: str, old: str, new: str) -> dict[str, Any]:
    return _event(at, actor, "change", field="status", old=old, new=new)


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return math.exp(rng.gauss(math.log(median), sigma))


class _Generator:
    def __init__(
        self, rng: random.Random, teams: list[Team], articles: Sequence[DemoArticle], start: datetime, now: datetime
    ) -> None:
        self.rng = rng
        self.teams = teams
        self.start = start
        self.now = now
        self.slots = {t.name: _Slots(t, start, now) for t in teams}
        self.team_weights = [TEAM_WEIGHTS.get(t.name.lower(), TEAM_WEIGHT_OTHER) for t in teams]
        readable = [a for a in articles if not a.audience]  # demo employees belong to no group
        self.articles_of = {t.name: [a for a in readable if (a.team or "").lower() == t.name.lower()] for t in teams}
        self.articles = readable
        self.agents = {t.name: self._agents(t) for t in teams}
        self.users: list[str] = []
        self.history = _History()

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
    def ticket(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        rng, now = self.rng, self.now
        team = rng.choices(self.teams, self.team_weights)[0]
        created = self.slots[team.name].pick(rng)
        priority = rng.choices(list(PRIORITY_WEIGHTS), list(PRIORITY_WEIGHTS.values()))[0]
        requester = rng.choice(self.users)
        agent = rng.choice(self.agents[team.name])
        subject = rng.choice(TOPICS.get(team.name.lower(), ("Question for the desk",)))
        values: dict[str, Any] = {
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
            "expected_first_response_by": add_business_hours(created, team.first_response_target(priority), team),
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

        status = "new"
        if responded <= now:
            status = "open"
            values.update(first_response_at=responded, assignee=agent)
            events += [
                _event(responded, agent, "change", field="assignee", old=None, new=agent),
                _status(responded, agent, "new", "open"),
                {**_event(responded, agent, "reply"), "body": rng.choice(AGENT_REPLIES)},
            ]
            if rng.random() < 0.35:
                noted = responded + (min(resolved, now) - responded) * rng.random()
                events.append({**_event(noted, agent, "note"), "body": rng.choice(NOTES), "internal": True})
        if pending and responded <= now and pending_from <= now:
            status = "pending"
            values["pending_since"] = pending_from
            events += [
                {**_event(pending_from, agent, "reply"), "body": rng.choice(PENDING_QUESTIONS)},
                _status(pending_from, agent, "open", "pending"),
            ]
            if pending_to <= now:
                status = "open"
                values.update(pending_since=None, paused_hours=paused)
                events += [
                    _status(pending_to, requester, "pending", "open"),
                    {**_event(pending_to, requester, "reply"), "body": rng.choice(REQUESTER_REPLIES)},
                ]
        if status == "open" and resolved <= now:
            status = "resolved"
            resolution = rng.choice(RESOLUTIONS)
            values.update(resolved_at=resolved, resolution=resolution)
            events += [
                {**_event(resolved, agent, "resolution"), "body": resolution},
                _status(resolved, agent, "open", "resolved"),
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
                status = "closed"
                values["closed_at"] = closed
                events.append(
                    _status(
                        closed, requester if closed - resolved < timedelta(days=3) else "system", "resolved", "closed"
                    )
                )
        values["status"] = status
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


def generate_demo_data(
    store: Store,
    teams: TeamDirectory,
    articles: Sequence[DemoArticle],
    *,
    tickets: int = 3000,
    days: int = 90,
    seed: int = 7,
    now: datetime | None = None,
    append: bool = False,
    progress: Progress | None = None,
) -> DemoReport:
    """Fill `store` with a generated history of `tickets` tickets over the `days` days before `now`.

    Refuses (Conflict) a store that already has tickets unless `append`. Deterministic for a seed and `now`.
    """
    if not 1 <= tickets <= MAX_TICKETS:
        raise InvalidInput(f"`tickets` must be 1 to {MAX_TICKETS}", field="tickets")
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"`days` must be 1 to {MAX_DAYS}", field="days")
    configured = list(teams)
    if not configured:
        raise InvalidInput("no teams are configured", field="teams_file")
    metrics = MetricsRepository(store.engine)
    if not append and metrics.ticket_count():
        raise Conflict("the store already has tickets; pass --yes to add the demo history to them", field="yes")
    # Without `now`: the start of the current hour, so that a seed gives the same history within the hour.
    now = (now or datetime.now(UTC).replace(minute=0, second=0)).astimezone(UTC).replace(microsecond=0)
    start = now - timedelta(days=days)
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
    generator.nps(metrics.nps_quarters(), last_team)

    history = generator.history
    history.searches.sort(key=lambda s: s.at)
    history.feedback.sort(key=lambda f: f["at"])
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
        for s in history.searches
    ]
    total = len(made) + len(search_rows) + len(history.feedback) + len(history.nps)
    if progress is not None:
        progress.start(total)
    for offset in range(0, len(made), BATCH):
        batch = made[offset : offset + BATCH]
        store.tickets.insert_many(batch)
        if progress is not None:
            progress.advance(len(batch))
    for rows, insert in (
        (search_rows, store.search_log.add_many),
        (history.feedback, store.surveys.add_feedback_many),
        (history.nps, store.surveys.add_nps_many),
    ):
        for offset in range(0, len(rows), BATCH * 4):
            chunk = rows[offset : offset + BATCH * 4]
            insert(chunk)
            if progress is not None:
                progress.advance(len(chunk))
    return DemoReport(
        tickets=len(made),
        events=sum(len(events) for _values, events in made),
        searches=len(search_rows),
        feedback=len(history.feedback),
        nps=len(history.nps),
        start=start,
        end=now,
        articles=len(generator.articles),
    )
