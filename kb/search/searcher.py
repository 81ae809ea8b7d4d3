"""The Searcher: dense + keyword retrieval over one loaded index, fused, grouped by article, decided."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from indexer.analysis import ENGLISH
from indexer.embedders import Embedder, Vectors
from indexer.embedders.batching import prefetch
from indexer.hybrid import HybridIndex, RowFilter, SpellingCorrector
from indexer.lexicon import Translation, WordTranslator
from kb.access import EVERYONE, Principal, can_read_article
from kb.errors import InvalidInput
from kb.language import UNKNOWN, DetectedLanguage, LanguageDetector
from kb.search.calibration import TitleCalibrator
from kb.search.confidence import Calibration, ConfidenceModel, Evidence
from kb.search.fusion import DEFAULT_WEIGHTS, LanguageWeights, best_per_group, fuse
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
DEFAULT_CONFIDENCE = ConfidenceModel()
# The vectors encoded within one `Searcher.one_encoding` scope (one request's work), by encoder and text. Per
# context, so that concurrent requests never share one, and nothing is kept across requests.
# A scope's vectors by (encoder, text): a vector, or a function that waits for one being encoded (see `search`).
_scope_vectors: ContextVar[dict[tuple[str, str], Vectors | Callable[[], Vectors]] | None] = ContextVar(
    "scope_vectors", default=None
)


@dataclass(frozen=True)
class SearchHit:
    article_id: str
    title: str
    team: str | None
    section: str
    snippet: str
    matched_terms: list[str]
    score: float
    language: str = ENGLISH
    translation_of: str | None = None

    @property
    def group(self) -> str:
        """The original article: a translation and its original are one result."""
        return self.translation_of or self.article_id


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
    language: DetectedLanguage = UNKNOWN


@dataclass(frozen=True)
class SearchOutcome:
    query: str
    answered: bool
    confidence: float
    hits: list[SearchHit] = field(default_factory=list)
    ticket: TicketSuggestion | None = None
    corrected_query: str | None = None  # what was searched when a misspelt word was corrected
    language: str = ENGLISH  # the query's language, as detected


def clean_query(query: str, max_chars: int) -> str:
    text = " ".join(query.split())
    if not text:
        raise InvalidInput("the query is empty: describe the problem in a few words", field="q")
    if len(query) > max_chars:
        raise InvalidInput(f"the query is longer than {max_chars} characters", field="q")
    return text


def _english_text(text: str, translation: Translation | None) -> str:
    """The English reading of a translated question, or the question as typed (nothing of it was English)."""
    return translation.english or text if translation is not None else text


def _check_retriever(retriever: Retriever, multilingual: Embedder | None) -> None:
    if retriever == "multilingual" and multilingual is None:
        raise InvalidInput(
            "the multilingual retriever needs the multilingual encoder: set KB_MULTILINGUAL=true and re-index",
            field="retriever",
        )


class Searcher:
    def __init__(
        self,
        index: HybridIndex,
        embedder: Embedder,
        teams: TeamDirectory,
        *,
        answer_threshold: float,
        default_team: str,
        multilingual: Embedder | None = None,
        detector: LanguageDetector | None = None,
        max_query_chars: int = 1000,
        weights: LanguageWeights = DEFAULT_WEIGHTS,
        confidence_model: ConfidenceModel = DEFAULT_CONFIDENCE,
        retriever: Retriever = "hybrid",
        boosts: Callable[[], Mapping[str, float]] | None = None,
    ) -> None:
        self.index = index
        self._boosts = boosts
        self._embedder = embedder
        # The second encoder counts only when the generation holds its vectors (load_index refuses one that lacks
        # them when it is configured).
        self._multilingual = multilingual if index.multilingual else None
        _check_retriever(retriever, self._multilingual)
        self._detector = detector or LanguageDetector((ENGLISH,))
        self._teams = teams
        self._threshold = answer_threshold
        self._default_team = default_team
        self._max_query_chars = max_query_chars
        self._weights = weights
        self._confidence = confidence_model
        self._retriever = retriever
        self._filters: dict[tuple[Any, ...], RowFilter | None] = {}
        # Corrections draw on the words the reader may read: a hidden article's words must not be suggested.
        self._spellers: dict[tuple[Any, ...], SpellingCorrector] = {}
        # Another language's question read in the KB's English words, through the multilingual encoder's word vectors:
        # the words of articles meant for everyone only, the same for every reader, so that a restricted article's
        # words never shape what another reader's question is read as.
        self._translator = (
            None
            if self._multilingual is None
            else WordTranslator(index.readable_vocabulary(self._row_filter(EVERYONE)), self._multilingual)
        )
        # Measured when the generation was built; an index from before calibration is measured now, once.
        self.calibration = Calibration.of(index.meta.get("calibration")) or TitleCalibrator(
            embedder, self._multilingual
        ).measure(index)
        # A translation and its original are one result: rows are grouped by the original's id.
        self._group_of_row = [index.docs[doc].get("translation_of") or doc for doc in index.doc_of_row]
        # The articles that are stored questions, known once per index rather than read from titles per query;
        # none when the KB holds too few of them to have measured a bar for them.
        self._question_docs = (
            frozenset(chunk.doc_id for chunk in index.chunks if is_question(chunk.title))
            if self.calibration.question_uncovered is not None
            else frozenset()
        )

    def with_retriever(self, retriever: Retriever) -> Searcher:
        """The same Searcher (index, calibration, caches) ranking with another retriever: one build, every mode."""
        _check_retriever(retriever, self._multilingual)
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
        with self.one_encoding():
            language = self.language(text)  # detected once: the encoders' start and the spelling both need it
            self._start_encoding(text, language)
            return self._search(text, limit, reader, language)

    def _start_encoding(self, text: str, language: DetectedLanguage) -> None:
        """The encoders start on the query as typed while its slips are worked out (most queries are searched as
        typed); their vectors are waited for when retrieval needs them. The English one does not start on a question
        in another language: that is encoded in its English reading (`retrieve`), and its own text would be encoded
        for nothing (detecting the language first takes a fifth of a millisecond)."""
        kept = _scope_vectors.get()
        if kept is None or self._retriever == "keyword":
            return
        english = self._embedder if self._translator is None or language.english else None
        for encoder in (english, self._multilingual if self._retriever != "dense" else None):
            if encoder is not None and (encoder.name, text) not in kept:
                kept[(encoder.name, text)] = prefetch(encoder, text)

    def _search(self, text: str, limit: int, reader: Principal, typed: DetectedLanguage) -> SearchOutcome:
        allowed = self._row_filter(reader)
        searched, language = self._prepared(text, reader, allowed, typed)
        corrected = searched if searched != text else None
        if self.index.size == 0 or (allowed is not None and allowed.allows_none):
            return SearchOutcome(text, False, 0.0, [], self._suggest_ticket(text, []), corrected, language.code)
        if self._retriever == "keyword":
            ranked, confidence = self._keyword_only(searched, allowed, language)
        else:
            retrieval = self.retrieve(searched, allowed, language)
            ranked, confidence = retrieval.ranked, self._confidence.confidence(retrieval.evidence, self.calibration)
        hits = [self._hit(article_id, row, score, searched, language) for article_id, row, score in ranked[:limit]]
        answered = bool(hits) and confidence >= self._threshold
        ticket = None if answered else self._suggest_ticket(text, hits)
        return SearchOutcome(text, answered, round(confidence, 4), hits, ticket, corrected, language.code)

    def prepared(self, text: str, reader: Principal = EVERYONE) -> tuple[str, DetectedLanguage]:
        """What `search` searches for `text` (its slips corrected) and the language it reads it in."""
        return self._prepared(text, reader, self._row_filter(reader), self.language(text))

    def _prepared(
        self, text: str, reader: Principal, allowed: RowFilter | None, language: DetectedLanguage
    ) -> tuple[str, DetectedLanguage]:
        # The corrections draw on the KB's English words: a query surely in another language is searched as typed
        # ("fiche de paie" is no misspelt "fiche de paid"), unless its corrected form is mostly English words (slips
        # can make English look foreign). The detector's guess on the corrected form is not enough: "qual é a melhor
        # receita de bacalhau", corrected to "qual é a method receipt de bacalhau", reads as English at 0.40.
        # `language` is `text`'s.
        corrected = self._spelled(text, reader, allowed)
        if corrected == text:
            return text, language
        if language.english or not language.sure or self._detector.mostly_english_words(corrected):
            return corrected, self.language(corrected)
        return text, language

    def language(self, text: str) -> DetectedLanguage:
        """The language `text` is read in: the detector's, or English when only English can be searched."""
        if self._multilingual is None:
            return UNKNOWN
        return self._detector.detect(text)

    def route(self, text: str) -> str:
        """The team a request about `text` belongs to, judged by the articles nearest to it."""
        outcome = self.search(text, limit=5, truncate=True)
        return outcome.ticket.suggested_team if outcome.ticket else self._guess_team(outcome.query, outcome.hits)

    def related(self, article_id: str, limit: int = 5, reader: Principal = EVERYONE) -> list[SearchHit]:
        """The articles nearest to `article_id` (by the mean of its chunk vectors) that `reader` may read.

        Like search, the reader's filter is applied inside FAISS, so a hidden article never takes a place.
        """
        scores, rows = self.index.neighbours(article_id, self._row_filter(reader), CANDIDATE_DEPTH)
        if not len(rows):
            return []
        own_rows = self.index.rows_of(article_id)
        title = self.index.chunk(int(own_rows[0])).title
        own_group = self._group_of_row[int(own_rows[0])]
        language = DetectedLanguage(self.index.docs[article_id].get("language", ENGLISH), 1.0)
        # Its own translations are the same article, not a related one; each related article shows in its language.
        ranked = [group for group in best_per_group(rows, scores, self._group_of_row) if group[0] != own_group]
        return [self._hit(doc, row, score, title) for doc, row, score in self._shown(ranked, rows, scores, language)][
            :limit
        ]

    def similar_articles(
        self, text: str, limit: int = 3, reader: Principal = EVERYONE, exclude: str | None = None
    ) -> list[tuple[str, str, float]]:
        """(article id, title, cosine) of the indexed articles nearest to `text` that `reader` may read, best chunk
        per article, nearest first: what an author sees before writing a duplicate. `exclude` is the article
        being written (its own published version is not a duplicate of it)."""
        scores, rows = self.index.nearest(self.encode(text), CANDIDATE_DEPTH, self._row_filter(reader))
        found: dict[str, tuple[str, str, float]] = {}
        for score, row in zip(scores.tolist(), rows.tolist(), strict=True):
            doc = self.index.doc_of_row[row]
            if doc != exclude and doc not in found:
                found[doc] = (doc, self.index.chunk(row).title, round(float(score), 4))
        return list(found.values())[:limit]

    @contextmanager
    def one_encoding(self) -> Iterator[None]:
        """Within this scope a text is encoded once however often it is searched or compared (similar cases search
        a ticket's text and then compare it with past tickets). Scopes nest: the outermost one keeps the vectors."""
        token = _scope_vectors.set({}) if _scope_vectors.get() is None else None
        try:
            yield
        finally:
            if token is not None:
                _scope_vectors.reset(token)

    def encode(self, text: str) -> Vectors:
        """The English encoder's vector of `text`; inside `one_encoding`, the one already encoded for it there (the
        model is deterministic, so it is the vector encoding again would give)."""
        return self._encoded(self._embedder, text)

    def _encoded(self, encoder: Embedder, text: str) -> Vectors:
        kept = _scope_vectors.get()
        key = (encoder.name, text)
        found = None if kept is None else kept.get(key)
        if isinstance(found, np.ndarray):
            return found
        vector = (prefetch(encoder, text) if found is None else found)()
        if kept is not None:
            kept[key] = vector
        return vector

    def retrieve(self, text: str, allowed: RowFilter | None = None, language: DetectedLanguage = UNKNOWN) -> Retrieval:
        """The retrievers of this mode fused and grouped, with the answer evidence.

        Hybrid fuses the English encoder, the multilingual one and keywords with weights for the query's language;
        dense and multilingual rank by one encoder alone. Keyword scores are evidence for the answer decision in
        every mode; only hybrid ranks by them."""
        mode = self._retriever
        second = self._multilingual if mode in ("hybrid", "multilingual") else None
        # Another language's question is read in the KB's English words too, while the multilingual encoder works on
        # it: the English encoder reads those (its cosines for the Polish words themselves are noise), and the
        # translated words are a keyword reading of their own.
        translation = self._translation(text, language)
        found = self.index.candidates(
            text,
            self.encode(_english_text(text, translation)),
            allowed,
            CANDIDATE_DEPTH,
            keyword_rows=mode == "hybrid",
            multilingual=None if second is None else self._encoded(second, text),
            language=language.code,
            translated=translation.translated if translation else (),
        )
        candidates = found.rows
        # The evidence reads the encoder that understands the query: the multilingual one for another language.
        semantic = found.dense
        if found.multilingual is not None and (mode == "multilingual" or not language.english):
            semantic = found.multilingual
        foreign = semantic is found.multilingual
        if mode == "hybrid":
            fused = fuse(found.dense, found.keyword, self._weights.of(language), found.multilingual, found.body)
        else:
            fused = semantic
        grouped = best_per_group(candidates, fused, self._group_of_row)
        if not grouped:
            return Retrieval([], Evidence(0.0, 0.0), language)
        # The evidence is the top group's best row (the one that ranked it), whichever of its articles is shown.
        top_group, top_row = grouped[0][0], grouped[0][1]
        top_semantic = float(semantic[found.position(top_row)])
        # The runner-up is the best other answer: articles that share a title (the answers of one FAQ thread, the
        # sections of one page) or translate one another are parts of the same answer, not rivals.
        title = self.index.chunk(top_row).title
        by_semantic = best_per_group(candidates, semantic, self._group_of_row) if fused is not semantic else grouped
        # With no other answer at all (a one-article KB, or a reader who may read one article) nothing says this one
        # stands out: the margin is 0, not the whole cosine.
        runner_up = next(
            (score for group, row, score in by_semantic if group != top_group and self.index.chunk(row).title != title),
            top_semantic,
        )
        keyword = float(found.keyword[found.position(top_row)])
        # A question whose nearest articles include stored questions (FAQ entries) is read as an FAQ question, also
        # when documentation happens to come first: a question the FAQ does not hold still lands among its entries.
        near_questions = any(
            self.index.doc_of_row[row] in self._question_docs for _, row, _ in by_semantic[:QUESTION_NEIGHBOURS]
        )
        evidence = Evidence(
            top_semantic, top_semantic - float(runner_up), min(keyword, 1.0), near_questions, cross_lingual=foreign
        )
        ranked = self._boosted(grouped)
        return Retrieval(self._shown(ranked, candidates, fused, language), evidence, language)

    def english_reading(self, text: str) -> str:
        """What the English encoder reads for `text`: its English reading when it is read in another language (see
        `retrieve`), else `text` itself."""
        return _english_text(text, self._translation(text, self.language(text)))

    def _translation(self, text: str, language: DetectedLanguage) -> Translation | None:
        """`text` in the KB's English words when it is read in another language, a guess included: a guess is
        mostly a short foreign question ("mon badge n'ouvre plus la porte": French at 0.43), while English ones are
        read as English by their words (98-100 % of every English set)."""
        if self._translator is None or language.english:
            return None
        return self._translator.translate(text, language.code)

    def _boosted(self, grouped: list[tuple[str, int, float]]) -> list[tuple[str, int, float]]:
        """The groups reordered by their score times their readers' votes' boost (kb.articles.helpfulness: at
        most ±5 %). The answer decision reads the retrievers' own evidence: votes order answers, never make one."""
        boosts = self._boosts() if self._boosts is not None else {}
        if not boosts:
            return grouped
        scored = [(group, row, score * boosts.get(group, 1.0)) for group, row, score in grouped]
        return sorted(scored, key=lambda item: (-item[2], item[0]))

    def _shown(
        self,
        ranked: list[tuple[str, int, float]],
        rows: npt.NDArray[np.int64],
        scores: Vectors,
        language: DetectedLanguage,
    ) -> list[tuple[str, int, float]]:
        """(article id, row, group score) of each ranked group, showing the group's article in the query's language
        when one is among the candidates (a translation, for its readers), else the original article."""
        best: dict[str, tuple[tuple[int, float], int]] = {}
        for row, score in zip(rows.tolist(), scores.tolist(), strict=True):
            group, key = self._group_of_row[row], (self._preference(row, language), -score)
            if group not in best or key < best[group][0]:
                best[group] = (key, row)
        return [(self.index.doc_of_row[best[group][1]], best[group][1], score) for group, _, score in ranked]

    def _preference(self, row: int, language: DetectedLanguage) -> int:
        """0: an article in the query's language; 1: the original; 2: a translation into another language."""
        doc = self.index.doc_of_row[row]
        if self.index.docs[doc].get("language", ENGLISH) == language.code:
            return 0
        return 1 if doc == self._group_of_row[row] else 2

    def _row_filter(self, reader: Principal) -> RowFilter | None:
        """The rows `reader` may see (None: all of them), computed once per distinct audience."""
        key = reader.audience_key
        if key not in self._filters:
            self._filters[key] = self.index.row_filter(
                lambda meta: can_read_article(reader, meta.get("audience") or [])
            )
        return self._filters[key]

    def spelled(self, text: str, reader: Principal = EVERYONE) -> str:
        """`text` with its slips corrected against the words of the articles `reader` may read."""
        return self._spelled(text, reader, self._row_filter(reader))

    def _spelled(self, text: str, reader: Principal, allowed: RowFilter | None) -> str:
        key = reader.audience_key if allowed is not None else ("all",)
        speller = self._spellers.get(key)
        if speller is None:
            if len(self._spellers) >= MAX_SPELLERS:  # one per distinct audience: bounded like any cache
                self._spellers.clear()
            speller = self._spellers[key] = self.index.corrector(allowed)
        return speller.correct(text)

    def _keyword_only(
        self, text: str, allowed: RowFilter | None, language: DetectedLanguage
    ) -> tuple[list[tuple[str, int, float]], float]:
        """BM25 alone; confidence is the share of the query's terms found in the best chunk."""
        found = self.index.keyword_candidates(text, allowed, CANDIDATE_DEPTH, language.code)
        grouped = best_per_group(found.rows, found.keyword, self._group_of_row)
        ranked = self._shown(grouped, found.rows, found.keyword, language)
        if not ranked:
            return [], 0.0
        return ranked, self.index.term_coverage(text, ranked[0][1], language.code)

    def _hit(
        self, article_id: str, row: int, score: float, query: str, language: DetectedLanguage = UNKNOWN
    ) -> SearchHit:
        chunk = self.index.chunk(row)
        meta = self.index.docs[article_id]
        snippet, matched = best_passage(chunk.text, query, language.code, meta.get("language", ENGLISH))
        return SearchHit(
            article_id=article_id,
            title=chunk.title,
            team=meta.get("team"),
            section=chunk.section,
            snippet=snippet,
            matched_terms=matched,
            score=round(float(score), 4),
            language=meta.get("language", ENGLISH),
            translation_of=meta.get("translation_of"),
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
