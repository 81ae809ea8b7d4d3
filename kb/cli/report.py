"""`kb report`: the service metrics as tables (or one JSON document). Loads no model: it only reads the store."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from kb.access import LOCAL_ADMIN
from kb.cli.common import console, domain_errors, knowledge_base
from kb.metrics import ServiceMetrics
from kb.metrics.results import Durations

# Background shades of the busiest-hours cells, from quiet to busiest.
HEAT = ("", "on grey23", "on grey37", "on dark_orange3", "on red3")


def report_command(
    team: Annotated[str | None, typer.Option(help="One team (default: every team).")] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="Start, inclusive: ISO date or date-time (default: 30 days ago).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="End, exclusive: ISO date or date-time (default: now).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables.")] = False,
) -> None:
    """Service metrics over a window: volumes, response and handle times, SLAs, backlog, busiest hours,
    CSAT, NPS, searches and deflection, top articles, knowledge gaps. Runs as the local admin."""
    with domain_errors(), knowledge_base() as kb:
        metrics = kb.metrics.report(LOCAL_ADMIN, team, start, end)
    if as_json:
        typer.echo(json.dumps(metrics.to_dict(), ensure_ascii=False))
        return
    _print_report(metrics)


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} h"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _durations(d: Durations) -> str:
    return f"median {_hours(d.median_hours)}, mean {_hours(d.mean_hours)} ({d.count} tickets)"


def _print_report(m: ServiceMetrics) -> None:
    scope = ", ".join(m.teams) if m.teams is not None else "all teams"
    console.print(
        f"[bold]Service metrics[/] for {scope}: {m.start:%Y-%m-%d %H:%M} to {m.end:%Y-%m-%d %H:%M} UTC",
        highlight=False,
    )

    summary = Table(title="Tickets", show_header=False)
    summary.add_column("metric")
    summary.add_column("value")
    summary.add_row("created", str(m.tickets_created))
    summary.add_row("resolved", str(m.tickets_resolved))
    summary.add_row("first response (business hours)", _durations(m.first_response))
    summary.add_row("handle time (business hours, pauses excluded)", _durations(m.handle_time))
    summary.add_row(
        "CSAT",
        f"{m.csat.average:.2f} / 5, {_share(m.csat.satisfied_share)} satisfied ({m.csat.count} ratings)"
        if m.csat.average is not None
        else "- (no ratings)",
    )
    summary.add_row(
        "NPS",
        f"{m.nps.score:+.0f} ({m.nps.promoters} promoters, {m.nps.passives} passives, {m.nps.detractors} detractors)"
        if m.nps.score is not None
        else "- (no answers)",
    )
    s = m.searches
    summary.add_row("searches", f"{s.count}, {_share(s.answered_share)} answered")
    summary.add_row("deflection", f"{_share(s.deflection_share)} of {s.deflection_base} answered searches by a user")
    console.print(summary)

    sla = Table(title="SLA attainment (tickets resolved in the window)")
    for column in ("priority", "resolved", "first response met", "resolution met"):
        sla.add_column(column, justify="right" if column != "priority" else "left")
    for priority, row in m.sla.items():
        sla.add_row(priority, str(row.count), _share(row.first_response_met_share), _share(row.resolution_met_share))
    console.print(sla)

    b = m.backlog
    backlog = Table(title=f"Backlog at {b.at:%Y-%m-%d %H:%M} UTC: {b.total} active")
    for column in (*b.by_state, *b.by_age):
        backlog.add_column(column, justify="right")
    backlog.add_row(*(str(v) for v in (*b.by_state.values(), *b.by_age.values())))
    console.print(backlog)

    console.print(_heat_table(m))

    for title, items, key in (
        ("Top articles by views", m.top_articles.by_views, "views"),
        ("Top articles by helpful votes", m.top_articles.by_helpful, "helpful"),
    ):
        table = Table(title=title)
        for column in ("article", "team", key, "not helpful" if key == "helpful" else "helpful"):
            table.add_column(column)
        for a in items:
            other = a.not_helpful if key == "helpful" else a.helpful
            table.add_row(f"{a.title}\n[dim]{a.article_id}[/]", a.team or "", str(getattr(a, key)), str(other))
        console.print(table)

    gaps = Table(title="Knowledge gaps (unanswered searches, clustered)")
    for column in ("searches", "distinct", "example", "terms"):
        gaps.add_column(column)
    for gap in m.knowledge_gaps:
        gaps.add_row(str(gap.count), str(gap.distinct_queries), gap.example, ", ".join(gap.terms))
    console.print(gaps)


def _heat_table(m: ServiceMetrics) -> Table:
    """The 7 x 24 matrix as a compact heat table: counts on a background as dark as the cell is quiet."""
    busiest = m.busiest_hours
    peak = max((max(row) for row in busiest.counts), default=0)
    table = Table(
        title=f"Tickets created by local weekday and hour ({busiest.timezone} timezone)",
        padding=(0, 0),
        show_edge=False,
        box=None,
    )
    table.add_column("")
    for hour in range(24):
        table.add_column(f"{hour:02d}", justify="right", min_width=3)
    for day, row in zip(busiest.weekdays, busiest.counts, strict=True):
        cells = [
            Text(f"{n:>3}" if n else "  ·", style=HEAT[0 if not n or not peak else 1 + min(3, 4 * (n - 1) // peak)])
            for n in row
        ]
        table.add_row(day, *cells)
    return table
