"""Search: retrievers fused, hits grouped by article, the passage that answers, and the answer decision."""

from kb.search.searcher import Searcher, SearchHit, SearchOutcome, TicketSuggestion

__all__ = ["SearchHit", "SearchOutcome", "Searcher", "TicketSuggestion"]
