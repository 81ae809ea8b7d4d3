"""Markdown → HTML that is safe to show: rendered by markdown-it, then sanitised by nh3 (ammonia)."""

from __future__ import annotations

from urllib.parse import urlsplit

import frontmatter
import nh3
import yaml
from markdown_it import MarkdownIt

_markdown = MarkdownIt("commonmark", {"html": True}).enable("table")
# Attributes whose value a browser follows or fetches. Links may be relative, https: or mailto:; images
# and every other fetched address relative (served by kb itself) or https: only. A protocol-relative
# `//host/x` is a remote address in disguise and is dropped with the rest.
_LINK_ATTRIBUTES = {("a", "href")}
_URL_ATTRIBUTES = {"href", "src", "cite", "srcset", "longdesc", "poster", "background", "action", "formaction"}


def _allowed_url(value: str, schemes: tuple[str, ...]) -> bool:
    text = "".join(value.split())  # browsers drop tabs and line breaks inside an address
    if text.startswith(("//", "\\\\", "/\\", "\\/")):
        return False
    parts = urlsplit(text)
    if not parts.scheme:
        return not parts.netloc
    return parts.scheme.lower() in schemes


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute not in _URL_ATTRIBUTES:
        return value
    schemes = ("https", "mailto") if (tag, attribute) in _LINK_ATTRIBUTES else ("https",)
    return value if _allowed_url(value, schemes) else None


def render_html(markdown: str) -> str:
    # Raw HTML is allowed in the source so authors can use <kbd> and friends; nh3 strips scripts,
    # event handlers and unsafe addresses afterwards, which is the one place safety is decided.
    return str(
        nh3.clean(
            _markdown.render(markdown),
            url_schemes={"https", "mailto"},
            attribute_filter=_filter_attribute,
        )
    )


def preview_html(markdown: str) -> str:
    """An article's text being written, as its readers will see it: the body under the front matter, rendered and
    sanitised (all of the text while the front matter does not parse yet: half-typed YAML)."""
    try:
        body = str(frontmatter.loads(markdown).content)
    except (yaml.YAMLError, ValueError, TypeError):
        body = markdown
    return render_html(body)
