"""`If-Match` for the resources edited over versions (teams, articles): parsing the header, documenting 412."""

from __future__ import annotations

import re
from typing import Any

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
