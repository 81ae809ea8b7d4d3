"""Dependencies: app state reached through `Annotated` aliases, never module globals."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Annotated, ParamSpec, TypeVar

from fastapi import Depends, Request

from kb.access import LOCAL_ADMIN, Principal
from kb.errors import Unauthorized
from kb.service import KnowledgeBase


def get_kb(request: Request) -> KnowledgeBase:
    kb: KnowledgeBase = request.app.state.kb
    return kb


def get_reader(request: Request, kb: Annotated[KnowledgeBase, Depends(get_kb)]) -> Principal:
    """Who is asking: the bearer token's user; in `local` auth, a trusted (loopback) client without one is
    the local admin, so a laptop install works with no users at all."""
    header = request.headers.get("authorization", "")
    client = request.client.host if request.client else ""
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("send the token as `Authorization: Bearer <token>`", field="authorization")
        return kb.users.authenticate(token.strip(), origin=client)
    if kb.settings.auth == "local" and client in kb.settings.trusted_clients:
        return dataclasses.replace(LOCAL_ADMIN, origin=client)
    raise Unauthorized("a bearer token is required: ask an admin to run `kb users add`", field="authorization")


def get_model_thread(request: Request) -> ThreadPoolExecutor:
    executor: ThreadPoolExecutor = request.app.state.model_thread
    return executor


P = ParamSpec("P")
T = TypeVar("T")


async def run_on(executor: Executor, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args, **kwargs)` on `executor` (the model thread), awaited without blocking the event loop."""
    return await asyncio.get_running_loop().run_in_executor(executor, functools.partial(fn, *args, **kwargs))


KB = Annotated[KnowledgeBase, Depends(get_kb)]
Reader = Annotated[Principal, Depends(get_reader)]
# Searches run on one long-lived thread: the model already uses every core for one query, and a thread that
# runs it each time keeps its warm per-thread state instead of paying for it on a fresh pool thread.
ModelThread = Annotated[ThreadPoolExecutor, Depends(get_model_thread)]
