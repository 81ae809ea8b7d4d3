"""Users and bearer tokens: random, shown once, stored only as a SHA-256 hash, revocable, expiring."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from kb.access import LOCAL_ADMIN, ROLES, Principal
from kb.errors import InvalidInput, NotFound, Unauthorized
from kb.store.database import AuditRepository, UserRepository


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _names(values: Sequence[str]) -> list[str]:
    return sorted({v.strip() for v in values if v.strip()})


class UserService:
    def __init__(
        self,
        repository: UserRepository,
        audit: AuditRepository,
        token_days: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._repository = repository
        self._audit = audit
        self._token_days = token_days
        self._clock = clock

    def add(
        self, name: str, *, email: str, role: str, groups: Sequence[str] = (), teams: Sequence[str] = ()
    ) -> tuple[dict[str, Any], str]:
        """Create a user; returns the user and their token, which is never shown or stored again."""
        name = name.strip()
        if not name:
            raise InvalidInput("the user name must not be empty", field="name")
        if name.casefold() == LOCAL_ADMIN.name.casefold():
            # The API treats this principal specially (it may file tickets for any requester): no token may be it.
            raise InvalidInput(f"{name!r} is reserved for the trusted local admin; choose another name", field="name")
        if role not in ROLES:
            raise InvalidInput(f"unknown role {role!r}; use {', '.join(ROLES)}", field="role")
        if "@" not in email:
            raise InvalidInput(f"not an e-mail address: {email!r}", field="email")
        if self._repository.by_name(name) is not None:
            raise InvalidInput(f"a user named {name!r} already exists", field="name")
        token = secrets.token_urlsafe(32)
        user = self._repository.add(
            {"name": name, "email": email.strip(), "role": role, "groups": _names(groups), "teams": _names(teams)},
            hash_token(token),
            self._clock() + timedelta(days=self._token_days),
        )
        self._audit.add(
            actor="cli",
            action="user.create",
            target=name,
            origin="cli",
            role=role,
            groups=user["groups"],
            teams=user["teams"],
        )
        return user, token

    def list(self) -> list[dict[str, Any]]:
        return self._repository.all()

    def revoke(self, name: str) -> int:
        """Revoke every live token of the user; returns how many."""
        user = self._repository.by_name(name)
        if user is None:
            raise NotFound(f"no user {name!r}", field="name")
        count = self._repository.revoke(int(user["id"]), self._clock())
        self._audit.add(actor="cli", action="user.revoke", target=name, origin="cli", tokens=count)
        return count

    def authenticate(self, token: str, origin: str = "") -> Principal:
        user = self._repository.by_token(hash_token(token), self._clock())
        if user is None:
            self._audit.add(actor="unknown", action="auth.failed", origin=origin)
            raise Unauthorized("the token is unknown, revoked or expired")
        self._audit.add(actor=user["name"], action="auth.sign_in", origin=origin)
        return Principal(
            name=user["name"],
            role=user["role"],
            groups=frozenset(user["groups"]),
            teams=frozenset(user["teams"]),
            origin=origin,
        )
