"""What an article written in kb must be, checked before anything is saved: each problem names the field, or the
section and line, at fault."""

from __future__ import annotations

import difflib

from kb.articles import Article, parse_article
from kb.articles.model import FRONT_MATTER_KEYS, ArticleProblem
from kb.articles.parsing import key_line
from kb.errors import InvalidInput
from kb.teams import TeamDirectory

REQUIRED_SECTION = "Resolution"
MAX_ID = 200  # the store's id column


class ArticleInvalid(InvalidInput):
    """An article that cannot be saved as written; `line` points into the Markdown the author sent."""

    def __init__(self, detail: str, *, field: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {detail}" if line else detail, field=field)
        self.line = line


def validate_markdown(
    markdown: str,
    teams: TeamDirectory,
    *,
    max_bytes: int,
    article_id: str | None = None,
) -> Article:
    """The article `markdown` describes, or ArticleInvalid for its first problem.

    `article_id` is the id the article must keep (an update); without it the front matter's `id`, else the
    title, names it. A `status` key is kept as written and does not set the state: states change through
    transitions, reviewed (export writes the state into the file)."""
    size = len(markdown.encode("utf-8"))
    if size > max_bytes:
        raise ArticleInvalid(
            f"the article is {size} bytes; the limit is {max_bytes} (KB_MAX_ARTICLE_BYTES)", field="markdown"
        )
    parsed = parse_article(markdown, source="markdown", default_id=article_id)
    if isinstance(parsed, ArticleProblem):
        field = "title" if "`title`" in parsed.message else "markdown"
        raise ArticleInvalid(parsed.message, field=field, line=parsed.line)
    for key in parsed.front_matter:
        if key not in FRONT_MATTER_KEYS:
            close = difflib.get_close_matches(key.lower(), FRONT_MATTER_KEYS, n=1, cutoff=0.6)
            hint = f" (did you mean `{close[0]}`?)" if close else f"; known keys: {', '.join(FRONT_MATTER_KEYS)}"
            raise ArticleInvalid(f"unknown front matter key `{key}`{hint}", field=key, line=key_line(markdown, key))
    if len(parsed.id) > MAX_ID:
        raise ArticleInvalid(
            f"the id is {len(parsed.id)} characters; at most {MAX_ID}", field="id", line=key_line(markdown, "id")
        )
    if article_id is not None and parsed.id != article_id:
        raise ArticleInvalid(
            f"the front matter's id {parsed.id!r} is not this article's ({article_id!r}): an id never changes",
            field="id",
            line=key_line(markdown, "id"),
        )
    if parsed.team is None:
        raise ArticleInvalid("missing front matter field `team`: the team that owns the article", field="team", line=1)
    if teams.get(parsed.team) is None:
        raise ArticleInvalid(
            f"unknown team {parsed.team!r}; known teams: {', '.join(teams.names())}",
            field="team",
            line=key_line(markdown, "team"),
        )
    if not any(s.heading.strip().lower() == REQUIRED_SECTION.lower() and s.text.strip() for s in parsed.sections):
        last = parsed.sections[-1].line if parsed.sections else 1
        raise ArticleInvalid(
            f"no `## {REQUIRED_SECTION}` section (or an empty one): say how to fix the problem, step by step",
            field=f"section:{REQUIRED_SECTION}",
            line=last,
        )
    return parsed
