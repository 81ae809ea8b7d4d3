"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import KB
from api.problems import problem

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The index is loaded and searches can be served", response_model=None)
def readyz(kb: KB) -> dict[str, Any] | JSONResponse:
    """200 while searches are served: `ready`, or `degraded` when the live generation could not be loaded and
    the one before it still serves (`unloadable` names the bad one); 503 when there is nothing to serve, or until
    the index has caught up with the store's change log after a start (a load balancer sends it nothing before)."""
    status = kb.indexing.status()
    if status.serving is None:
        return problem(503, "Index not ready", "no usable index: run `kb index`")
    follow = kb.follower.status()
    if not follow.caught_up:
        detail = f"the index is catching up with the change log ({follow.lag_changes} changes behind)"
        return problem(503, "Index not ready", detail)
    body: dict[str, Any] = {"status": status.state, "index": status.serving}
    if kb.settings.follow_seconds:  # changes other servers made that this one's index does not hold yet
        body["changes"] = {"applied": follow.applied, "lag": follow.lag_changes, "lag_seconds": follow.lag_seconds}
    if status.unloadable:
        body["unloadable"] = status.unloadable
    if dropped := kb.best_effort.dropped():
        body["dropped_writes"] = dropped  # search-log rows and view audits lost to storage faults
    return body
