"""What every command shares: settings, the KnowledgeBase, clean error exits, a progress bar."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from kb.errors import KbError
from kb.service import KnowledgeBase
from kb.settings import Settings

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise fail(f"setting KB_{str(first['loc'][0]).upper()}: {first['msg']}") from exc


@contextmanager
def knowledge_base(settings: Settings | None = None) -> Iterator[KnowledgeBase]:
    """The KnowledgeBase of `settings` (default: from the environment), closed however the block ends."""
    kb = KnowledgeBase(settings if settings is not None else load_settings())
    try:
        yield kb
    finally:
        kb.close()


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn domain errors into a message and a non-zero exit instead of a traceback."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        yield
    except KbError as exc:
        raise fail(exc.detail) from exc
    except KeyboardInterrupt as exc:
        raise fail("interrupted; the previous index is still in place", code=130) from exc


class BarProgress:
    """A rich progress bar on a terminal; silent when output is piped or in CI logs."""

    def __init__(self, description: str) -> None:
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err_console,
            disable=not sys.stderr.isatty(),
            transient=True,
        )
        self._description = description
        self._task: Any = None

    def start(self, total: int) -> None:
        self._bar.start()
        self._task = self._bar.add_task(self._description, total=total)

    def advance(self, count: int) -> None:
        self._bar.advance(self._task, count)

    def stop(self) -> None:
        self._bar.stop()


def existing_dir(path: Path | None) -> Path | None:
    if path is not None and not path.is_dir():
        raise fail(f"not a folder: {path}")
    return path
