"""Articles that share a title (the sections of one help page) are read by their own text too, and only among
readers of one audience: a restricted article that shares a public one's title changes nothing an outsider sees."""

from __future__ import annotations

from pathlib import Path

from kb.service import KnowledgeBase
from kb.settings import Settings
from tests.conftest import STARTER_ARTICLES
from tests.fakes import HashingEmbedder

TITLE = "Renew a non-driver ID card"
SECTIONS = {
    "renew-online": ("", "Renew online with your license number and pay by card."),
    "renew-fees": ("", "The renewal fee is 14 dollars; seniors pay nothing."),
    "renew-hr-notes": ("audience: [hr]\n", "HR reimburses the renewal fee for drivers of company cars."),
}


def _kb(tmp_path: Path, name: str, ids: list[str]) -> KnowledgeBase:
    folder = tmp_path / name / "articles"
    folder.mkdir(parents=True)
    (folder / "teams.yaml").write_text((STARTER_ARTICLES / "teams.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    for doc_id in ids:
        audience, text = SECTIONS[doc_id]
        body = f"---\nid: {doc_id}\ntitle: {TITLE}\nteam: HR\n{audience}---\n\n## Resolution\n{text}\n"
        (folder / f"{doc_id}.md").write_text(body, encoding="utf-8")
    kb = KnowledgeBase(Settings(data_dir=tmp_path / name / "data", articles_dir=folder), embedder=HashingEmbedder())
    kb.indexing.build()
    return kb


def test_public_sections_of_one_page_are_read_alone_and_a_restricted_one_moves_no_public_score(
    tmp_path: Path,
) -> None:
    alone = _kb(tmp_path, "alone", ["renew-online"])
    page = _kb(tmp_path, "page", ["renew-online", "renew-fees"])
    with_restricted = _kb(tmp_path, "restricted", ["renew-online", "renew-hr-notes"])
    try:
        index = page.indexing.searcher().index
        assert all(index.body_vector(int(row)) is not None for row in index.rows_of("renew-online"))
        restricted_index = with_restricted.indexing.searcher().index
        assert all(restricted_index.body_vector(int(row)) is None for row in restricted_index.rows_of("renew-online"))

        question = "how much is the renewal fee"
        expected = alone.indexing.searcher().search(question)
        seen = with_restricted.indexing.searcher().search(question)
        assert [(h.article_id, h.score) for h in seen.hits] == [(h.article_id, h.score) for h in expected.hits]
        assert seen.confidence == expected.confidence
    finally:
        for kb in (alone, page, with_restricted):
            kb.close()
