"""GET /v1/sync: a remote copy's delta since its cursor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import KB, Reader
from api.schemas.sync import SyncOut
from kb.sync.service import MAX_LIMIT

router = APIRouter(prefix="/v1/sync", tags=["sync"])


@router.get("", response_model=SyncOut, summary="Articles you may read that changed since your cursor, and tombstones")
def sync(
    kb: KB,
    reader: Reader,
    since: Annotated[
        str | None, Query(max_length=200, description="The cursor of your last sync (none: everything).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> SyncOut:
    return SyncOut.of(kb.sync.page(reader, since, limit))
