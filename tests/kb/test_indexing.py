"""Article events reach notifiers (webhooks) only for articles meant for everyone: a receiver is not a reader."""

from __future__ import annotations

import pytest

from kb.events import Event
from kb.service import KnowledgeBase

pytestmark = pytest.mark.both_stores

RESTRICTED = """\
---
id: hr-restructuring-2026
title: Restructuring plan 2026
team: HR
audience: [hr]
---

## Symptoms
Questions about the restructuring plan.
"""

PUBLIC = """\
---
id: kitchen-dishwasher
title: Kitchen dishwasher will not start
team: Facilities
---

## Symptoms
The dishwasher in the kitchen does not start.
"""


def test_only_public_articles_are_announced(indexed_small_kb: KnowledgeBase) -> None:
    received: list[Event] = []
    indexed_small_kb.events.subscribe(received.append)
    articles = indexed_small_kb.settings.articles_dir
    (articles / "hr-restructuring-2026.md").write_text(RESTRICTED, encoding="utf-8")
    (articles / "kitchen-dishwasher.md").write_text(PUBLIC, encoding="utf-8")
    indexed_small_kb.indexing.build()
    (articles / "hr-restructuring-2026.md").unlink()
    (articles / "kitchen-dishwasher.md").unlink()
    indexed_small_kb.indexing.build()

    announced = [(e.kind, e.data["article_id"]) for e in received]
    assert announced == [("article.indexed", "kitchen-dishwasher"), ("article.removed", "kitchen-dishwasher")]
    # The audit log, which only admins read, still records both.
    audited = {(row["action"], row["target"]) for row in indexed_small_kb.store.audit.recent()}
    assert ("article.index", "hr-restructuring-2026") in audited
    assert ("article.remove", "hr-restructuring-2026") in audited
