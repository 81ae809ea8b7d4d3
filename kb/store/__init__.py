"""The store: SQLAlchemy Core schema and one repository per aggregate."""

from kb.store.database import Store

__all__ = ["Store"]
