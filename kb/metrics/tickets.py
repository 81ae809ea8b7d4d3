"""Ticket metrics over a window: response and handle times, SLA attainment, backlog, busiest hours, CSAT, and the
NPS answers about the desks. Pure functions over the rows kb.store.metrics reads; every duration is counted in
the owning team's business hours (kb.teams), judged by kb.tickets.sla where an SLA is involved."""

from __future__ import annotations

import statistics
from collections.abc import Collection, Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from kb.metrics.results import Backlog, BusiestHours, Csat, Durations, Nps, SlaAttainment, share
from kb.store.metrics import MeasuredTicket, NpsScore
from kb.teams import PRIORITIES, Team, TeamDirectory, business_hours_between
from kb.teams.model import WEEKDAYS as _WEEKDAY_KEYS
from kb.tickets.sla import SlaStatus, sla_status
from kb.tickets.states import ACTIVE, Status

WEEKDAYS = tuple(day.capitalize() for day in _WEEKDAY_KEYS)  # Mon..Sun, the busiest-hours row labels
AGE_BUCKETS = ("<1 day", "1-3 days", "3-7 days", ">7 days")


class Calendars:
    """The Team whose business hours measure a ticket: its owning team, or calendar time (UTC) for a team that
    is no longer configured."""

    def __init__(self, teams: TeamDirectory) -> None:
        # The teams as they stand when the report starts, read once: every ticket of one report is measured by the
        # same calendars, and the directory's refresh check is not asked again for each ticket.
        self._teams = {team.name.lower(): team for team in teams}
        self._unknown: dict[str, Team] = {}

    def of(self, name: str) -> Team:
        team = self._teams.get(name.strip().lower())
        if team is not None:
            return team
        if name not in self._unknown:
            self._unknown[name] = Team(name=name or "?")
        return self._unknown[name]


def _durations(hours: list[float]) -> Durations:
    if not hours:
        return Durations(0, None, None)
    return Durations(len(hours), statistics.median(hours), statistics.fmean(hours))


def first_response_times(created: Iterable[MeasuredTicket], calendars: Calendars) -> Durations:
    """Tickets created in the window that have a first response: business hours of the owning team from
    `created_at` to `first_response_at`."""
    return _durations(
        [
            business_hours_between(t.created_at, t.first_response_at, calendars.of(t.team))
            for t in created
            if t.first_response_at is not None
        ]
    )


def resolution_statuses(resolved: Iterable[MeasuredTicket], calendars: Calendars) -> list[SlaStatus]:
    """The SLA status (kb.tickets.sla) of each ticket resolved in the window at the moment of its resolution, in
    the owning team's business hours; a ticket resolved without a recorded first response counts the resolution
    as its first response (as resolving one does)."""
    statuses: list[SlaStatus] = []
    for ticket in resolved:
        judged = (
            ticket if ticket.first_response_at is not None else replace(ticket, first_response_at=ticket.resolved_at)
        )
        assert judged.resolved_at is not None  # the repository selected it by `resolved_at`
        statuses.append(sla_status(judged, calendars.of(ticket.team), judged.resolved_at))
    return statuses


def handle_times(resolutions: Iterable[SlaStatus]) -> Durations:
    """Tickets resolved in the window (their `resolution_statuses`): business hours from `created_at` to
    `resolved_at` minus the business hours spent pending (`paused_hours`: the clock stops while the ticket waits
    on the requester), at least 0: the hours the resolution clock had used when it stopped."""
    return _durations([status.resolution.used_hours for status in resolutions])


def sla_attainment(resolved: Iterable[MeasuredTicket], resolutions: Iterable[SlaStatus]) -> dict[str, SlaAttainment]:
    """Tickets resolved in the window (and their `resolution_statuses`, in the same order), per priority (and
    "all"): the share whose first-response clock and whose resolution clock were met, judged by kb.tickets.sla at
    the moment of resolution. The first response is met when it came by `expected_first_response_by` (the promise
    made at creation, or at the last priority change); a ticket resolved without a recorded first response counts
    the resolution as its first response (as resolving one does). Resolution is met when `resolved_at` is within
    the priority's resolution target in business hours plus the business hours spent pending."""
    counts: dict[str, list[int]] = {p: [0, 0, 0] for p in (*PRIORITIES, "all")}
    for ticket, status in zip(resolved, resolutions, strict=True):
        for key in (ticket.priority, "all"):
            row = counts.setdefault(key, [0, 0, 0])
            row[0] += 1
            row[1] += status.first_response.state == "met"
            row[2] += status.resolution.state == "met"
    return {key: SlaAttainment(n, fr, res, share(fr, n), share(res, n)) for key, (n, fr, res) in counts.items()}


def backlog(states: Iterable[tuple[MeasuredTicket, Status]], at: datetime) -> Backlog:
    """Tickets active (new, open or pending) at `at` (the window's end, or now when the end is in the future), by
    state and by calendar age at `at`: under 1 day, 1 to 3 days, 3 to 7 days, 7 days or more."""
    by_state: dict[str, int] = dict.fromkeys(ACTIVE, 0)
    by_age = dict.fromkeys(AGE_BUCKETS, 0)
    for ticket, state in states:
        if state not in by_state or ticket.created_at > at:
            continue
        by_state[state] += 1
        age = at - ticket.created_at
        bucket = 0 if age < timedelta(days=1) else 1 if age < timedelta(days=3) else 2 if age < timedelta(days=7) else 3
        by_age[AGE_BUCKETS[bucket]] += 1
    return Backlog(at, sum(by_state.values()), by_state, by_age)


def busiest_hours(
    created: Iterable[MeasuredTicket], calendars: Calendars, scope: Collection[str] | None
) -> BusiestHours:
    """Tickets created in the window by weekday and hour of their creation in the owning team's timezone (each
    ticket in its own team's timezone when several teams are in scope)."""
    counts = [[0] * 24 for _ in WEEKDAYS]
    total = 0
    for ticket in created:
        local = ticket.created_at.astimezone(calendars.of(ticket.team).zone)
        counts[local.weekday()][local.hour] += 1
        total += 1
    timezone = calendars.of(next(iter(scope))).timezone if scope is not None and len(scope) == 1 else "each team's"
    return BusiestHours(timezone, list(WEEKDAYS), counts, total)


def csat(rated: Iterable[MeasuredTicket]) -> Csat:
    """Tickets rated in the window (by `csat_at`): the mean score (1-5), the count, and the share rated 4 or 5."""
    scores = [t.csat_score for t in rated if t.csat_score is not None]
    satisfied = sum(1 for s in scores if s >= 4)
    return Csat(len(scores), statistics.fmean(scores) if scores else None, satisfied, share(satisfied, len(scores)))


def nps(answers: Iterable[NpsScore]) -> Nps:
    """NPS answers given in the window: 100 * (promoters (9-10) - detractors (0-6)) / answers, -100..100. With a
    team in scope only answers naming one of the teams in scope count; an admin without a team filter counts
    every answer, those naming no team included."""
    scores = [a.score for a in answers]
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    score = 100 * (promoters - detractors) / len(scores) if scores else None
    return Nps(len(scores), promoters, len(scores) - promoters - detractors, detractors, score)
