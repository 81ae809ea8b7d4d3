"""Articles: the model, Markdown + front matter parsing and validation, loading a folder, rendering."""

from kb.articles.loader import LoadResult, load_articles
from kb.articles.model import STATUSES, Article, ArticleProblem, Section
from kb.articles.parsing import parse_article
from kb.articles.rendering import render_html

__all__ = [
    "STATUSES",
    "Article",
    "ArticleProblem",
    "LoadResult",
    "Section",
    "load_articles",
    "parse_article",
    "render_html",
]
