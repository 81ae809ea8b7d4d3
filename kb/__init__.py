"""kb: a self-service internal knowledge base with semantic search and a ticket fallback."""

__version__ = "0.1.0"
