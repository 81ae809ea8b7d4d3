"""Delta sync for remote copies: what changed for a reader since a cursor."""

from kb.sync.service import SyncPage, SyncService

__all__ = ["SyncPage", "SyncService"]
