"""Publishing: support teams write, review, publish, version and archive articles in the store."""

from kb.publishing.service import PublishingService

__all__ = ["PublishingService"]
