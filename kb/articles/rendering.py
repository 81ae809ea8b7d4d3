"""Markdown → HTML that is safe to show: rendered by markdown-it, then sanitised by nh3 (ammonia)."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

_markdown = MarkdownIt("commonmark", {"html": True}).enable("table")


def render_html(markdown: str) -> str:
    # Raw HTML is allowed in the source so authors can use <kbd> and friends; nh3 strips scripts,
    # event handlers and javascript: URLs afterwards, which is the one place safety is decided.
    return str(nh3.clean(_markdown.render(markdown), url_schemes={"http", "https", "mailto"}))
