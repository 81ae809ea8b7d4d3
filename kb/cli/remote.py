"""`kb remote`: use a kb server from a laptop on a poor connection: sign in, keep a local copy in sync, search
(the server when it answers, else the copy), file tickets that wait in an outbox while offline."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from kb.cli.answers import show_outcome
from kb.cli.common import BarProgress, console, domain_errors, err_console, load_settings
from kb.errors import RemoteRefused, RemoteUnavailable
from kb.remote.client import RemoteClient
from kb.remote.config import RemoteConfig, save_config, server_url
from kb.remote.session import SYNC, RemoteSession, SyncProgress

app = typer.Typer(help="Use a kb server remotely: a local copy that searches offline, and a ticket outbox.")


@contextmanager
def _session() -> Iterator[RemoteSession]:
    with domain_errors(), RemoteSession(load_settings()) as session:
        yield session


@app.command("login")
def login(
    url: Annotated[str, typer.Argument(help="The kb server, e.g. https://kb.example.com")],
    token: Annotated[
        str, typer.Option(prompt=True, hide_input=True, envvar="KB_TOKEN", help="Your bearer token (`kb users add`).")
    ],
) -> None:
    """Remember the server and your token (in a file only you can read), checking them when the server answers."""
    settings = load_settings()
    with domain_errors():
        config = RemoteConfig(server_url(url), token.strip() or None)
        checked = "not checked: the server did not answer; `kb remote sync` will tell"
        try:
            with RemoteClient(config.url, config.token, timeout=settings.remote_timeout_seconds) as client:
                client.get_json(SYNC, params={"limit": 1})
            checked = "the server accepted the token"
        except RemoteUnavailable as exc:
            err_console.print(f"[yellow]warning:[/] {exc.detail}", highlight=False)
        except RemoteRefused as exc:
            if exc.status in (401, 403):
                raise RemoteRefused(
                    f"{config.url} does not accept this token ({exc.detail}); nothing was saved",
                    status=exc.status,
                    field="token",
                ) from exc
            raise
        path = save_config(settings.resolved_remote_home, config)
    console.print(f"Signed in to {config.url} ({checked}). Saved in {path} (mode 600).", highlight=False)
    console.print("Next: `kb remote sync` downloads the articles you may read, to search them offline.")


@app.command("sync")
def sync() -> None:
    """Send queued tickets, then bring the local copy up to date (a first sync downloads everything once)."""
    with _session() as session, _sync_progress() as progress:
        report = session.sync(progress)
    flushed, status = report.flushed, report.status
    for item in flushed.delivered:
        ticket = item.result or {}
        console.print(f"Delivered queued ticket #{ticket.get('id')}: {item.subject}", highlight=False)
    for item in flushed.refused:
        err_console.print(f"[red]refused[/] queued ticket “{item.subject}”: {item.last_error}", highlight=False)
    if report.bundle is not None:
        resumed = f", resumed at {report.bundle.resumed_from:,} bytes" if report.bundle.resumed_from else ""
        console.print(f"Downloaded the starting copy: {report.bundle.size:,} bytes{resumed}.", highlight=False)
    applied = report.applied
    console.print(
        f"Local copy: {status.articles} articles, {status.age} "
        f"({applied.updated} new or changed, {applied.removed} removed, {len(applied.index.embedded)} embedded here).",
        highlight=False,
    )


@contextmanager
def _sync_progress() -> Iterator[SyncProgress]:
    """A download bar (bytes), a line per page of changes, and the embedding bar when articles are embedded here."""
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err_console,
        disable=not err_console.is_terminal,
        transient=True,
    )
    task = bar.add_task("downloading the starting copy", total=None, visible=False)
    index = BarProgress("embedding on this machine")

    def download(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total, visible=True)

    def page(pages: int, received: int) -> None:
        if err_console.is_terminal:
            err_console.print(f"[dim]page {pages}: {received} articles so far[/]", highlight=False)

    with bar:
        try:
            yield SyncProgress(download=download, page=page, index=index)
        finally:
            index.stop()


@app.command("search")
def search(
    question: Annotated[str, typer.Argument(help="What is wrong, in your own words.")],
    limit: Annotated[int, typer.Option(help="How many articles to show.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Search the server, or the local copy when the server does not answer in time (it says which)."""
    with _session() as session:
        found = session.search(question, limit)
    where = (
        f"server {session.config.url}"
        if found.source == "server"
        else f"local copy ({found.status.articles} articles, {found.status.age}): {found.why_local}"
    )
    if as_json:
        body = {"source": found.source, "synced_at": found.status.synced_at, **asdict(found.outcome)}
        typer.echo(json.dumps(body, ensure_ascii=False, default=str))
        return
    err_console.print(f"[dim]from the {where}[/]", highlight=False)
    show_outcome(found.outcome)
    if not found.outcome.answered:
        console.print("Nothing fits? `kb remote ticket --subject ... --description ...` (queued if you are offline).")


@app.command("ticket")
def ticket(
    subject: Annotated[str, typer.Option(help="One line: what is wrong.")],
    description: Annotated[str, typer.Option(help="What happened, what you tried.")],
    team: Annotated[str | None, typer.Option(help="The team to ask (default: chosen from the text).")] = None,
    priority: Annotated[str, typer.Option(help="low, normal, high or urgent.")] = "normal",
) -> None:
    """File a ticket: sent now when the server answers, else queued and sent by the next `kb remote sync`."""
    with _session() as session:
        submitted = session.ticket(subject, description, team=team, priority=priority)
    if submitted.queued_because is None:
        created = submitted.item.result or {}
        expected = created.get("expected_first_response_by")
        console.print(
            f"Ticket #{created.get('id')} filed with {created.get('team')}"
            + (f"; expect a first answer by {expected}" if expected else "")
            + ".",
            highlight=False,
        )
        return
    console.print(
        f"Offline ({submitted.queued_because}): the ticket is queued and goes out with the next "
        f"`kb remote sync` (key {submitted.item.key}).",
        highlight=False,
    )


@app.command("outbox")
def outbox(
    show_all: Annotated[bool, typer.Option("--all", help="Also delivered and refused tickets.")] = False,
) -> None:
    """Tickets waiting to be sent (with --all: what became of the others)."""
    with _session() as session:
        items = session.outbox.list(None, None if show_all else "queued")
    if not items:
        console.print("The outbox is empty." if show_all else "Nothing waits to be sent.")
        return
    table = Table(title="Outbox")
    for column in ("queued at", "subject", "state", "attempts", "last error", "ticket"):
        table.add_column(column, overflow="fold")
    for item in items:
        number = (item.result or {}).get("id")
        table.add_row(
            item.created_at,
            item.subject,
            item.state,
            str(item.attempts),
            item.last_error or "",
            f"#{number}" if number else "",
        )
    console.print(table)
