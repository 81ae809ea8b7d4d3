"""Dependencies: app state reached through `Annotated` aliases, never module globals."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

from fastapi import Depends, Request

from kb.service import KnowledgeBase


def get_kb(request: Request) -> KnowledgeBase:
    kb: KnowledgeBase = request.app.state.kb
    return kb


def get_model_thread(request: Request) -> ThreadPoolExecutor:
    executor: ThreadPoolExecutor = request.app.state.model_thread
    return executor


KB = Annotated[KnowledgeBase, Depends(get_kb)]
# Searches run on one long-lived thread: the model already uses every core for one query, and a thread that
# runs it each time keeps its warm per-thread state instead of paying for it on a fresh pool thread.
ModelThread = Annotated[ThreadPoolExecutor, Depends(get_model_thread)]
