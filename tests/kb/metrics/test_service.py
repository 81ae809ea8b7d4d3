"""Service metrics (kb.metrics.service) on a real SQLite store: a small hand-built history with known answers, then
invariants that must hold exactly on a generated history of a few thousand tickets (kb demo-data)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kb.access import LOCAL_ADMIN, Principal
from kb.articles import Article, load_articles
from kb.demo import DemoArticle, generate_demo_data
from kb.errors import Conflict
from kb.metrics import MetricsService, ServiceMetrics
from kb.store import Store, schema
from kb.store.metrics import MetricsRepository
from kb.teams import TeamDirectory, add_business_hours, load_teams
from kb.tickets.states import ACTIVE
from tests.conftest import STARTER_ARTICLES

pytestmark = pytest.mark.both_stores

START = datetime(2026, 10, 19, tzinfo=UTC)  # a Monday; Lisbon leaves summer time on Sunday 25 October
END = datetime(2026, 11, 2, tzinfo=UTC)  # exclusive
LATER = datetime(2026, 11, 10, tzinfo=UTC)  # "now": the window is in the past

IT_AGENT = Principal(name="ivan", role="agent", teams=frozenset({"it"}))
HR_AGENT = Principal(name="hugo", role="agent", teams=frozenset({"HR"}))  # not in the `hr` group
HR_INSIDER = Principal(name="hana", role="agent", groups=frozenset({"hr"}), teams=frozenset({"HR"}))


def _report(
    team: str | None,
    start: datetime,
    end: datetime,
    reader: Principal,
    *,
    store: Store,
    teams: TeamDirectory,
    now: datetime,
) -> ServiceMetrics:
    """The one entry point, as the KnowledgeBase builds it over `store`."""
    return MetricsService(MetricsRepository(store.engine), teams).report(reader, team, start, end, now=now)


def _insert(store: Store, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Back-dated rows straight into the schema: the repositories only ever write the present."""
    with store.engine.begin() as conn:
        conn.execute(sa.insert(table), rows)


def _insert_tickets(store: Store, tickets: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> None:
    """Tickets with their histories (see `_ticket`), straight into the schema."""
    with store.engine.begin() as conn:
        for values, events in tickets:
            ticket_id = conn.execute(sa.insert(schema.tickets).values(**values)).inserted_primary_key[0]  # type: ignore[index]
            conn.execute(sa.insert(schema.ticket_events), [{**e, "ticket_id": ticket_id} for e in events])


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def teams() -> TeamDirectory:
    return load_teams(STARTER_ARTICLES / "teams.yaml")


def _ticket(
    teams: TeamDirectory,
    requester: str,
    team: str,
    priority: str,
    created: str,
    *,
    responded: str | None = None,
    pending: tuple[str, str | None] | None = None,
    paused_hours: float = 0.0,
    resolved: str | None = None,
    rated: tuple[int, str] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A ticket and the history the ticket service would have recorded (timestamps in UTC)."""
    found = teams.get(team)
    assert found is not None
    created_at = at(created)
    values: dict[str, Any] = {
        "subject": f"{requester}'s problem",
        "description": "Something is wrong.",
        "requester": requester,
        "team": found.name,
        "priority": priority,
        "status": "new",
        "viewed_article_ids": [],
        "created_at": created_at,
        "expected_first_response_by": add_business_hours(created_at, found.first_response_target(priority), found),
        "paused_hours": paused_hours,
    }
    # Every event with every column: one bulk insert statement takes them all.
    events = [
        {"at": created_at, "actor": requester, "kind": "created", "field": "team", "old": None, "new": found.name}
    ]

    def move(when: datetime, old: str, new: str) -> None:
        values["status"] = new
        events.append({"at": when, "actor": "agent", "kind": "change", "field": "status", "old": old, "new": new})

    if responded is not None:
        values["first_response_at"] = at(responded)
        move(at(responded), "new", "open")
    if pending is not None:
        move(at(pending[0]), "open", "pending")
        values["pending_since"] = at(pending[0])
        if pending[1] is not None:
            move(at(pending[1]), "pending", "open")
            values["pending_since"] = None
    if resolved is not None:
        values["resolved_at"] = at(resolved)
        move(at(resolved), "open", "resolved")
    if rated is not None:
        values["csat_score"], values["csat_at"] = rated[0], at(rated[1])
    return values, events


@pytest.fixture
def history(database_url: str, teams: TeamDirectory) -> Iterator[Store]:
    store = Store(database_url)
    t = teams
    _insert_tickets(
        store,
        [
            # T7: before the window, resolved in it (Mon 19 Oct 10:00 Lisbon): 8 + 10 + 9 + 2 = 29 business hours;
            # first response after 9 business hours (Thu 09:00 local): late for a normal ticket (8 h).
            _ticket(t, "ivy", "IT", "normal", "2026-10-14T09:00", responded="2026-10-15T08:00",
                    resolved="2026-10-19T09:00", rated=(2, "2026-10-18T10:00")),
            # T8: before the window, still open (more than 7 days old at the end).
            _ticket(t, "jack", "IT", "normal", "2026-10-12T09:00", responded="2026-10-12T10:00"),
            # T1: Monday 09:30 Lisbon summer time (08:30 UTC). Responded in 1 h, resolved in 10 business hours.
            _ticket(t, "carol", "IT", "normal", "2026-10-19T08:30", responded="2026-10-19T09:30",
                    resolved="2026-10-20T08:30", rated=(5, "2026-10-20T10:00")),
            # T3: Wednesday 17:00 local (high: 4 h / 16 h). Responded after 5 business hours (late); 2 h pending;
            # resolved after 18 business hours, 16 without the pause: exactly at its due time (met).
            _ticket(t, "erin", "IT", "high", "2026-10-21T16:00", responded="2026-10-22T11:00",
                    pending=("2026-10-22T13:00", "2026-10-22T15:00"), paused_hours=2.0,
                    resolved="2026-10-23T14:00", rated=(4, "2026-10-23T15:00")),
            # T2: Monday 09:30 Lisbon winter time (09:30 UTC), the same local hour as T1. 3 h, then 6 h.
            _ticket(t, "dave", "IT", "normal", "2026-10-26T09:30", responded="2026-10-26T12:30",
                    resolved="2026-10-26T15:30", rated=(3, "2026-10-26T16:00")),
            # T4: Thursday 09:00, low, never answered: new at the end, 3-7 days old.
            _ticket(t, "frank", "IT", "low", "2026-10-29T09:00"),
            # T5: Friday 10:00, urgent (1 h / 4 h): responded in 0.5 h (met), resolved in 6 h (breached).
            _ticket(t, "gina", "IT", "urgent", "2026-10-30T10:00", responded="2026-10-30T10:30",
                    resolved="2026-10-30T16:00", rated=(1, "2026-11-03T09:00")),
            # T10: Friday 14:00, responded in 0.5 h, pending since 15:00: pending at the end, 1-3 days old.
            _ticket(t, "kate", "IT", "normal", "2026-10-30T14:00", responded="2026-10-30T14:30",
                    pending=("2026-10-30T15:00", None)),
            # T6: Saturday 11:00; first response Monday 08:30 (after the window): 0.5 business hours; resolved
            # after the window, so it was still new at the end.
            _ticket(t, "hank", "IT", "normal", "2026-10-31T11:00", responded="2026-11-02T08:30",
                    resolved="2026-11-03T09:00"),
            # T9: HR (Warsaw), alice: 20 h after her answered search.
            _ticket(t, "alice", "HR", "normal", "2026-10-20T08:00", responded="2026-10-20T09:00"),
        ]
    )  # fmt: skip
    store.articles.import_articles(
        [
            Article(id="vpn", title="VPN drops", body="", sections=(), team="IT"),
            Article(id="printer", title="Printer offline", body="", sections=(), team="IT"),
            Article(id="leave", title="Annual leave", body="", sections=(), team="HR"),
            Article(id="secret", title="Bonus calibration", body="", sections=(), team="HR", audience=("hr",)),
        ],
        prune=True,
    )

    def search(query: str, answered: bool, top: list[str], user: str | None, when: str) -> dict[str, Any]:
        return {
            "query": query,
            "answered": answered,
            "confidence": 0.9 if answered else 0.2,
            "top_ids": top,
            "latency_ms": 10.0,
            "created_at": at(when),
            "user": user,
        }

    _insert(
        store,
        schema.search_log,
        [
            search("vpn drops on hotel wifi", True, ["vpn"], "alice", "2026-10-19T12:00"),  # ticket within 24 h
            search("printer offline", True, ["printer"], "bob", "2026-10-21T10:00"),  # bob never opens a ticket
            search("vpn", True, ["vpn"], None, "2026-10-21T11:00"),  # no user: not in deflection
            search("vpn keeps dropping", True, ["vpn"], "anonymous", "2026-10-21T12:00"),  # likewise
            search("reset my password", False, ["vpn"], "carol", "2026-10-19T08:00"),
            search("password reset not working", False, ["printer"], "xavier", "2026-10-20T08:00"),
            search("how to reset password", False, [], "yann", "2026-10-20T09:00"),  # no results: no team
            search("leave balance", True, ["leave"], "dave", "2026-10-25T09:00"),  # HR; dave's T2 24.5 h later
            search("printer offline", True, ["printer"], "erin", "2026-10-21T15:00"),  # erin's T3 an hour later
            search("vpn", True, ["vpn"], "zoe", "2026-11-05T10:00"),  # after the window
            search("bike parking", False, ["printer"], "yves", "2026-10-27T10:00"),
        ],
    )

    def feedback(
        article_id: str, kind: str, count: int, when: str = "2026-10-22T10:00", who: str = "u"
    ) -> list[dict[str, Any]]:
        return [{"article_id": article_id, "user": f"{who}{i}", "kind": kind, "at": at(when)} for i in range(count)]

    _insert(
        store,
        schema.article_feedback,
        [
            *feedback("vpn", "view", 3),
            *feedback("vpn", "helpful", 2),
            *feedback("vpn", "view", 7, when="2026-11-05T10:00"),  # after the window
            *feedback("printer", "view", 2),
            *feedback("printer", "helpful", 1),
            *feedback("printer", "not_helpful", 1, who="v"),  # someone else: a user's latest vote is their one vote
            *feedback("leave", "view", 1),
            *feedback("secret", "view", 5),
            *feedback("secret", "helpful", 3),
            *feedback("gone", "view", 4),  # no longer in the store
        ],
    )

    def answer(user: str, score: int, team: str | None, when: str = "2026-10-22T10:00") -> dict[str, Any]:
        return {"user": user, "quarter": "2026-Q4", "score": score, "team": team, "at": at(when)}

    _insert(
        store,
        schema.nps_responses,
        [
            answer("u1", 10, "IT"),
            answer("u2", 9, "IT"),
            answer("u3", 8, "IT"),
            answer("u4", 6, "IT"),
            answer("u5", 3, None),
            answer("u6", 10, "HR"),
            answer("u7", 0, "IT", when="2026-10-10T10:00"),  # before the window
        ],
    )
    yield store
    store.close()


def _metrics(store: Store, teams: TeamDirectory, reader: Principal, team: str | None = None) -> ServiceMetrics:
    return _report(team, START, END, reader, store=store, teams=teams, now=LATER)


def test_volumes_response_and_handle_times(history: Store, teams: TeamDirectory) -> None:
    m = _metrics(history, teams, LOCAL_ADMIN, "IT")

    assert m.teams == ["IT"]
    assert m.tickets_created == 7  # T1, T2, T3, T4, T5, T6, T10
    assert m.tickets_resolved == 5  # T7, T1, T3, T2, T5 (T6 after the window)
    # First responses of the tickets created in the window: 1, 3, 5, 0.5, 0.5, 0.5 business hours (T4: none).
    assert m.first_response.count == 6
    assert m.first_response.median_hours == pytest.approx(0.75)
    assert m.first_response.mean_hours == pytest.approx(10.5 / 6)
    # Handle times of the resolved ones: 29, 10, 18 - 2 paused, 6, 6.
    assert m.handle_time.count == 5
    assert m.handle_time.median_hours == pytest.approx(10)
    assert m.handle_time.mean_hours == pytest.approx(67 / 5)


def test_sla_attainment_per_priority(history: Store, teams: TeamDirectory) -> None:
    sla = _metrics(history, teams, LOCAL_ADMIN, "IT").sla

    # normal: T7 (late first response, resolved in time), T1 and T2 (both in time).
    assert (sla["normal"].count, sla["normal"].first_response_met, sla["normal"].resolution_met) == (3, 2, 3)
    assert sla["normal"].first_response_met_share == pytest.approx(2 / 3)
    assert sla["normal"].resolution_met_share == 1.0
    # high: T3 answered late; resolved exactly at its due time (the pause added to it): met.
    assert (sla["high"].count, sla["high"].first_response_met, sla["high"].resolution_met) == (1, 0, 1)
    # urgent: T5 answered in time, resolved late.
    assert (sla["urgent"].first_response_met_share, sla["urgent"].resolution_met_share) == (1.0, 0.0)
    assert sla["low"].count == 0
    assert sla["low"].first_response_met_share is None
    assert (sla["all"].count, sla["all"].first_response_met_share, sla["all"].resolution_met_share) == (5, 0.6, 0.8)


def test_backlog_at_the_end_of_a_past_window_is_replayed_from_the_history(history: Store, teams: TeamDirectory) -> None:
    backlog = _metrics(history, teams, LOCAL_ADMIN, "IT").backlog

    assert backlog.at == END
    # T6 is resolved now, but was still new at the end of the window; T10 is pending; T8 open since 12 October.
    assert backlog.by_state == {"new": 2, "open": 1, "pending": 1}
    assert backlog.by_age == {"<1 day": 0, "1-3 days": 2, "3-7 days": 1, ">7 days": 1}
    assert backlog.total == 4


def test_backlog_of_a_window_reaching_now_is_the_current_state(history: Store, teams: TeamDirectory) -> None:
    now = at("2026-11-04T00:00")
    m = _report("IT", START, now + timedelta(days=1), LOCAL_ADMIN, store=history, teams=teams, now=now)

    assert m.backlog.at == now
    assert m.backlog.by_state == {"new": 1, "open": 1, "pending": 1}  # T4, T8, T10
    assert m.backlog.by_age == {"<1 day": 0, "1-3 days": 0, "3-7 days": 2, ">7 days": 1}


def test_busiest_hours_are_counted_in_the_team_timezone_across_a_dst_change(
    history: Store, teams: TeamDirectory
) -> None:
    busiest = _metrics(history, teams, LOCAL_ADMIN, "IT").busiest_hours

    assert busiest.timezone == "Europe/Lisbon"
    assert busiest.weekdays[0] == "Mon"
    # T1 (08:30 UTC in summer time) and T2 (09:30 UTC in winter time) are both Monday 09:xx in Lisbon.
    assert busiest.counts[0][9] == 2
    assert busiest.counts[0][8] == 0
    expected = {(2, 17): 1, (3, 9): 1, (4, 10): 1, (4, 14): 1, (5, 11): 1, (0, 9): 2}
    cells = {(d, h): n for d, row in enumerate(busiest.counts) for h, n in enumerate(row) if n}
    assert cells == expected
    assert busiest.total == sum(map(sum, busiest.counts)) == 7


def test_csat_and_nps(history: Store, teams: TeamDirectory) -> None:
    it = _metrics(history, teams, LOCAL_ADMIN, "IT")
    # Ratings given in the window: 5 (T1), 4 (T3), 3 (T2); T7's came before it and T5's after.
    assert (it.csat.count, it.csat.average, it.csat.satisfied) == (3, 4.0, 2)
    assert it.csat.satisfied_share == pytest.approx(2 / 3)
    # Answers naming IT in the window: 10, 9, 8, 6 -> (2 promoters - 1 detractor) / 4.
    assert (it.nps.count, it.nps.promoters, it.nps.passives, it.nps.detractors) == (4, 2, 1, 1)
    assert it.nps.score == 25.0

    everyone = _metrics(history, teams, LOCAL_ADMIN)
    # Every answer, those naming no team or HR included: 10, 9, 8, 6, 3, 10 -> (3 - 2) / 6.
    assert everyone.nps.count == 6
    assert everyone.nps.score == pytest.approx(100 / 6)


def test_searches_answered_share_and_deflection(history: Store, teams: TeamDirectory) -> None:
    searches = _metrics(history, teams, LOCAL_ADMIN, "IT").searches

    # IT: searches whose top result is an IT article (the HR one, the one without results and the late one out).
    assert (searches.count, searches.answered) == (8, 5)
    assert searches.answered_share == 5 / 8
    # Answered by a known user: alice (HR ticket 20 h later), bob (no ticket), erin (ticket 1 h later).
    assert (searches.deflection_base, searches.deflected) == (3, 1)
    assert searches.deflection_share == pytest.approx(1 / 3)

    everyone = _metrics(history, teams, LOCAL_ADMIN).searches
    assert (everyone.count, everyone.answered, everyone.deflection_base, everyone.deflected) == (10, 6, 4, 2)


def test_knowledge_gaps_cluster_paraphrases(history: Store, teams: TeamDirectory) -> None:
    it = _metrics(history, teams, LOCAL_ADMIN, "IT").knowledge_gaps
    assert [(g.count, g.example) for g in it] == [(2, "reset my password"), (1, "bike parking")]
    assert set(it[0].terms) == {"reset", "password", "my", "work"}
    assert it[0].terms[:2] == ["password", "reset"]  # in both queries

    everyone = _metrics(history, teams, LOCAL_ADMIN).knowledge_gaps
    assert [(g.count, g.distinct_queries) for g in everyone] == [(3, 3), (1, 1)]


def test_top_articles_count_only_what_the_reader_may_read(history: Store, teams: TeamDirectory) -> None:
    admin = _metrics(history, teams, LOCAL_ADMIN).top_articles
    assert [(a.article_id, a.views) for a in admin.by_views] == [
        ("secret", 5),
        ("vpn", 3),
        ("printer", 2),
        ("leave", 1),
    ]
    assert [(a.article_id, a.helpful) for a in admin.by_helpful] == [("secret", 3), ("vpn", 2), ("printer", 1)]
    assert (admin.total_views, admin.total_helpful, admin.total_not_helpful) == (11, 6, 1)  # "gone" not counted

    it = _metrics(history, teams, IT_AGENT).top_articles
    assert [(a.article_id, a.views, a.helpful, a.not_helpful) for a in it.by_views] == [
        ("vpn", 3, 2, 0),
        ("printer", 2, 1, 1),
    ]
    assert (it.total_views, it.total_helpful) == (5, 3)

    outsider = _metrics(history, teams, HR_AGENT, "HR").top_articles
    assert [a.article_id for a in outsider.by_views] == ["leave"]
    assert outsider.by_helpful == []
    assert (outsider.total_views, outsider.total_helpful) == (1, 0)
    assert "secret" not in str(_metrics(history, teams, HR_AGENT).to_dict()).lower()

    insider = _metrics(history, teams, HR_INSIDER, "HR").top_articles
    assert [(a.article_id, a.views) for a in insider.by_views] == [("secret", 5), ("leave", 1)]
    assert insider.total_views == 6


def test_to_dict_is_plain_json(history: Store, teams: TeamDirectory) -> None:
    import json

    data = json.loads(json.dumps(_metrics(history, teams, IT_AGENT).to_dict()))
    assert data["start"] == "2026-10-19T00:00:00+00:00"
    assert data["teams"] == ["IT"]
    assert data["sla"]["all"]["count"] == 5
    assert len(data["busiest_hours"]["counts"]) == 7


# A generated history -----------------------------------------------------------------------------------------
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def generated(
    tmp_path_factory: pytest.TempPathFactory, new_database_url: Callable[[Path], str], teams: TeamDirectory
) -> Iterator[Store]:
    store = Store(new_database_url(tmp_path_factory.mktemp("generated")))
    starter = load_articles(STARTER_ARTICLES).articles
    store.articles.import_articles(starter, prune=True)  # as `kb index` does: the store decides who may read what
    articles = [DemoArticle(a.id, a.title, a.team, a.audience) for a in starter]
    report = generate_demo_data(store, teams, articles, tickets=3000, days=90, seed=11, now=NOW)
    assert report.tickets == 3000
    yield store
    store.close()


def _count(store: Store, where: sa.ColumnElement[bool]) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(schema.tickets).where(where)).scalar_one())


@pytest.mark.parametrize(
    ("team", "start", "end"),
    [
        (None, NOW - timedelta(days=30), NOW),
        ("IT", NOW - timedelta(days=90), NOW + timedelta(days=1)),
        ("HR", NOW - timedelta(days=45), NOW - timedelta(days=10)),
        ("Finance", NOW - timedelta(days=7), NOW - timedelta(days=6, hours=12)),
    ],
)
def test_generated_history_invariants(
    generated: Store, teams: TeamDirectory, team: str | None, start: datetime, end: datetime
) -> None:
    m = _report(team, start, end, LOCAL_ADMIN, store=generated, teams=teams, now=NOW)
    t = schema.tickets
    scope: sa.ColumnElement[bool] = t.c.team == team if team else sa.true()

    created = _count(generated, sa.and_(scope, t.c.created_at >= start, t.c.created_at < end))
    assert m.tickets_created == created
    assert m.busiest_hours.total == sum(map(sum, m.busiest_hours.counts)) == created
    assert len(m.busiest_hours.counts) == 7 and all(len(row) == 24 for row in m.busiest_hours.counts)
    assert m.tickets_resolved == _count(generated, sa.and_(scope, t.c.resolved_at >= start, t.c.resolved_at < end))
    assert m.first_response.count <= created
    assert m.sla["all"].count == m.tickets_resolved == sum(m.sla[p].count for p in ("low", "normal", "high", "urgent"))

    backlog = m.backlog
    assert backlog.total == sum(backlog.by_state.values()) == sum(backlog.by_age.values())
    if end >= NOW:
        assert backlog.total == _count(generated, sa.and_(scope, t.c.status.in_(ACTIVE)))
    else:
        # Replayed from the history; the generated tickets are never reopened, so their timestamps agree.
        def active_at(row: dict[str, Any]) -> bool:
            ended = [row[k] for k in ("resolved_at", "closed_at") if row.get(k) is not None]
            return row["created_at"] <= end and not any(e <= end for e in ended)

        measured = MetricsRepository(generated.engine).tickets_between("created_at", NOW - timedelta(days=400), NOW)
        rows = [asdict(r) for r in measured]
        assert backlog.total == sum(1 for r in rows if (team is None or r["team"] == team) and active_at(r))

    shares = [
        m.csat.satisfied_share,
        m.searches.answered_share,
        m.searches.deflection_share,
        *(row.first_response_met_share for row in m.sla.values()),
        *(row.resolution_met_share for row in m.sla.values()),
    ]
    assert all(s is None or 0 <= s <= 1 for s in shares)
    assert m.nps.score is None or -100 <= m.nps.score <= 100
    assert m.nps.count == m.nps.promoters + m.nps.passives + m.nps.detractors
    assert m.csat.average is None or 1 <= m.csat.average <= 5
    for durations in (m.first_response, m.handle_time):
        assert (durations.median_hours is None) == (durations.mean_hours is None) == (durations.count == 0)
        assert durations.median_hours is None or durations.median_hours >= 0
    assert len(m.top_articles.by_views) <= 10 and len(m.knowledge_gaps) <= 10


def test_generated_history_looks_like_a_service_desk(generated: Store, teams: TeamDirectory) -> None:
    m = _report(None, NOW - timedelta(days=90), NOW, LOCAL_ADMIN, store=generated, teams=teams, now=NOW)

    by_team = {name: _count(generated, schema.tickets.c.team == name) for name in teams.names()}
    assert max(by_team, key=by_team.__getitem__) == "IT"
    counts = m.busiest_hours.counts
    assert sum(counts[0]) > sum(counts[4]) > sum(counts[5]) + sum(counts[6])  # Monday > Friday > weekend
    assert max(range(24), key=lambda h: counts[0][h]) in (8, 9, 10, 11)  # Monday morning peak
    assert m.sla["all"].count > 2000
    assert 0.8 < m.sla["all"].first_response_met_share < 0.99  # type: ignore[operator]
    assert 0.8 < m.sla["all"].resolution_met_share < 0.99  # type: ignore[operator]
    assert max(m.sla, key=lambda p: m.sla[p].count if p != "all" else 0) == "normal"
    assert 0.6 < m.searches.answered_share < 0.8  # type: ignore[operator]
    assert 0.2 < m.csat.count / m.tickets_resolved < 0.4
    top = m.top_articles
    assert len(top.by_views) == 10 and top.by_views[0].views >= top.by_views[-1].views
    assert sum(a.views for a in top.by_views) <= top.total_views
    assert len(m.knowledge_gaps) == 10 and m.knowledge_gaps[0].count > m.knowledge_gaps[-1].count
    with generated.engine.connect() as conn:
        quarters = conn.execute(sa.select(schema.nps_responses.c.user, schema.nps_responses.c.quarter)).all()
        notes = conn.execute(
            sa.select(sa.func.count()).select_from(schema.ticket_events).where(schema.ticket_events.c.internal)
        ).scalar_one()
    assert len(quarters) == len(set(quarters)) > 100
    assert notes > 500


def test_demo_data_is_deterministic_and_refuses_a_store_with_tickets(
    tmp_path: Path, new_database_url: Callable[[Path], str], teams: TeamDirectory
) -> None:
    articles = [DemoArticle("vpn", "VPN drops on hotel wifi", "IT"), DemoArticle("leave", "Annual leave", "HR")]
    dumps = []
    for name in ("a", "b"):
        store = Store(new_database_url(tmp_path / name))
        generate_demo_data(store, teams, articles, tickets=200, days=20, seed=5, now=NOW)
        with store.engine.connect() as conn:
            dumps.append(
                [
                    conn.execute(sa.select(table).order_by(table.c.id)).all()
                    for table in (schema.tickets, schema.ticket_events, schema.search_log, schema.nps_responses)
                ]
            )
        if name == "b":
            with pytest.raises(Conflict):
                generate_demo_data(store, teams, articles, tickets=10, days=20, seed=5, now=NOW)
            generate_demo_data(store, teams, articles, tickets=10, days=20, seed=6, now=NOW, append=True)
            assert MetricsRepository(store.engine).ticket_count() == 210
        store.close()
    assert dumps[0] == dumps[1]
