"""Markdown with YAML front matter → Article, or an ArticleProblem that says which line is wrong."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import frontmatter
import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from kb.articles.model import STATUSES, Article, ArticleProblem, Section
from kb.language import article_language

_markdown = MarkdownIt("commonmark")
_SLUG_RE = re.compile(r"[^a-z0-9]+")
_FENCE = "---"


def slugify(text: str) -> str:
    return _SLUG_RE.sub("-", text.lower()).strip("-")


def key_line(raw: str, key: str) -> int:
    """1-based line of a front matter key, for pointing at the offending value."""
    for number, line in enumerate(raw.splitlines(), start=1):
        if re.match(rf"\s*{re.escape(key)}\s*:", line):
            return number
    return 1


def _front_matter_lines(raw: str) -> int:
    """How many lines the front matter block (fences included) takes, to offset body line numbers."""
    lines = raw.splitlines()
    if not lines or lines[0].strip() != _FENCE:
        return 0
    for number, line in enumerate(lines[1:], start=2):
        if line.strip() == _FENCE:
            return number
    return 0


def _body_offset(raw: str, body: str) -> int:
    """Lines before the body: python-frontmatter drops blank lines after the fence, so find the body itself."""
    position = raw.find(body) if body.strip() else -1
    return raw.count("\n", 0, position) if position >= 0 else _front_matter_lines(raw)


def _json_default(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date | dt.time) else str(value)


def _inline_text(token: Token) -> str:
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(child.content)
    return "".join(parts)


def split_sections(body: str, line_offset: int = 0) -> tuple[Section, ...]:
    """Cut the body at level-1/2 headings; deeper headings stay inside their section as text."""
    sections: list[Section] = []
    heading, start_line = "", line_offset + 1
    lines: list[str] = []
    tokens = _markdown.parse(body)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.type == "heading_open" and token.tag in ("h1", "h2"):
            if heading or any(line.strip() for line in lines):
                sections.append(Section(heading, "\n".join(lines).strip(), start_line))
            heading = _inline_text(tokens[index + 1]).strip()
            start_line = line_offset + (token.map[0] if token.map else 0) + 1
            lines = []
            index += 3
            continue
        if token.type == "inline":
            lines.append(_inline_text(token))
        elif token.type in ("fence", "code_block"):
            lines.append(token.content.rstrip())
        index += 1
    if heading or any(line.strip() for line in lines):
        sections.append(Section(heading, "\n".join(lines).strip(), start_line))
    return tuple(sections)


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return (str(value),)


def parse_article(
    raw: str, source: str = "<text>", default_id: str | None = None, language: str | None = None
) -> Article | ArticleProblem:
    """Parse one article; the problem's line points into the file as the author sees it. `language` is the
    article's when the front matter does not say (known already: no need to detect it again)."""
    if "\x00" in raw:  # a binary file, or text no store can keep (PostgreSQL refuses U+0000)
        line = raw.count("\n", 0, raw.index("\x00")) + 1
        return ArticleProblem(source, line, "contains the NUL character (U+0000): is it a text file?")
    try:
        post = frontmatter.loads(raw)
    except (ValueError, TypeError) as exc:  # what YAML reads but cannot build: the date 2026-13-45, a key `1:`
        return ArticleProblem(source, 1, f"invalid YAML front matter: {exc}")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1  # the YAML text starts on the fence's line
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return ArticleProblem(source, line, f"invalid YAML front matter: {reason}")
    meta: dict[str, Any] = dict(post.metadata)

    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        return ArticleProblem(source, key_line(raw, "title"), "missing required front matter field `title`")
    status = str(meta.get("status", "published")).strip().lower()
    if status not in STATUSES:
        return ArticleProblem(
            source,
            key_line(raw, "status"),
            f"unknown status {status!r}; expected one of {', '.join(STATUSES)}",
        )
    article_id = slugify(str(meta.get("id") or default_id or title))
    if not article_id:
        return ArticleProblem(source, key_line(raw, "id"), "the article id is empty once made a slug")
    updated = meta.get("updated")
    if isinstance(updated, dt.date | dt.datetime):
        updated = updated.isoformat()
    team = meta.get("team")
    translation_of = slugify(str(meta.get("translation_of") or "")) or None
    if translation_of == article_id:
        return ArticleProblem(source, key_line(raw, "translation_of"), "an article cannot be a translation of itself")
    return Article(
        id=article_id,
        title=title.strip(),
        body=post.content,
        sections=split_sections(post.content, _body_offset(raw, post.content)),
        team=str(team).strip() if team else None,
        tags=_strings(meta.get("tags")),
        audience=_strings(meta.get("audience")),
        # Front matter wins; an article that does not say is read for its language.
        language=str(meta.get("language") or "").strip().lower()
        or language
        or article_language(f"{title}\n{post.content}"),
        status=status,
        updated=str(updated) if updated else None,
        source=source,
        # JSON-safe all the way down: dates nested in lists or mappings become ISO strings too.
        front_matter=json.loads(json.dumps(meta, default=_json_default)),
        translation_of=translation_of,
        markdown=raw,
    )


def parse_article_file(path: Path, root: Path | None = None, max_bytes: int = 200_000) -> Article | ArticleProblem:
    source = str(path.relative_to(root)) if root is not None else str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return ArticleProblem(
                source, 1, f"article is {size} bytes; the limit is {max_bytes} (KB_MAX_ARTICLE_BYTES)"
            )
        # Bytes as written (line endings too), so that the store and export give back the same file; a byte-order
        # mark is tolerated and dropped.
        raw = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return ArticleProblem(source, 1, f"cannot read file: {exc}")
    return parse_article(raw, source=source, default_id=path.stem)


_FENCE_LINE = re.compile(r"^---[ \t]*\r?$", re.MULTILINE)
_STATUS_LINE = re.compile(r"^status[ \t]*:.*?(\r?)$", re.MULTILINE)


def with_status(markdown: str, status: str) -> str:
    """`markdown` whose front matter says `status` (unchanged when it already does, a missing key meaning
    published): a file must carry its article's state, or importing it elsewhere would publish a draft."""
    try:
        said = str(frontmatter.loads(markdown).metadata.get("status", "published")).strip().lower()
    except (yaml.YAMLError, ValueError, TypeError):
        said = None
    if said == status:
        return markdown
    fences = list(_FENCE_LINE.finditer(markdown))
    if len(fences) < 2 or fences[0].start() != 0:
        return f"---\nstatus: {status}\n---\n{markdown}"
    end = fences[1].start()
    head, rest = markdown[:end], markdown[end:]
    if _STATUS_LINE.search(head):
        return _STATUS_LINE.sub(lambda m: f"status: {status}{m.group(1)}", head, count=1) + rest
    return f"{head}status: {status}\n{rest}"
