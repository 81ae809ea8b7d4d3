"""A query is encoded once per request: spelling, retrieval, routing and similar cases share one encoding."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

import pytest

from indexer.embedders import ProgressCallback, Vectors
from kb.access import LOCAL_ADMIN
from kb.service import KnowledgeBase
from kb.settings import Settings
from kb.tickets.model import NewTicket, TicketChange
from tests.fakes import HashingEmbedder

pytestmark = pytest.mark.both_stores


class CountingEmbedder(HashingEmbedder):
    """Counts how often each text is encoded."""

    def __init__(self) -> None:
        self.encoded: Counter[str] = Counter()

    def encode(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> Vectors:
        self.encoded.update(texts)
        return super().encode(texts, progress)


@pytest.fixture
def counted(small_settings: Settings) -> Iterator[tuple[KnowledgeBase, CountingEmbedder]]:
    embedder = CountingEmbedder()
    kb = KnowledgeBase(small_settings, embedder=embedder)
    kb.indexing.build()
    kb.indexing.searcher()  # loading measures nothing more: the calibration is stored with the generation
    embedder.encoded.clear()
    yield kb, embedder
    kb.close()


def test_a_search_encodes_its_query_once(counted: tuple[KnowledgeBase, CountingEmbedder]) -> None:
    kb, embedder = counted
    kb.search.find("my laptop wifi keeps dropping", record=False)
    assert embedder.encoded == Counter({"my laptop wifi keeps dropping": 1})


def test_routing_a_ticket_encodes_its_text_once(counted: tuple[KnowledgeBase, CountingEmbedder]) -> None:
    kb, embedder = counted
    kb.search.route("The printer on floor two is offline")
    assert embedder.encoded == Counter({"The printer on floor two is offline": 1})


def test_similar_cases_reuse_the_searchs_encoding(counted: tuple[KnowledgeBase, CountingEmbedder]) -> None:
    kb, embedder = counted
    past, _ = kb.tickets.create(NewTicket("Printer offline", "The printer says offline", "ann"), reader=LOCAL_ADMIN)
    kb.tickets.update(past["id"], TicketChange(status="resolved", resolution="Power cycled it"), LOCAL_ADMIN)
    ticket, _ = kb.tickets.create(
        NewTicket("Printer down", "The   printer\nis offline again", "bob"), reader=LOCAL_ADMIN
    )
    embedder.encoded.clear()
    cases = kb.tickets.similar(ticket["id"], LOCAL_ADMIN)
    assert [t.id for t in cases.tickets] == [past["id"]]
    # The ticket's text once (searched, then compared with past tickets, its whitespace collapsed), the past
    # ticket's text once (its vector is stored).
    assert embedder.encoded == Counter(
        {"Printer down. The printer is offline again": 1, "Printer offline. The printer says offline": 1}
    )
