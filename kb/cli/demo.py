"""`kb demo-data`: fill the store with a generated history (kb.demo). Loads no model: it only writes the store."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from kb.cli.common import BarProgress, console, domain_errors, knowledge_base, load_settings
from kb.demo import MAX_DAYS, MAX_TICKETS, demo_articles, generate_demo_data


def demo_data_command(
    tickets: Annotated[int, typer.Option(min=1, max=MAX_TICKETS, help="How many tickets to generate.")] = 3000,
    days: Annotated[int, typer.Option(min=1, max=MAX_DAYS, help="Over how many days before now.")] = 90,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed (within the hour) gives the same history.")] = 7,
    yes: Annotated[bool, typer.Option("--yes", help="Add to a store that already has tickets.")] = False,
) -> None:
    """Fill the KB's store with a realistic generated history: tickets with replies, notes and pending spells,
    CSAT, NPS, searches, article views and votes. Refuses a store that has tickets unless --yes."""
    settings = load_settings()
    started = time.perf_counter()
    with domain_errors(), knowledge_base(settings) as kb:
        progress = BarProgress("Generating history")
        try:
            articles = demo_articles(kb.store, settings.articles_dir)
            report = generate_demo_data(
                kb.store,
                kb.teams.directory,
                articles,
                tickets=tickets,
                days=days,
                seed=seed,
                append=yes,
                progress=progress,
            )
        finally:
            progress.stop()
    console.print(
        f"Added {report.tickets} tickets ({report.events} events), {report.searches} searches, "
        f"{report.feedback} article views and votes and {report.nps} NPS answers over the {days} days to "
        f"{report.end:%Y-%m-%d %H:%M} UTC, referencing {report.articles} articles, in "
        f"{time.perf_counter() - started:.1f} s. See them with `kb report`.",
        highlight=False,
    )
