"""Errors of the indexing layer; `kb` turns them into its own domain errors."""

from __future__ import annotations


class IndexerError(Exception):
    """Base class."""


class ModelUnavailableError(IndexerError):
    """The embedding model cannot be loaded from disk."""


class IndexMissingError(IndexerError):
    """No index has been built in this folder yet."""


class IndexMismatchError(IndexerError):
    """The index on disk was built with another model (or is unreadable) and cannot serve this one."""


class IndexDamagedError(IndexerError):
    """The live generation's files cannot be read (truncated, corrupted, missing a part)."""
