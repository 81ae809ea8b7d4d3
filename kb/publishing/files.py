"""Articles back to files: `kb export` writes each article's newest version as it was written (with its state in
`status:` when the text says another), so that export and import round-trip byte for byte."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from kb.articles.model import StoredArticle
from kb.articles.parsing import with_status


def export_path(article: StoredArticle) -> PurePosixPath:
    """The file an article was imported from, when it was (so a folder exported over itself stays as it was),
    else `<id>.md`."""
    origin = PurePosixPath(article.origin or "")
    if origin.suffix == ".md" and not origin.is_absolute() and ".." not in origin.parts:
        return origin
    return PurePosixPath(f"{article.id}.md")


def export_markdown(articles: Sequence[StoredArticle], newest: Mapping[str, str], folder: Path) -> int:
    """Write every article with a stored text; each file is written whole (temporary file + rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for article in articles:
        markdown = newest.get(article.id)
        if markdown is None:
            continue
        path = folder / export_path(article)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=path.parent, delete=False, suffix=".tmp") as tmp:
            tmp.write(with_status(markdown, article.status).encode("utf-8"))
        os.replace(tmp.name, path)
        written += 1
    return written
