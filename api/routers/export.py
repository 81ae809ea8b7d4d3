"""GET /v1/export/bundle: everything the caller may read, in one resumable download."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from api.deps import KB, Reader
from api.preconditions import CACHE_CONTROL

router = APIRouter(prefix="/v1/export", tags=["sync"])


@router.get(
    "/bundle",
    response_class=FileResponse,
    summary="Articles you may read and a prebuilt index, as one archive (resumable with Range and If-Range)",
    responses={
        200: {"content": {"application/gzip": {}}, "description": "A tar.gz: manifest, articles, index."},
        206: {"content": {"application/gzip": {}}, "description": "The part of the archive asked for."},
    },
)
def bundle(kb: KB, reader: Reader) -> FileResponse:
    made = kb.bundles.bundle(reader)
    return FileResponse(
        made.path,
        media_type="application/gzip",
        filename="kb-bundle.tar.gz",
        headers={"ETag": made.etag, "Cache-Control": CACHE_CONTROL, "X-Kb-Articles": str(made.articles)},
    )
