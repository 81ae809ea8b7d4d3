"""`kb users`: create users (the token is printed once, as the last line), list them, revoke tokens."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from kb.cli.common import console, domain_errors, knowledge_base

app = typer.Typer(help="Users, roles, groups and bearer tokens.", no_args_is_help=True)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Unique user name.")],
    email: Annotated[str, typer.Option(help="E-mail address.")],
    role: Annotated[str, typer.Option(help="employee, agent or admin.")] = "employee",
    groups: Annotated[str, typer.Option(help="Comma-separated groups, e.g. hr,finance.")] = "",
    teams: Annotated[str, typer.Option(help="Comma-separated teams an agent works in, e.g. IT,HR.")] = "",
) -> None:
    """Create a user and print their bearer token (shown once; only its hash is stored)."""
    with domain_errors(), knowledge_base() as kb:
        user, token = kb.users.add(name, email=email, role=role, groups=_split(groups), teams=_split(teams))
    console.print(f"Created {user.role} {user.name}. Token (shown once, keep it safe):", highlight=False)
    typer.echo(token)


@app.command("list")
def list_users() -> None:
    """List users with their role, groups and teams (never tokens)."""
    with domain_errors(), knowledge_base() as kb:
        users = kb.users.list()
    table = Table(title="Users")
    for column in ("name", "email", "role", "groups", "teams"):
        table.add_column(column)
    for user in users:
        table.add_row(user.name, user.email, user.role, ",".join(user.groups), ",".join(user.teams))
    console.print(table)


@app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(help="The user whose tokens to revoke.")]) -> None:
    """Revoke every live token of a user."""
    with domain_errors(), knowledge_base() as kb:
        count = kb.users.revoke(name)
    console.print(f"Revoked {count} token(s) of {name}.", highlight=False)
