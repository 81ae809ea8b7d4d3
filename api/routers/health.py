"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import KB
from api.problems import problem

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The index is loaded and searches can be served", response_model=None)
def readyz(kb: KB) -> dict[str, str] | JSONResponse:
    if not kb.ready:
        return problem(503, "Index not ready", "no usable index: run `kb index`")
    return {"status": "ready", "index": kb.searcher().index.generation}
