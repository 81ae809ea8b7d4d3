"""Load a folder of articles: the valid ones, and a problem for each invalid one (file and line)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from kb.articles.model import FRONT_MATTER_KEYS, Article, ArticleProblem
from kb.articles.parsing import key_line, parse_article_file


@dataclass
class LoadResult:
    articles: list[Article] = field(default_factory=list)
    problems: list[ArticleProblem] = field(default_factory=list)  # files skipped
    warnings: list[ArticleProblem] = field(default_factory=list)  # files accepted, with something to fix


def unknown_keys(article: Article, raw: str) -> list[ArticleProblem]:
    """A problem for each front matter key kb does not read, with the key it probably meant."""
    problems = []
    for key in article.front_matter:
        if key in FRONT_MATTER_KEYS:
            continue
        close = difflib.get_close_matches(key.lower(), FRONT_MATTER_KEYS, n=1, cutoff=0.6)
        hint = f" (did you mean `{close[0]}`?)" if close else f"; known keys: {', '.join(FRONT_MATTER_KEYS)}"
        problems.append(ArticleProblem(article.source, key_line(raw, key), f"unknown front matter key `{key}`{hint}"))
    return problems


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
        if any(key not in FRONT_MATTER_KEYS for key in parsed.front_matter):
            result.warnings.extend(unknown_keys(parsed, path.read_text(encoding="utf-8-sig")))
    return result
