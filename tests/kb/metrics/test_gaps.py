"""Knowledge gaps (kb.metrics.gaps): the clustering of unanswered searches, without a store or a model."""

from __future__ import annotations

from kb.metrics.gaps import knowledge_gaps


def test_knowledge_gaps_merge_groups_transitively_and_count_repeats() -> None:
    queries = [
        "VPN keeps disconnecting",
        "vpn keeps  disconnecting",  # the same text, spaced and cased differently
        "VPN disconnecting on hotel wifi",
        "disconnecting vpn",
        "hotel wifi login page",
        "parking permit",
        "the",  # nothing left after stop words: not clustered
    ]
    gaps = knowledge_gaps(queries)

    assert [(g.count, g.distinct_queries) for g in gaps] == [(4, 3), (1, 1), (1, 1)]
    assert gaps[0].example == "VPN keeps disconnecting"
    assert gaps[0].terms[:2] == ["disconnect", "vpn"]
    assert knowledge_gaps(queries, limit=1) == gaps[:1]
