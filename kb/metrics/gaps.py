"""Knowledge gaps: the unanswered searches, clustered by the terms they share, so that the questions the KB keeps
failing stand out. Deterministic and without the model: the keyword index's analyser (indexer.analysis) and an
exact set-similarity join."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

from indexer.analysis import analyze
from kb.metrics.results import KnowledgeGap

TOP_GAPS = 10
GAP_TERMS = 5
GAP_JACCARD = 0.5


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b)


def _similar_pairs(sets: list[frozenset[str]], threshold: float) -> Iterable[tuple[int, int]]:
    """Every pair (i, j), i < j, of `sets` with a Jaccard similarity of at least `threshold`.

    Exact, with the prefix filter of set-similarity joins: order terms rarest first; two sets that reach the
    threshold share a term among the first |A| - ceil(threshold * |A|) + 1 terms of each, so only sets sharing
    such a prefix term are compared.
    """
    frequency = Counter(term for terms in sets for term in terms)
    postings: dict[str, list[int]] = {}
    for j, terms in enumerate(sets):
        ordered = sorted(terms, key=lambda t: (frequency[t], t))
        prefix = ordered[: len(ordered) - math.ceil(threshold * len(ordered) - 1e-9) + 1]
        candidates = sorted({i for term in prefix for i in postings.get(term, [])})
        for i in candidates:
            if _jaccard(sets[i], terms) >= threshold:
                yield i, j
        for term in prefix:
            postings.setdefault(term, []).append(j)


def knowledge_gaps(queries: Iterable[str], limit: int = TOP_GAPS) -> list[KnowledgeGap]:
    """Frequent unanswered queries, clustered without embeddings (deterministic, no model needed).

    Each query becomes the set of its terms (lower-cased, stop words dropped, stemmed: the keyword index's
    `analyze`); queries with the same set form a group. Two groups whose term sets have a Jaccard similarity
    (shared terms / all terms) of at least 0.5 are merged, transitively (single linkage): "reset my password",
    "password reset not working" and "how to reset password" make one cluster. A cluster reports its number of
    searches, of distinct query texts (case-insensitive), its most frequent query text as the example, and its
    5 most common terms. Queries with no terms left (only stop words) are not clustered.
    """
    groups: dict[frozenset[str], list[str]] = {}
    for query in queries:
        terms = frozenset(analyze(query))
        if terms:
            groups.setdefault(terms, []).append(" ".join(query.split()))
    keys = sorted(groups, key=sorted)
    parent = list(range(len(keys)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in _similar_pairs(keys, GAP_JACCARD):
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    clusters: dict[int, list[tuple[frozenset[str], list[str]]]] = {}
    for index, terms in enumerate(keys):
        clusters.setdefault(root(index), []).append((terms, groups[terms]))
    gaps: list[KnowledgeGap] = []
    for members in clusters.values():
        texts = [text for _terms, group in members for text in group]
        distinct = Counter(text.lower() for text in texts)
        example = min(texts, key=lambda t: (-distinct[t.lower()], len(t), t))
        term_counts: Counter[str] = Counter()
        for terms, group in members:
            for term in terms:
                term_counts[term] += len(group)
        top_terms = [t for t, _n in sorted(term_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:GAP_TERMS]]
        gaps.append(KnowledgeGap(len(texts), len(distinct), example, top_terms))
    gaps.sort(key=lambda g: (-g.count, g.example))
    return gaps[:limit]
