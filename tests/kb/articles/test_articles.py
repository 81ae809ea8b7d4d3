"""Articles: Markdown + front matter → sections with line numbers, or a problem naming the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.articles import Article, ArticleProblem, load_articles, parse_article, render_html
from kb.articles.parsing import parse_article_file
from kb.errors import ArticleProblemsError
from kb.indexing import to_document
from kb.service import KnowledgeBase
from tests.conftest import STARTER_ARTICLES

pytestmark = pytest.mark.both_stores

# Line numbers are part of the test: keep the layout of these texts exactly as written.
VALID = """\
---
id: Monitor Flickers
title: External monitor flickers
team: IT
tags: [monitor, display]
status: published
---
## Symptoms
The external monitor flickers or goes black for a second.

## Cause
A loose or worn USB-C cable.

## Resolution
Replace the cable with a certified one.
"""

VALID_WITH_BLANK_LINE = VALID.replace("---\n## Symptoms", "---\n\n## Symptoms")

MISSING_TITLE = """\
---
id: no-title
team: IT
---

## Symptoms
Something is wrong.
"""

BAD_YAML = """\
---
title: Broken front matter
team: IT
tags: [monitor, display
status: published
---

## Symptoms
Something is wrong.
"""

UNKNOWN_STATUS = """\
---
title: Unknown status
team: IT
status: publshed
---

## Symptoms
Something is wrong.
"""

DRAFT = """\
---
id: quantum-coffee-machine
title: Calibrating the quantum coffee machine
team: Facilities
status: draft
---

## Resolution
Recalibrate the quantum coffee machine flux capacitor from the kitchen panel.
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _article(raw: str, source: str = "test.md") -> Article:
    parsed = parse_article(raw, source=source)
    assert isinstance(parsed, Article), parsed
    return parsed


# Parsing ------------------------------------------------------------------------------------------------------


def test_valid_article_has_metadata_and_sections_with_file_line_numbers() -> None:
    article = _article(VALID)

    assert article.id == "monitor-flickers"  # the id is made a slug
    assert article.title == "External monitor flickers"
    assert article.team == "IT"
    assert article.tags == ("monitor", "display")
    assert article.status == "published"
    assert article.searchable
    assert [s.heading for s in article.sections] == ["Symptoms", "Cause", "Resolution"]
    # 1-based lines of the headings in the file as the author sees it (front matter included).
    assert [s.line for s in article.sections] == [8, 11, 14]
    assert article.sections[0].text == "The external monitor flickers or goes black for a second."
    assert article.sections[2].text == "Replace the cable with a certified one."


def test_section_line_numbers_count_the_blank_line_after_the_front_matter() -> None:
    article = _article(VALID_WITH_BLANK_LINE)
    assert [s.line for s in article.sections] == [9, 12, 15]


def test_starter_article_section_lines_point_at_their_headings() -> None:
    path = STARTER_ARTICLES / "vpn-drops-on-public-wifi.md"
    lines = path.read_text(encoding="utf-8").splitlines()
    article = _article(path.read_text(encoding="utf-8"))
    for section in article.sections:
        assert lines[section.line - 1] == f"## {section.heading}"


def test_missing_title_is_a_problem_naming_the_file() -> None:
    problem = parse_article(MISSING_TITLE, source="no-title.md")
    assert isinstance(problem, ArticleProblem)
    assert problem.path == "no-title.md"
    assert problem.line >= 1
    assert "title" in problem.message
    assert str(problem).startswith("no-title.md:")


def test_a_nul_character_is_a_problem_on_its_line() -> None:
    problem = parse_article("---\ntitle: Printer\n---\n\nIt jams.\x00\n", source="binary.md")
    assert isinstance(problem, ArticleProblem)
    assert (problem.path, problem.line) == ("binary.md", 5)
    assert "NUL" in problem.message


def test_bad_yaml_is_a_problem_pointing_into_the_front_matter() -> None:
    problem = parse_article(BAD_YAML, source="broken.md")
    assert isinstance(problem, ArticleProblem)
    assert problem.path == "broken.md"
    assert "YAML" in problem.message
    closing_fence = 6
    assert 2 <= problem.line <= closing_fence


def test_bad_yaml_problem_points_at_the_offending_line() -> None:
    raw = "---\ntitle: Broken\n  team: IT\nstatus: draft\n---\n\nbody\n"
    problem = parse_article(raw, source="indented.md")
    assert isinstance(problem, ArticleProblem)
    assert problem.line == 3  # "  team: IT": a mapping value where none is allowed


def test_unknown_status_is_a_problem_on_the_status_line() -> None:
    problem = parse_article(UNKNOWN_STATUS, source="status.md")
    assert isinstance(problem, ArticleProblem)
    assert problem.line == 4
    assert "publshed" in problem.message
    assert "published" in problem.message  # the allowed values are listed


def test_draft_is_parsed_but_not_searchable() -> None:
    article = _article(DRAFT)
    assert article.status == "draft"
    assert not article.searchable


def test_id_defaults_to_the_file_name() -> None:
    raw = "---\ntitle: Some Title\n---\n\n## Symptoms\nx\n"
    article = parse_article(raw, source="x.md", default_id="My File")
    assert isinstance(article, Article)
    assert article.id == "my-file"


def test_content_hash_ignores_metadata_but_follows_the_text() -> None:
    base = _article(VALID)
    retagged = _article(VALID.replace("tags: [monitor, display]", "tags: [screen]"))
    edited = _article(VALID.replace("certified one", "certified one from the IT shop"))
    assert base.content_hash == retagged.content_hash
    assert base.content_hash != edited.content_hash


def test_title_only_article_still_becomes_one_indexable_record() -> None:
    article = _article("---\ntitle: Only a title\n---\n")
    document = to_document(article)
    assert len(document.records) == 1
    assert document.records[0].title == "Only a title"


def test_crlf_line_endings_are_read_like_lf(tmp_path: Path) -> None:
    path = _write(tmp_path, "crlf.md", "")
    path.write_bytes(VALID.replace("\n", "\r\n").encode("utf-8"))

    article = parse_article_file(path)

    assert isinstance(article, Article)
    assert [s.line for s in article.sections] == [8, 11, 14]


def test_utf8_file_with_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path, "bom.md", "")
    path.write_bytes(b"\xef\xbb\xbf" + VALID.encode("utf-8"))

    assert isinstance(parse_article_file(path), Article)


# Loading a folder ---------------------------------------------------------------------------------------------


def test_duplicate_id_keeps_the_first_file_and_reports_the_second(small_articles: Path) -> None:
    original = (small_articles / "vpn-drops-on-public-wifi.md").read_text(encoding="utf-8")
    duplicate = original.replace(
        "title: VPN disconnects repeatedly on hotel or public Wi-Fi", "title: An impostor article"
    )
    _write(small_articles, "zz-duplicate.md", duplicate)

    loaded = load_articles(small_articles)

    vpn = [a for a in loaded.articles if a.id == "vpn-drops-on-public-wifi"]
    assert len(vpn) == 1
    assert vpn[0].title == "VPN disconnects repeatedly on hotel or public Wi-Fi"
    assert [(p.path, p.line) for p in loaded.problems] == [("zz-duplicate.md", 2)]  # the `id:` line
    assert "duplicate id" in loaded.problems[0].message
    assert "vpn-drops-on-public-wifi.md" in loaded.problems[0].message


def test_every_invalid_file_is_reported_with_file_and_line(small_articles: Path) -> None:
    _write(small_articles, "missing-title.md", MISSING_TITLE)
    _write(small_articles, "bad-yaml.md", BAD_YAML)
    _write(small_articles, "unknown-status.md", UNKNOWN_STATUS)
    _write(small_articles, "README.md", "# Not an article\n")

    loaded = load_articles(small_articles)

    assert sorted(p.path for p in loaded.problems) == ["bad-yaml.md", "missing-title.md", "unknown-status.md"]
    assert all(p.line >= 1 for p in loaded.problems)
    assert len(loaded.articles) == 4


# Indexing with problems ---------------------------------------------------------------------------------------


def test_invalid_articles_are_skipped_and_the_rest_still_index(
    indexed_small_kb: KnowledgeBase, small_articles: Path
) -> None:
    small_kb = indexed_small_kb
    _write(small_articles, "missing-title.md", MISSING_TITLE)
    _write(small_articles, "bad-yaml.md", BAD_YAML)
    _write(small_articles, "unknown-status.md", UNKNOWN_STATUS)

    report = small_kb.indexing.build()

    assert sorted(p.path for p in report.problems) == ["bad-yaml.md", "missing-title.md", "unknown-status.md"]
    assert report.articles == 4
    outcome = small_kb.search.find("the printer on my floor says it is offline", limit=3)
    assert outcome.hits[0].article_id == "printer-offline-floor-printer"


def test_strict_index_raises_and_builds_nothing(small_kb: KnowledgeBase, small_articles: Path) -> None:
    _write(small_articles, "bad-yaml.md", BAD_YAML)

    with pytest.raises(ArticleProblemsError) as raised:
        small_kb.indexing.build(strict=True)

    assert "bad-yaml.md" in raised.value.detail
    assert small_kb.indexing.status().state == "unavailable"


def test_strict_index_keeps_the_previous_index(indexed_small_kb: KnowledgeBase, small_articles: Path) -> None:
    before = indexed_small_kb.indexing.searcher().index.generation
    _write(small_articles, "missing-title.md", MISSING_TITLE)

    with pytest.raises(ArticleProblemsError, match=r"missing-title\.md"):
        indexed_small_kb.indexing.build(strict=True)

    assert indexed_small_kb.indexing.searcher().index.generation == before


def test_draft_articles_are_stored_but_not_searchable(indexed_small_kb: KnowledgeBase, small_articles: Path) -> None:
    small_kb = indexed_small_kb
    _write(small_articles, "quantum-coffee-machine.md", DRAFT)

    report = small_kb.indexing.build()

    assert report.articles == 4
    assert "quantum-coffee-machine" not in report.build.embedded
    outcome = small_kb.search.find("calibrate the quantum coffee machine flux capacitor", limit=10)
    assert "quantum-coffee-machine" not in [h.article_id for h in outcome.hits]


def test_a_nested_date_in_front_matter_does_not_break_indexing(
    indexed_small_kb: KnowledgeBase, small_articles: Path
) -> None:
    small_kb = indexed_small_kb
    _write(
        small_articles,
        "standing-desk.md",
        "---\ntitle: Ordering a standing desk\nteam: Facilities\nreviews: [2026-01-10, 2026-06-01]\n---\n\n"
        "## Resolution\nOrder a standing desk through the facilities portal.\n",
    )
    report = small_kb.indexing.build()
    assert report.articles == 5


# Rendering ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markdown", "kept", "dropped"),
    [
        ("[docs](https://intranet.example.com/vpn)", 'href="https://intranet.example.com/vpn"', None),
        ("[next step](../vpn-wont-connect.md)", 'href="../vpn-wont-connect.md"', None),
        ("[write to us](mailto:it@example.com)", 'href="mailto:it@example.com"', None),
        ("[docs](//evil.example/phish)", "docs", "evil.example"),
        ('<a href="/\t/evil.example/x">docs</a>', "docs", "evil.example"),
        ("[docs](http://plain.example/x)", "docs", "plain.example"),
        ("![diagram](/static/diagram.png)", 'src="/static/diagram.png"', None),
        ("![diagram](https://cdn.example.com/d.png)", 'src="https://cdn.example.com/d.png"', None),
        ("![pixel](//tracker.example/p.gif)", 'alt="pixel"', "tracker.example"),
        ("![pixel](http://tracker.example/p.gif)", 'alt="pixel"', "tracker.example"),
        ('<img src="//tracker.example/p.gif">', "<img", "tracker.example"),
        ('<blockquote cite="//tracker.example/q">quote</blockquote>', "quote", "tracker.example"),
    ],
)
def test_rendered_links_are_relative_or_https_and_images_come_from_kb_or_https(
    markdown: str, kept: str, dropped: str | None
) -> None:
    html = render_html(markdown)
    assert kept in html
    if dropped is not None:
        assert dropped not in html
