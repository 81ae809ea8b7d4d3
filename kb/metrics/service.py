"""Service standards metrics over a window [start, end): pure computation over the store's rows, no HTTP.

Every definition below is also in the README ("Service metrics: definitions"); keep the two in step.

- Window: `start` inclusive, `end` exclusive, instants in UTC. A ticket belongs to the team that owns it now.
- Scope: with a team, that team; without one, every team for an admin and the agent's own teams combined for an
  agent. Employees may not see metrics (kb.access.can_view_metrics decides).
- Business hours are the owning team's (its timezone, weekly hours and holidays: kb.teams); a ticket of a team
  that is no longer configured is measured in calendar hours.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from indexer.keyword_index import analyze
from kb.access import Principal, can_read_article, can_view_metrics
from kb.errors import Forbidden, InvalidInput
from kb.search.searcher import EVERYONE
from kb.store import Store
from kb.store.metrics import MetricsRepository
from kb.teams import PRIORITIES, Team, TeamDirectory, business_hours_between
from kb.teams.model import WEEKDAYS as _WEEKDAY_KEYS
from kb.tickets.sla import SlaStatus, sla_status
from kb.tickets.states import ACTIVE

DEFAULT_DAYS = 30
DEFLECTION_HOURS = 24
TOP_ARTICLES = 10
TOP_GAPS = 10
GAP_TERMS = 5
GAP_JACCARD = 0.5
WEEKDAYS = tuple(day.capitalize() for day in _WEEKDAY_KEYS)  # Mon..Sun, the busiest-hours row labels
AGE_BUCKETS = ("<1 day", "1-3 days", "3-7 days", ">7 days")
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)
_MAX_INSTANT_CHARS = 40


# The result ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Durations:
    """Business hours per ticket, summarised: how many tickets, their median and their mean (None without any)."""

    count: int
    median_hours: float | None
    mean_hours: float | None


@dataclass(frozen=True)
class SlaAttainment:
    """Of `count` tickets resolved in the window, how many met the first-response and the resolution target."""

    count: int
    first_response_met: int
    resolution_met: int
    first_response_met_share: float | None
    resolution_met_share: float | None


@dataclass(frozen=True)
class Backlog:
    """Active tickets (new, open, pending) at `at`, by state and by calendar age (time since created)."""

    at: datetime
    total: int
    by_state: dict[str, int]
    by_age: dict[str, int]


@dataclass(frozen=True)
class BusiestHours:
    """Tickets created in the window by local weekday (rows, Monday first) and hour (columns 0-23)."""

    timezone: str
    weekdays: list[str]
    counts: list[list[int]]
    total: int


@dataclass(frozen=True)
class Csat:
    """Ticket ratings (1-5) given in the window."""

    count: int
    average: float | None
    satisfied: int  # rated 4 or 5
    satisfied_share: float | None


@dataclass(frozen=True)
class Nps:
    """Net promoter score of the answers given in the window: % promoters (9-10) - % detractors (0-6)."""

    count: int
    promoters: int
    passives: int
    detractors: int
    score: float | None  # -100..100


@dataclass(frozen=True)
class Searches:
    """Searches in the window, how many were answered, and how many answered ones deflected a ticket."""

    count: int
    answered: int
    answered_share: float | None
    deflection_base: int  # answered searches by a known user
    deflected: int  # of those, followed by no ticket from the same user within 24 h
    deflection_share: float | None


@dataclass(frozen=True)
class ArticleStat:
    article_id: str
    title: str
    team: str | None
    views: int
    helpful: int
    not_helpful: int


@dataclass(frozen=True)
class TopArticles:
    """The 10 most viewed and the 10 most often voted helpful articles; totals over every counted article.
    Only published articles the reader may read are counted at all."""

    by_views: list[ArticleStat]
    by_helpful: list[ArticleStat]
    total_views: int
    total_helpful: int
    total_not_helpful: int


@dataclass(frozen=True)
class KnowledgeGap:
    """A cluster of unanswered queries: how many searches, how many distinct texts, one example, its terms."""

    count: int
    distinct_queries: int
    example: str
    terms: list[str]


@dataclass(frozen=True)
class ServiceMetrics:
    start: datetime
    end: datetime
    teams: list[str] | None  # the teams in scope; None: every team (an admin without a team filter)
    generated_at: datetime
    tickets_created: int
    tickets_resolved: int
    first_response: Durations
    handle_time: Durations
    sla: dict[str, SlaAttainment]  # per priority, and "all"
    backlog: Backlog
    busiest_hours: BusiestHours
    csat: Csat
    nps: Nps
    searches: Searches
    top_articles: TopArticles
    knowledge_gaps: list[KnowledgeGap] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types: datetimes become ISO 8601 strings (UTC)."""
        return _jsonable(asdict(self))  # type: ignore[no-any-return]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


# The window ----------------------------------------------------------------------------------------------------
def parse_instant(text: str, name: str) -> datetime:
    """An ISO 8601 date (midnight UTC) or date and time (UTC when it has no offset), as an aware UTC datetime."""
    problem = (
        f"`{name}` must be an ISO 8601 date (2026-10-01, midnight UTC) or date and time "
        "(2026-10-01T09:30:00+01:00; UTC without an offset), between 1970 and 9000"
    )
    value = text.strip()
    if not value or len(value) > _MAX_INSTANT_CHARS:
        raise InvalidInput(problem, field=name)
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidInput(problem, field=name) from exc
    if not _EARLIEST <= parsed <= _LATEST:
        raise InvalidInput(problem, field=name)
    return parsed


def metrics_window(start: str | None, end: str | None, now: datetime | None = None) -> tuple[datetime, datetime]:
    """[from, to) from the texts given: `to` defaults to now, `from` to 30 days before `to`; from < to."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    stop = parse_instant(end, "to") if end is not None else now
    begin = parse_instant(start, "from") if start is not None else stop - timedelta(days=DEFAULT_DAYS)
    if begin >= stop:
        raise InvalidInput("`from` must be before `to`", field="from")
    return begin, stop


def metrics_scope(reader: Principal, team: str | None, teams: TeamDirectory) -> list[str] | None:
    """The teams `reader` gets metrics for: None means every team (admins without a team filter).
    Forbidden for employees and for an agent asking about another team; InvalidInput for an unknown team."""
    if not can_view_metrics(reader, None):
        raise Forbidden("service metrics are for the agents of a team and for admins")
    if team is not None:
        found = teams.get(team)
        if found is None:
            raise InvalidInput(f"unknown team {team!r}; known teams: {', '.join(teams.names())}", field="team")
        if not can_view_metrics(reader, found.name):
            raise Forbidden(f"the metrics of {found.name} are for its agents and for admins")
        return [found.name]
    if reader.role == "admin":
        return None
    mine = [t.name for t in teams if can_view_metrics(reader, t.name)]
    if not mine:
        raise Forbidden("you are an agent of no configured team")
    return mine


# The computation -----------------------------------------------------------------------------------------------
def checked_metrics(
    reader: Principal,
    team: str | None,
    start_text: str | None,
    end_text: str | None,
    *,
    store: Store,
    teams: TeamDirectory,
    now: datetime | None = None,
) -> ServiceMetrics:
    """Every metric over the window the texts give (see `metrics_window`) for the teams `reader` may see (see
    `metrics_scope`): the scope is checked first, so an employee gets 403 whatever the window."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    scope = metrics_scope(reader, team, teams)
    start, end = metrics_window(start_text, end_text, now)
    return _compute(scope, start, end, reader, store=store, teams=teams, now=now)


def service_metrics(
    team: str | None,
    start: datetime,
    end: datetime,
    reader: Principal,
    *,
    store: Store,
    teams: TeamDirectory,
    now: datetime | None = None,
) -> ServiceMetrics:
    """Every metric over [start, end) (aware instants) for the teams `reader` may see (see `metrics_scope`)."""
    scope = metrics_scope(reader, team, teams)
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if start >= end:
        raise InvalidInput("`from` must be before `to`", field="from")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return _compute(scope, start, end, reader, store=store, teams=teams, now=now)


def _compute(
    scope: list[str] | None,
    start: datetime,
    end: datetime,
    reader: Principal,
    *,
    store: Store,
    teams: TeamDirectory,
    now: datetime,
) -> ServiceMetrics:
    """Every metric over [start, end) (UTC, start < end) for the teams in `scope` (None: every team), as `reader`
    sees them; `now` (UTC) decides whether the backlog is the current one or replayed from the history."""
    repository = MetricsRepository(store.engine)
    calendars = _Calendars(teams)
    in_scope = _scope_test(scope)

    created = repository.tickets_between("created_at", start, end, scope)
    resolved = repository.tickets_between("resolved_at", start, end, scope)
    rated = [t for t in repository.tickets_between("csat_at", start, end, scope) if t.get("csat_score") is not None]
    backlog_at = min(end, now)
    if backlog_at >= now:
        states = [(t, str(t["status"])) for t in repository.active(scope)]
    else:
        states = repository.statuses_at(backlog_at, scope)
    catalogue = repository.article_catalogue()
    searches = [s for s in store.search_log.between(start, end) if _search_in_scope(s, catalogue, in_scope, scope)]
    requests = repository.requests_between(start, end + timedelta(hours=DEFLECTION_HOURS))
    answers = [a for a in store.surveys.nps(start, end) if in_scope(a.get("team"))]
    feedback = repository.feedback_counts(start, end)
    resolutions = resolution_statuses(resolved, calendars)

    return ServiceMetrics(
        start=start,
        end=end,
        teams=scope,
        generated_at=now,
        tickets_created=len(created),
        tickets_resolved=len(resolved),
        first_response=first_response_times(created, calendars),
        handle_time=handle_times(resolutions),
        sla=sla_attainment(resolved, resolutions),
        backlog=backlog(states, backlog_at),
        busiest_hours=busiest_hours(created, calendars, scope),
        csat=csat(rated),
        nps=nps(answers),
        searches=search_stats(searches, requests),
        top_articles=top_articles(feedback, catalogue, reader, in_scope),
        knowledge_gaps=knowledge_gaps(s["query"] for s in searches if not s["answered"]),
    )


class _Calendars:
    """The Team whose business hours measure a ticket: its owning team, or calendar time (UTC) for a team that
    is no longer configured."""

    def __init__(self, teams: TeamDirectory) -> None:
        self._teams = teams
        self._unknown: dict[str, Team] = {}

    def of(self, name: str) -> Team:
        team = self._teams.get(name)
        if team is not None:
            return team
        if name not in self._unknown:
            self._unknown[name] = Team(name=name or "?")
        return self._unknown[name]


TeamTest = Callable[[str | None], bool]


def _scope_test(scope: Collection[str] | None) -> TeamTest:
    names = {t.lower() for t in scope} if scope is not None else None

    def in_scope(team: str | None) -> bool:
        return names is None or (team is not None and team.lower() in names)

    return in_scope


def _search_in_scope(
    search: dict[str, Any], catalogue: dict[str, dict[str, Any]], in_scope: TeamTest, scope: list[str] | None
) -> bool:
    """Every search for an admin without a team filter; otherwise a search belongs to the team that owns its top
    result meant for everyone, and a search without one belongs to no team. A restricted result must not
    decide: its team's agents would see, through the query, what only its audience may read."""
    if scope is None:
        return True
    for article_id in search.get("top_ids") or []:
        article = catalogue.get(str(article_id))
        if article is not None and not article["audience"]:
            return in_scope(article["team"])
    return False


def _durations(hours: list[float]) -> Durations:
    if not hours:
        return Durations(0, None, None)
    return Durations(len(hours), statistics.median(hours), statistics.fmean(hours))


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def first_response_times(created: Iterable[dict[str, Any]], calendars: _Calendars) -> Durations:
    """Tickets created in the window that have a first response: business hours of the owning team from
    `created_at` to `first_response_at`."""
    return _durations(
        [
            business_hours_between(t["created_at"], t["first_response_at"], calendars.of(t["team"]))
            for t in created
            if t.get("first_response_at") is not None
        ]
    )


def resolution_statuses(resolved: Iterable[dict[str, Any]], calendars: _Calendars) -> list[SlaStatus]:
    """The SLA status (kb.tickets.sla) of each ticket resolved in the window at the moment of its resolution, in
    the owning team's business hours; a ticket resolved without a recorded first response counts the resolution
    as its first response (as resolving one does)."""
    statuses: list[SlaStatus] = []
    for ticket in resolved:
        judged = dict(ticket)
        if judged.get("first_response_at") is None:
            judged["first_response_at"] = judged["resolved_at"]
        statuses.append(sla_status(judged, calendars.of(ticket["team"]), judged["resolved_at"]))
    return statuses


def handle_times(resolutions: Iterable[SlaStatus]) -> Durations:
    """Tickets resolved in the window (their `resolution_statuses`): business hours from `created_at` to
    `resolved_at` minus the business hours spent pending (`paused_hours`: the clock stops while the ticket waits
    on the requester), at least 0: the hours the resolution clock had used when it stopped."""
    return _durations([status.resolution.used_hours for status in resolutions])


def sla_attainment(resolved: Iterable[dict[str, Any]], resolutions: Iterable[SlaStatus]) -> dict[str, SlaAttainment]:
    """Tickets resolved in the window (and their `resolution_statuses`, in the same order), per priority (and
    "all"): the share whose first-response clock and whose resolution clock were met, judged by kb.tickets.sla at
    the moment of resolution. The first response is met when it came by `expected_first_response_by` (the promise
    made at creation, or at the last priority change); a ticket resolved without a recorded first response counts
    the resolution as its first response (as resolving one does). Resolution is met when `resolved_at` is within
    the priority's resolution target in business hours plus the business hours spent pending."""
    counts: dict[str, list[int]] = {p: [0, 0, 0] for p in (*PRIORITIES, "all")}
    for ticket, status in zip(resolved, resolutions, strict=True):
        for key in (ticket["priority"], "all"):
            row = counts.setdefault(key, [0, 0, 0])
            row[0] += 1
            row[1] += status.first_response.state == "met"
            row[2] += status.resolution.state == "met"
    return {key: SlaAttainment(n, fr, res, _share(fr, n), _share(res, n)) for key, (n, fr, res) in counts.items()}


def backlog(states: Iterable[tuple[dict[str, Any], str]], at: datetime) -> Backlog:
    """Tickets active (new, open or pending) at `at` (the window's end, or now when the end is in the future), by
    state and by calendar age at `at`: under 1 day, 1 to 3 days, 3 to 7 days, 7 days or more."""
    by_state: dict[str, int] = dict.fromkeys(ACTIVE, 0)
    by_age = dict.fromkeys(AGE_BUCKETS, 0)
    for ticket, state in states:
        if state not in by_state or ticket["created_at"] > at:
            continue
        by_state[state] += 1
        age = at - ticket["created_at"]
        bucket = 0 if age < timedelta(days=1) else 1 if age < timedelta(days=3) else 2 if age < timedelta(days=7) else 3
        by_age[AGE_BUCKETS[bucket]] += 1
    return Backlog(at, sum(by_state.values()), by_state, by_age)


def busiest_hours(
    created: Iterable[dict[str, Any]], calendars: _Calendars, scope: Collection[str] | None
) -> BusiestHours:
    """Tickets created in the window by weekday and hour of their creation in the owning team's timezone (each
    ticket in its own team's timezone when several teams are in scope)."""
    counts = [[0] * 24 for _ in WEEKDAYS]
    total = 0
    for ticket in created:
        local = ticket["created_at"].astimezone(calendars.of(ticket["team"]).zone)
        counts[local.weekday()][local.hour] += 1
        total += 1
    timezone = calendars.of(next(iter(scope))).timezone if scope is not None and len(scope) == 1 else "each team's"
    return BusiestHours(timezone, list(WEEKDAYS), counts, total)


def csat(rated: Iterable[dict[str, Any]]) -> Csat:
    """Tickets rated in the window (by `csat_at`): the mean score (1-5), the count, and the share rated 4 or 5."""
    scores = [int(t["csat_score"]) for t in rated]
    satisfied = sum(1 for s in scores if s >= 4)
    return Csat(len(scores), statistics.fmean(scores) if scores else None, satisfied, _share(satisfied, len(scores)))


def nps(answers: Iterable[dict[str, Any]]) -> Nps:
    """NPS answers given in the window: 100 * (promoters (9-10) - detractors (0-6)) / answers, -100..100. With a
    team in scope only answers naming one of the teams in scope count; an admin without a team filter counts
    every answer, those naming no team included."""
    scores = [int(a["score"]) for a in answers]
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    score = 100 * (promoters - detractors) / len(scores) if scores else None
    return Nps(len(scores), promoters, len(scores) - promoters - detractors, detractors, score)


def _known_user(user: str | None) -> bool:
    return bool(user) and user != EVERYONE.name


def search_stats(searches: list[dict[str, Any]], requests: Iterable[tuple[str, datetime]]) -> Searches:
    """Searches in the window, the share answered, and deflection: of the answered searches by a known user, the
    share after which that user opened no ticket (any team) within 24 hours (created at or after the search and
    before 24 h later). Searches without a user (or by "anonymous") take no part in deflection."""
    opened: dict[str, list[datetime]] = {}
    for requester, created_at in requests:
        opened.setdefault(requester, []).append(created_at)
    for times in opened.values():
        times.sort()
    answered = [s for s in searches if s["answered"]]
    base = [s for s in answered if _known_user(s.get("user"))]
    deflected = 0
    for search in base:
        at = search["created_at"]
        later = [t for t in opened.get(search["user"], []) if at <= t < at + timedelta(hours=DEFLECTION_HOURS)]
        deflected += not later
    return Searches(
        len(searches),
        len(answered),
        _share(len(answered), len(searches)),
        len(base),
        deflected,
        _share(deflected, len(base)),
    )


def top_articles(
    feedback: dict[str, dict[str, int]],
    catalogue: dict[str, dict[str, Any]],
    reader: Principal,
    in_scope: TeamTest,
) -> TopArticles:
    """Views and helpful / not-helpful votes in the window, per article. Only published articles that `reader`
    may read (kb.access.can_read_article) and that belong to a team in scope are counted, in the lists and in the
    totals alike; feedback on an article no longer in the store is not counted."""
    stats: list[ArticleStat] = []
    for article_id, kinds in feedback.items():
        article = catalogue.get(article_id)
        if article is None or article["status"] != "published" or not in_scope(article["team"]):
            continue
        if not can_read_article(reader, article["audience"]):
            continue
        stats.append(
            ArticleStat(
                article_id,
                str(article["title"]),
                article["team"],
                kinds.get("view", 0),
                kinds.get("helpful", 0),
                kinds.get("not_helpful", 0),
            )
        )
    by_views = sorted((s for s in stats if s.views), key=lambda s: (-s.views, s.article_id))[:TOP_ARTICLES]
    by_helpful = sorted((s for s in stats if s.helpful), key=lambda s: (-s.helpful, s.article_id))[:TOP_ARTICLES]
    return TopArticles(
        by_views,
        by_helpful,
        sum(s.views for s in stats),
        sum(s.helpful for s in stats),
        sum(s.not_helpful for s in stats),
    )


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b)


def _similar_pairs(sets: list[frozenset[str]], threshold: float) -> Iterable[tuple[int, int]]:
    """Every pair (i, j), i < j, of `sets` with a Jaccard similarity of at least `threshold`.

    Exact, with the prefix filter of set-similarity joins: order terms rarest first; two sets that reach the
    threshold share a term among the first |A| - ceil(threshold * |A|) + 1 terms of each, so only sets sharing
    such a prefix term are compared.
    """
    frequency = Counter(term for terms in sets for term in terms)
    postings: dict[str, list[int]] = {}
    for j, terms in enumerate(sets):
        ordered = sorted(terms, key=lambda t: (frequency[t], t))
        prefix = ordered[: len(ordered) - math.ceil(threshold * len(ordered) - 1e-9) + 1]
        candidates = sorted({i for term in prefix for i in postings.get(term, [])})
        for i in candidates:
            if _jaccard(sets[i], terms) >= threshold:
                yield i, j
        for term in prefix:
            postings.setdefault(term, []).append(j)


def knowledge_gaps(queries: Iterable[str], limit: int = TOP_GAPS) -> list[KnowledgeGap]:
    """Frequent unanswered queries, clustered without embeddings (deterministic, no model needed).

    Each query becomes the set of its terms (lower-cased, stop words dropped, stemmed: the keyword index's
    `analyze`); queries with the same set form a group. Two groups whose term sets have a Jaccard similarity
    (shared terms / all terms) of at least 0.5 are merged, transitively (single linkage): "reset my password",
    "password reset not working" and "how to reset password" make one cluster. A cluster reports its number of
    searches, of distinct query texts (case-insensitive), its most frequent query text as the example, and its
    5 most common terms. Queries with no terms left (only stop words) are not clustered.
    """
    groups: dict[frozenset[str], list[str]] = {}
    for query in queries:
        terms = frozenset(analyze(query))
        if terms:
            groups.setdefault(terms, []).append(" ".join(query.split()))
    keys = sorted(groups, key=sorted)
    parent = list(range(len(keys)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in _similar_pairs(keys, GAP_JACCARD):
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    clusters: dict[int, list[tuple[frozenset[str], list[str]]]] = {}
    for index, terms in enumerate(keys):
        clusters.setdefault(root(index), []).append((terms, groups[terms]))
    gaps: list[KnowledgeGap] = []
    for members in clusters.values():
        texts = [text for _terms, group in members for text in group]
        distinct = Counter(text.lower() for text in texts)
        example = min(texts, key=lambda t: (-distinct[t.lower()], len(t), t))
        term_counts: Counter[str] = Counter()
        for terms, group in members:
            for term in terms:
                term_counts[term] += len(group)
        top_terms = [t for t, _n in sorted(term_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:GAP_TERMS]]
        gaps.append(KnowledgeGap(len(texts), len(distinct), example, top_terms))
    gaps.sort(key=lambda g: (-g.count, g.example))
    return gaps[:limit]
