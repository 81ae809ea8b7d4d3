"""Checks of what callers send the ticket domain: texts within their limits, words from a vocabulary, idempotency
keys. Each failure names the field, so the API can point at it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from kb.errors import InvalidInput
from kb.teams import Team, TeamDirectory
from kb.tickets.model import MAX_KEY


def checked_text(value: str, name: str, limit: int) -> str:
    """`value` stripped; refused when blank or longer than `limit`."""
    text = value.strip()
    if not text:
        raise InvalidInput(f"`{name}` must not be empty", field=name)
    if len(text) > limit:
        raise InvalidInput(f"`{name}` is longer than {limit} characters", field=name)
    return text


def check_choice(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise InvalidInput(f"unknown {name} {value!r}; use {', '.join(allowed)}", field=name)


def checked_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY:
        raise InvalidInput(f"the Idempotency-Key must be 1-{MAX_KEY} characters", field="Idempotency-Key")
    return key.strip()


def fingerprint(payload: Any) -> str:
    """What a replayed key is compared with: the same key for a different request is refused."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def known_team(teams: TeamDirectory, name: str) -> Team:
    """The team called `name` as the directory spells it (the directory ignores case); InvalidInput otherwise."""
    team = teams.get(name)
    if team is None:
        raise InvalidInput(f"unknown team {name!r}; known teams: {', '.join(teams.names())}", field="team")
    return team
