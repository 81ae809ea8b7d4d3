"""The Searcher: dense + keyword retrieval over one loaded index, fused, grouped by article, decided."""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from indexer.build import LoadedIndex
from indexer.embedders import Embedder
from indexer.keyword_index import Mask, Postings, analyze
from indexer.spelling import SpellingCorrector, word_counts
from indexer.vector_index import RowFilter
from kb.access import Principal, can_read_article
from kb.errors import InvalidInput
from kb.search.calibration import TitleCalibrator
from kb.search.confidence import Calibration, ConfidenceModel, Evidence
from kb.search.fusion import FusionWeights, best_per_group, fuse
from kb.search.questions import is_question
from kb.search.snippets import best_passage
from kb.settings import Retriever
from kb.teams import TeamDirectory

# How deep each retriever looks before fusion: deep enough that an article ranked low by one retriever
# but high by the other still meets the fusion.
CANDIDATE_DEPTH = 100
# How many of the nearest articles are looked at for stored questions (see `retrieve`).
QUESTION_NEIGHBOURS = 10
MAX_SPELLERS = 64
DEFAULT_WEIGHTS = FusionWeights()
DEFAULT_CONFIDENCE = ConfidenceModel()
# Who searches when nobody says: someone in no group, who sees only articles meant for everyone.
EVERYONE = Principal(name="anonymous")


@dataclass(frozen=True)
class SearchHit:
    article_id: str
    title: str
    team: str | None
    section: str
    snippet: str
    matched_terms: list[str]
    score: float


@dataclass(frozen=True)
class TicketSuggestion:
    """A prefilled ticket. Its free text is read by every agent of the routed team, so it names only articles
    meant for everyone; the articles the requester saw travel as ids, which each reader's view filters."""

    suggested_team: str
    subject: str
    description: str
    search_query: str
    viewed_article_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Retrieval:
    ranked: list[tuple[str, int, float]]  # (article id, best chunk row, fused score), best first
    evidence: Evidence


@dataclass(frozen=True)
class SearchOutcome:
    query: str
    answered: bool
    confidence: float
    hits: list[SearchHit] = field(default_factory=list)
    ticket: TicketSuggestion | None = None
    corrected_query: str | None = None  # what was searched when a misspelt word was corrected


def clean_query(query: str, max_chars: int) -> str:
    text = " ".join(query.split())
    if not text:
        raise InvalidInput("the query is empty: describe the problem in a few words", field="q")
    if len(query) > max_chars:
        raise InvalidInput(f"the query is longer than {max_chars} characters", field="q")
    return text


def _keyword_filter(allowed: RowFilter | None) -> tuple[Mask | None, dict[str, Postings] | None]:
    """The mask and the per-term cache the keyword index takes for `allowed` (its own cache for all rows)."""
    return (None, None) if allowed is None else (allowed.mask, allowed.keyword_postings)


def _top_rows(scores: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.int64]:
    """Rows of the `k` highest positive scores, in no particular order."""
    rows = np.flatnonzero(scores)
    if len(rows) > k:
        rows = rows[np.argpartition(-scores[rows], k - 1)[:k]]
    return rows.astype(np.int64)


class Searcher:
    def __init__(
        self,
        index: LoadedIndex,
        embedder: Embedder,
        teams: TeamDirectory,
        *,
        answer_threshold: float,
        default_team: str,
        max_query_chars: int = 1000,
        weights: FusionWeights = DEFAULT_WEIGHTS,
        confidence_model: ConfidenceModel = DEFAULT_CONFIDENCE,
        retriever: Retriever = "hybrid",
    ) -> None:
        self.index = index
        self._embedder = embedder
        self._teams = teams
        self._threshold = answer_threshold
        self._default_team = default_team
        self._max_query_chars = max_query_chars
        self._weights = weights
        self._confidence = confidence_model
        self._retriever = retriever
        self._doc_of_row = [row.doc_id for row in index.rows]
        self._filters: dict[tuple[Any, ...], RowFilter | None] = {}
        # Corrections draw on the words the reader may read: a hidden article's words must not be suggested.
        self._spellers: dict[tuple[Any, ...], SpellingCorrector] = {}
        # Measured when the generation was built; an index from before calibration is measured now, once.
        self.calibration = Calibration.of(index.meta.get("calibration")) or TitleCalibrator(embedder).measure(index)
        # The articles that are stored questions, known once per index rather than read from titles per query;
        # none when the KB holds too few of them to have measured a bar for them.
        self._question_docs = (
            frozenset(row.doc_id for row in index.rows if is_question(row.title))
            if self.calibration.question_uncovered is not None
            else frozenset()
        )

    def with_retriever(self, retriever: Retriever) -> Searcher:
        """The same Searcher (index, calibration, caches) ranking with another retriever: one build, every mode."""
        other = copy.copy(self)
        other._retriever = retriever
        return other

    def search(
        self, query: str, limit: int = 5, reader: Principal = EVERYONE, *, truncate: bool = False
    ) -> SearchOutcome:
        """Search as `reader`: articles they may not read are filtered inside both retrievers, before
        ranking, so they never show, never shape the confidence and never push a readable one out.

        `truncate` cuts a long text (a ticket, not a typed query) to the query limit instead of refusing it.
        """
        text = clean_query(query[: self._max_query_chars] if truncate else query, self._max_query_chars)
        allowed = self._row_filter(reader)
        searched = self._spelled(text, reader, allowed)
        corrected = searched if searched != text else None
        if self.index.vectors.size == 0 or (allowed is not None and not allowed.mask.any()):
            return SearchOutcome(text, False, 0.0, [], self._suggest_ticket(text, []), corrected)
        if self._retriever == "keyword":
            ranked, confidence = self._keyword_only(searched, allowed)
        else:
            retrieval = self.retrieve(searched, allowed)
            ranked, confidence = retrieval.ranked, self._confidence.confidence(retrieval.evidence, self.calibration)
        hits = [self._hit(article_id, row, score, searched) for article_id, row, score in ranked[:limit]]
        answered = bool(hits) and confidence >= self._threshold
        ticket = None if answered else self._suggest_ticket(text, hits)
        return SearchOutcome(text, answered, round(confidence, 4), hits, ticket, corrected)

    def route(self, text: str) -> str:
        """The team a request about `text` belongs to, judged by the articles nearest to it."""
        outcome = self.search(text, limit=5, truncate=True)
        return outcome.ticket.suggested_team if outcome.ticket else self._guess_team(outcome.query, outcome.hits)

    def related(self, article_id: str, limit: int = 5, reader: Principal = EVERYONE) -> list[SearchHit]:
        """The articles nearest to `article_id` (by the mean of its chunk vectors) that `reader` may read.

        Like search, the reader's filter is applied inside FAISS, so a hidden article never takes a place.
        """
        own = np.asarray(self.index.docs.get(article_id, {}).get("rows", []), dtype=np.int64)
        if not len(own):
            return []
        allowed = self._row_filter(reader)
        mask = np.ones(len(self._doc_of_row), dtype=bool) if allowed is None else allowed.mask.copy()
        mask[own] = False
        if not mask.any():
            return []
        centroid = self.index.vectors.vectors(own).mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        scores, rows = self.index.vectors.search(centroid, CANDIDATE_DEPTH, RowFilter(mask))
        title = self.index.rows[int(own[0])].title
        return [
            self._hit(doc, row, score, title) for doc, row, score in best_per_group(rows, scores, self._doc_of_row)
        ][:limit]

    def retrieve(self, text: str, allowed: RowFilter | None = None) -> Retrieval:
        """Dense (and, in hybrid mode, keyword) retrieval fused and grouped, with the answer evidence."""
        query_vector = self._embedder.encode([text])[0]
        _, dense_rows = self.index.vectors.search(query_vector, CANDIDATE_DEPTH, allowed)
        # Keyword scores are evidence for the answer decision in dense mode too; only hybrid ranks by them.
        keyword_all = self._keyword_scores(text, allowed)
        ceiling = self.index.keywords.ceiling(text, *_keyword_filter(allowed))
        hybrid = self._retriever == "hybrid"
        keyword_rows = _top_rows(keyword_all, CANDIDATE_DEPTH) if hybrid else np.zeros(0, np.int64)
        candidates = np.union1d(dense_rows, keyword_rows).astype(np.int64)
        # Exact scores from both retrievers for every candidate, so fusion never guesses a missing value.
        dense = self.index.vectors.vectors(candidates) @ query_vector
        fused = fuse(dense, keyword_all[candidates], ceiling, self._weights) if hybrid else dense
        ranked = best_per_group(candidates, fused, self._doc_of_row)
        if not ranked:
            return Retrieval([], Evidence(0.0, 0.0))
        top_article, top_row = ranked[0][0], ranked[0][1]
        top_dense = float(dense[np.searchsorted(candidates, top_row)])
        # The runner-up is the best other answer: articles that share a title (the answers of one FAQ thread, the
        # sections of one page) are parts of the same answer, not rivals.
        title = self.index.rows[top_row].title
        by_dense = best_per_group(candidates, dense, self._doc_of_row)
        # With no other answer at all (a one-article KB, or a reader who may read one article) nothing says this one
        # stands out: the margin is 0, not the whole cosine.
        runner_up = next(
            (
                score
                for article, row, score in by_dense
                if article != top_article and self.index.rows[row].title != title
            ),
            top_dense,
        )
        keyword = float(keyword_all[top_row]) / ceiling if ceiling > 0 else 0.0
        # A question whose nearest articles include stored questions (FAQ entries) is read as an FAQ question, also
        # when documentation happens to come first: a question the FAQ does not hold still lands among its entries.
        near_questions = any(article in self._question_docs for article, _, _ in by_dense[:QUESTION_NEIGHBOURS])
        evidence = Evidence(top_dense, top_dense - float(runner_up), min(keyword, 1.0), near_questions)
        return Retrieval(ranked, evidence)

    def _keyword_scores(self, text: str, allowed: RowFilter | None) -> npt.NDArray[np.float32]:
        return self.index.keywords.scores(text, *_keyword_filter(allowed))

    def _row_filter(self, reader: Principal) -> RowFilter | None:
        """The rows `reader` may see (None: all of them), computed once per distinct audience."""
        key = reader.audience_key
        if key not in self._filters:
            readable = {
                doc_id: can_read_article(reader, meta.get("audience") or []) for doc_id, meta in self.index.docs.items()
            }
            mask = np.array([readable.get(doc_id, False) for doc_id in self._doc_of_row], dtype=bool)
            self._filters[key] = None if mask.all() else RowFilter(mask)
        return self._filters[key]

    def spelled(self, text: str, reader: Principal = EVERYONE) -> str:
        """`text` with its slips corrected against the words of the articles `reader` may read."""
        return self._spelled(text, reader, self._row_filter(reader))

    def _spelled(self, text: str, reader: Principal, allowed: RowFilter | None) -> str:
        key = reader.audience_key if allowed is not None else ("all",)
        speller = self._spellers.get(key)
        if speller is None:
            vocabulary = self.index.vocabulary if allowed is None else self._readable_vocabulary(allowed)
            if len(self._spellers) >= MAX_SPELLERS:  # one per distinct audience: bounded like any cache
                self._spellers.clear()
            speller = self._spellers[key] = SpellingCorrector(vocabulary)
        return speller.correct(text)

    def _readable_vocabulary(self, allowed: RowFilter) -> dict[str, int]:
        """The KB's word counts less the words of the rows `allowed` hides. Hidden rows are restricted articles'
        (usually a small share), so this costs their words, not a pass over the whole KB."""
        counts = Counter(self.index.vocabulary)
        for row in np.flatnonzero(~allowed.mask):
            counts.subtract(word_counts([self.index.rows[row].embedding_text]))
        return {word: count for word, count in counts.items() if count > 0}

    def _keyword_only(self, text: str, allowed: RowFilter | None) -> tuple[list[tuple[str, int, float]], float]:
        """BM25 alone; confidence is the share of the query's terms found in the best chunk."""
        keyword_all = self._keyword_scores(text, allowed)
        candidates = _top_rows(keyword_all, CANDIDATE_DEPTH)
        ranked = best_per_group(candidates, keyword_all[candidates], self._doc_of_row)
        if not ranked:
            return [], 0.0
        terms = set(analyze(text))
        best = self.index.rows[ranked[0][1]]
        found = terms & set(analyze(best.embedding_text))
        return ranked, len(found) / len(terms) if terms else 0.0

    def _hit(self, article_id: str, row: int, score: float, query: str) -> SearchHit:
        chunk = self.index.rows[row]
        snippet, matched = best_passage(chunk.text, query)
        return SearchHit(
            article_id=article_id,
            title=chunk.title,
            team=self.index.docs[article_id].get("team"),
            section=chunk.section,
            snippet=snippet,
            matched_terms=matched,
            score=round(float(score), 4),
        )

    def _suggest_ticket(self, query: str, hits: list[SearchHit]) -> TicketSuggestion:
        public = [h for h in hits[:3] if not self.index.docs[h.article_id].get("audience")]
        return TicketSuggestion(
            suggested_team=self._guess_team(query, hits),
            subject=query if len(query) <= 120 else query[:119].rsplit(" ", 1)[0] + "…",
            description=(
                f"I searched the knowledge base for: “{query}”\n"
                + (
                    "These articles came closest but did not answer it:\n"
                    + "\n".join(f"- {h.title} ({h.article_id})" for h in public)
                    if public
                    else "No article answered it."
                )
            ),
            search_query=query,
            viewed_article_ids=[h.article_id for h in hits],
        )

    def _guess_team(self, query: str, hits: list[SearchHit]) -> str:
        """The owning team of the nearest articles, weighted by score, plus the teams' keyword rules."""
        votes: dict[str, float] = {}
        for hit in hits[:5]:
            if hit.team and self._teams.get(hit.team):
                votes[hit.team] = votes.get(hit.team, 0.0) + max(hit.score, 0.0)
        words = set(query.lower().split())
        for team in self._teams:
            if any(k in words or (" " in k and k in query.lower()) for k in team.keywords):
                votes[team.name] = votes.get(team.name, 0.0) + 0.5
        if not votes:
            return self._default_team
        return max(votes.items(), key=lambda item: item[1])[0]
