"""Conditional requests: `If-Match` for the resources edited over versions (teams, articles: 412, 428), and
`If-None-Match` / `If-Modified-Since` for reads (304), so that a remote client on a poor network revalidates what it
has instead of downloading it again."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from fastapi import Request, Response

from api.problems import PROBLEM_JSON, Problem
from kb.errors import InvalidInput

PRECONDITION_FAILED: dict[int | str, dict[str, Any]] = {
    412: {
        "description": "`If-Match` does not match: it changed since it was read; read it again",
        "model": Problem,
        "content": {PROBLEM_JSON: {}},
    }
}
PRECONDITION_REQUIRED: dict[int | str, dict[str, Any]] = {
    428: {
        "description": "No `If-Match`: send the ETag you read, so that no one else's change is overwritten",
        "model": Problem,
        "content": {PROBLEM_JSON: {}},
    }
}
_TAG = r'\s*(?:W/)?"[^"]*"\s*'
_TAG_LIST = re.compile(rf"{_TAG}(?:,{_TAG})*")


def entity_tags(header: str | None) -> frozenset[str] | None:
    """The tags of an If-Match header, compared as strong ones: a proxy that compresses a response may weaken
    its ETag (W/"..."), and the tag still names the same version."""
    if header is None:
        return None
    if header.strip() == "*":
        return frozenset({"*"})
    if not _TAG_LIST.fullmatch(header):
        raise InvalidInput('If-Match: give the ETag as read, quotes included (e.g. "3-1f2e...") or *', field="If-Match")
    return frozenset(re.findall(r'(?:W/)?("[^"]*")', header))


# Per user (what one may read another may not), and always revalidated: a copy may be kept, never trusted blindly.
CACHE_CONTROL = "private, no-cache"


def body_tag(payload: bytes) -> str:
    """A weak ETag for a computed body (a list): equal bodies, equal tags."""
    return f'W/"{hashlib.sha256(payload).hexdigest()[:32]}"'


def not_modified(request: Request, etag: str, last_modified: datetime | None = None) -> Response | None:
    """A 304 when the client's copy is current (If-None-Match first, else If-Modified-Since), else None; the
    caller sends the body with the same validators (`validators`)."""
    match = request.headers.get("if-none-match")
    if match is not None:
        tags = {t.strip().removeprefix("W/") for t in match.split(",")}
        fresh = "*" in tags or etag.removeprefix("W/") in tags
    elif last_modified is not None and (since := request.headers.get("if-modified-since")):
        try:
            fresh = last_modified.replace(microsecond=0) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            fresh = False
    else:
        fresh = False
    return Response(status_code=304, headers=validators(etag, last_modified)) if fresh else None


def validators(etag: str, last_modified: datetime | None = None) -> dict[str, str]:
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if last_modified is not None:
        headers["Last-Modified"] = format_datetime(last_modified, usegmt=True)
    return headers
