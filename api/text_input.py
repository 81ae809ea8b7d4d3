"""One rule for every text a client sends, checked before any route reads it: no NUL character.

PostgreSQL cannot store U+0000 in a text column, and no subject, query or article needs one: without this check the
same request is stored on SQLite and fails with a 500 on PostgreSQL. Here it is a 422 problem naming the field, on
both stores, whichever route it reaches: query string, path, JSON body or form.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import FormData

NUL = "\x00"
MESSAGE = "must not contain the NUL character (U+0000)"
_JSON_NUL = b"\\u0000"  # how JSON writes it; a raw NUL byte is no JSON at all and fails the body's own parsing


async def reject_nul_characters(request: Request) -> None:
    """A dependency of the whole app: 422 for the first field holding a NUL character."""
    for location, values in (("query", request.query_params.multi_items()), ("path", request.path_params.items())):
        for name, value in values:
            if NUL in str(value):
                _refuse((location, name))
    if request.method in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return
    # Read as the route read it (the request keeps it): the body's bytes for JSON, the parsed form for a form. A body
    # the route read otherwise (a form route sent JSON) is gone: its own parsing has judged it already.
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("application/json"):
            _check_json(await request.body())
        elif content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            _check_form(await request.form())
    except RuntimeError:  # Starlette's "Stream consumed"
        return


def _check_json(body: bytes) -> None:
    if _JSON_NUL not in body:
        return
    try:
        parsed = json.loads(body)
    except ValueError:
        return  # not JSON: the route's own parsing reports it
    for location in _nul_paths(parsed, ("body",)):
        _refuse(location)


def _check_form(form: FormData) -> None:
    for name, value in form.multi_items():
        if isinstance(value, str) and NUL in value:
            _refuse(("body", name))


def _nul_paths(value: Any, location: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    """Where in a parsed JSON document a string (key or value) holds a NUL character."""
    if isinstance(value, str):
        if NUL in value:
            yield location
    elif isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                yield location
            yield from _nul_paths(item, (*location, key))
    elif isinstance(value, list):
        for position, item in enumerate(value):
            yield from _nul_paths(item, (*location, position))


def _refuse(location: tuple[str | int, ...]) -> None:
    raise RequestValidationError([{"type": "string_nul", "loc": location, "msg": MESSAGE, "input": None}])
