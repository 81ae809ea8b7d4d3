"""Search answers on a terminal: the same table for `kb search` and `kb remote search`."""

from __future__ import annotations

from rich.table import Table

from indexer.analysis import ENGLISH
from kb.cli.common import console
from kb.search.searcher import SearchOutcome


def show_outcome(outcome: SearchOutcome) -> None:
    shown = f"“{outcome.query}”" + (f" (searched as “{outcome.corrected_query}”)" if outcome.corrected_query else "")
    if outcome.language != ENGLISH:
        shown += f" · read as {outcome.language}"
    table = Table(title=shown, show_lines=True)
    for column in ("#", "article", "team", "section", "passage", "score"):
        table.add_column(column, overflow="fold")
    for rank, hit in enumerate(outcome.hits, start=1):
        table.add_row(
            str(rank),
            f"{hit.title}\n[dim]{hit.article_id}[/]",
            hit.team or "",
            hit.section,
            hit.snippet,
            f"{hit.score:.3f}",
        )
    console.print(table)
    verdict = "[green]answered[/]" if outcome.answered else "[yellow]no confident answer[/]"
    console.print(f"{verdict} (confidence {outcome.confidence:.2f})")
