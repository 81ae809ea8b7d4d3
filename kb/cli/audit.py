"""`kb audit`: who did what, when and from where."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from kb.cli.common import console, domain_errors, knowledge_base


def audit_command(
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many recent entries.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
) -> None:
    """Print the audit log, newest first: sign-ins, permission and article changes, agents' ticket views."""
    with domain_errors(), knowledge_base() as kb:
        entries = kb.users.audit_trail(limit)
    if as_json:
        for entry in entries:
            typer.echo(json.dumps({**entry, "at": entry["at"].isoformat()}, ensure_ascii=False))
        return
    table = Table(title="Audit log")
    for column in ("when (UTC)", "who", "what", "target", "from", "detail"):
        table.add_column(column)
    for e in entries:
        detail = ", ".join(f"{k}={v}" for k, v in e["detail"].items())
        table.add_row(e["at"].strftime("%Y-%m-%d %H:%M:%S"), e["actor"], e["action"], e["target"], e["origin"], detail)
    console.print(table)
