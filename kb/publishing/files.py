"""Articles back to files: `kb export` writes each article's newest version as it was written, so that export and
import round-trip byte for byte."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

import frontmatter

from kb.articles.model import StoredArticle

_FENCE = re.compile(r"^---[ \t]*\r?$", re.MULTILINE)
_STATUS = re.compile(r"^status[ \t]*:.*?(\r?)$", re.MULTILINE)


def export_path(article: StoredArticle) -> PurePosixPath:
    """The file an article was imported from, when it was (so a folder exported over itself stays as it was),
    else `<id>.md`."""
    origin = PurePosixPath(article.origin or "")
    if origin.suffix == ".md" and not origin.is_absolute() and ".." not in origin.parts:
        return origin
    return PurePosixPath(f"{article.id}.md")


def with_status(markdown: str, status: str) -> str:
    """`markdown` whose front matter says `status` (unchanged when it already does, a missing key meaning
    published): a file must carry its article's state, or importing it elsewhere would publish a draft."""
    said = str(frontmatter.loads(markdown).metadata.get("status", "published")).strip().lower()
    if said == status:
        return markdown
    fences = list(_FENCE.finditer(markdown))
    if len(fences) < 2 or fences[0].start() != 0:
        return f"---\nstatus: {status}\n---\n{markdown}"
    end = fences[1].start()
    head, rest = markdown[:end], markdown[end:]
    if _STATUS.search(head):
        return _STATUS.sub(lambda m: f"status: {status}{m.group(1)}", head, count=1) + rest
    return f"{head}status: {status}\n{rest}"


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
