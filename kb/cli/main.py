"""`kb`: index the articles, search them, serve the API."""

from __future__ import annotations

import functools
import json
import logging
import logging.config
import signal
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from indexer.build import Progress
from kb.cli.answers import show_outcome
from kb.cli.articles import export_command, import_command, publish_command
from kb.cli.audit import audit_command
from kb.cli.common import BarProgress, console, domain_errors, err_console, existing_dir, knowledge_base, load_settings
from kb.cli.db import app as db_app
from kb.cli.demo import demo_data_command
from kb.cli.evaluate import eval_command
from kb.cli.remote import app as remote_app
from kb.cli.report import report_command
from kb.cli.users import app as users_app
from kb.indexing import IndexReport
from kb.logs import logging_config
from kb.settings import Settings
from kb.store.faults import check_writable

log = logging.getLogger("kb.cli")  # not __name__: run as `python -m kb.cli.main`, that is __main__

app = typer.Typer(help="kb: an internal knowledge base with semantic search.", no_args_is_help=True)
app.command("eval")(eval_command)
app.add_typer(users_app, name="users")
app.add_typer(remote_app, name="remote")
app.command("audit")(audit_command)
app.command("report")(report_command)
app.command("demo-data")(demo_data_command)
app.add_typer(db_app, name="db")
app.command("import")(import_command)
app.command("export")(export_command)
app.command("publish")(publish_command)


@app.command()
def index(
    path: Annotated[Path | None, typer.Argument(help="Articles folder (default: KB_ARTICLES_DIR).")] = None,
    strict: Annotated[
        bool, typer.Option(help="Fail on any invalid article or unknown front matter key instead of going on.")
    ] = False,
    rebuild: Annotated[bool, typer.Option(help="Re-embed every article, even unchanged ones.")] = False,
) -> None:
    """Index the articles: only changed ones are re-embedded; the previous index stays live until done."""
    settings = load_settings(articles_dir=existing_dir(path))
    progress = BarProgress("Embedding")
    try:
        report = _build_index(
            settings,
            strict=strict,
            rebuild=rebuild,
            progress=progress,
            on_wait=lambda: err_console.print(_waiting(settings), highlight=False),
        )
    finally:
        progress.stop()
    for problem in report.problems:
        err_console.print(f"[yellow]skipped[/] {problem}", highlight=False)
    for warning in report.warnings:
        err_console.print(f"[yellow]warning[/] {warning}", highlight=False)
    console.print(_summary(report), highlight=False)


def _build_index(
    settings: Settings, *, strict: bool, rebuild: bool, on_wait: Callable[[], None], progress: Progress | None = None
) -> IndexReport:
    with domain_errors(), knowledge_base(settings) as kb:
        return kb.indexing.build(strict=strict, rebuild=rebuild, progress=progress, on_wait=on_wait)


def _waiting(settings: Settings) -> str:
    return f"Another index build is running in {settings.index_dir}; waiting for it to finish…"


def _summary(report: IndexReport) -> str:
    build = report.build
    return (
        f"Indexed {report.articles} articles ({build.chunks} chunks): {len(build.embedded)} embedded, "
        f"{len(build.reused)} unchanged, {len(build.removed)} removed"
        + ("" if build.changed else " (index already up to date)")
        + f", {len(report.problems)} skipped."
    )


@app.command()
def search(
    question: Annotated[str, typer.Argument(help="What is wrong, in your own words.")],
    limit: Annotated[int, typer.Option(help="How many articles to show.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Search the knowledge base."""
    settings = load_settings()
    with domain_errors(), knowledge_base(settings) as kb:
        outcome = kb.search.find(question, limit)
    if as_json:
        typer.echo(json.dumps(asdict(outcome), ensure_ascii=False))
        return
    show_outcome(outcome)
    if outcome.ticket:
        console.print(
            f"Open a ticket with [bold]{outcome.ticket.suggested_team}[/]: POST /v1/tickets "
            f"with subject “{outcome.ticket.subject}”.",
            highlight=False,
        )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default: KB_HOST, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: KB_PORT, 8000).")] = None,
    reindex: Annotated[bool, typer.Option(help="Bring the index up to date with the articles first.")] = True,
) -> None:
    """Serve the HTTP API, indexing the articles first if they changed. SIGTERM stops it gracefully: no new
    connections, requests in flight finish (for at most KB_SHUTDOWN_GRACE_SECONDS), then exit status 0."""
    import uvicorn

    settings = load_settings(host=host, port=port)
    with domain_errors():
        check_writable(settings.data_dir)  # one line now, not a traceback from the app's startup
    options = uvicorn_options(settings)
    # The log as the server will write it (KB_LOG_FORMAT) from here on, the index step's lines included.
    logging.config.dictConfig(logging_config(settings.log_format))
    logging.captureWarnings(True)  # a library's warning is a log line too, not a bare one on stderr
    serving = f"Serving on http://{settings.host}:{settings.port} (docs at /docs)"
    logged = settings.log_format == "json"  # no line but JSON ones: the index step and the start are logged
    if reindex and settings.articles_dir.is_dir():
        if logged:
            _index_logged(settings)
        else:
            index(path=settings.articles_dir, strict=False, rebuild=False)
    if logged:
        log.info(serving)
    else:
        console.print(serving)
    # Uvicorn shuts down gracefully on SIGTERM, then raises the signal again once it has restored the handler it
    # found: this one, so that a stop on request that finished cleanly exits 0 rather than "killed by SIGTERM".
    signal.signal(signal.SIGTERM, _stopped)
    # By import string so that `kb` never imports `api` (dependencies point api → kb).
    uvicorn.run("api.app:app_from_environment", factory=True, log_level="info", **options)


def _stopped(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _index_logged(settings: Settings) -> None:
    """`kb index` for `kb serve --reindex` under KB_LOG_FORMAT=json: its lines as log records, no progress bar."""
    report = _build_index(settings, strict=False, rebuild=False, on_wait=lambda: log.info(_waiting(settings)))
    for problem in report.problems:
        log.warning("skipped %s", problem)
    for warning in report.warnings:
        log.warning("warning %s", warning)
    log.info(_summary(report))


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Where `kb serve` listens, and whose X-Forwarded-For it believes: only KB_FORWARDED_ALLOW_IPS's proxies.
    Uvicorn's own default believes 127.0.0.1, so any client of a proxy on the same host could name its address.

    And how long a client may hold a connection: uvicorn closes one idle for KB_KEEP_ALIVE_SECONDS after a response
    and answers 503 past KB_MAX_CONNECTIONS connections or requests; its h11 protocol is replaced by
    `api.connections.HeaderDeadlineProtocol` (by import string, as the app), which also closes a new connection idle
    that long and one whose request headers take longer than KB_HEADER_TIMEOUT_SECONDS."""
    from uvicorn.importer import import_from_string

    protocol = import_from_string("api.connections:HeaderDeadlineProtocol")
    proxies = settings.forwarded_allow_ips
    return {
        "host": settings.host,
        "port": settings.port,
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": list(proxies) if proxies else None,
        "http": functools.partial(protocol, header_timeout=settings.header_timeout_seconds),
        "timeout_keep_alive": settings.keep_alive_seconds,
        "limit_concurrency": settings.max_connections,
        # On SIGTERM: stop accepting, let requests in flight finish for at most this long, then cancel them.
        "timeout_graceful_shutdown": settings.shutdown_grace_seconds,
        # Text or one JSON object a line (KB_LOG_FORMAT), each line written in a request with its id.
        "log_config": logging_config(settings.log_format),
    }


if __name__ == "__main__":  # pragma: no cover
    app()
