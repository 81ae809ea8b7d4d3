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
    result.warnings.extend(translation_problems(result.articles, folder))
    return result


def translation_problems(articles: list[Article], folder: Path) -> list[ArticleProblem]:
    """A warning for each `translation_of` that names no article, or a translation (a translation's group must be
    its original, one step away): such an article is searched as an article of its own."""
    by_id = {article.id: article for article in articles}
    problems = []
    for article in articles:
        original = article.translation_of
        if original is None:
            continue
        target = by_id.get(original)
        reason = (
            f"`translation_of` names {original!r}, which is no article here"
            if target is None
            else f"`translation_of` names {original!r}, itself a translation of {target.translation_of!r}: "
            f"name the original"
            if target.translation_of
            else None
        )
        if reason:
            raw = (folder / article.source).read_text(encoding="utf-8-sig")
            problems.append(ArticleProblem(article.source, key_line(raw, "translation_of"), reason))
    return problems
