"""Turning text into searchable structures; knows nothing of articles' Markdown or of the store."""
