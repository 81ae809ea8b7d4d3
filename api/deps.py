"""Dependencies: app state reached through `Annotated` aliases, never module globals."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from kb.service import KnowledgeBase


def get_kb(request: Request) -> KnowledgeBase:
    kb: KnowledgeBase = request.app.state.kb
    return kb


KB = Annotated[KnowledgeBase, Depends(get_kb)]
