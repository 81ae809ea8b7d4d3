"""Load a folder of articles: the valid ones, and a problem for each invalid one (file and line)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kb.articles.model import Article, ArticleProblem
from kb.articles.parsing import key_line, parse_article_file


@dataclass
class LoadResult:
    articles: list[Article] = field(default_factory=list)
    problems: list[ArticleProblem] = field(default_factory=list)


def load_articles(folder: Path, max_bytes: int = 200_000) -> LoadResult:
    """Every `*.md` under `folder`, sorted by path; the first file with a given id wins."""
    result = LoadResult()
    seen: dict[str, str] = {}
    for path in sorted(folder.rglob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        parsed = parse_article_file(path, root=folder, max_bytes=max_bytes)
        if isinstance(parsed, ArticleProblem):
            result.problems.append(parsed)
            continue
        if parsed.id in seen:
            line = key_line(path.read_text(encoding="utf-8-sig"), "id")
            result.problems.append(
                ArticleProblem(parsed.source, line, f"duplicate id {parsed.id!r} (already used by {seen[parsed.id]})")
            )
            continue
        seen[parsed.id] = parsed.source
        result.articles.append(parsed)
    return result
