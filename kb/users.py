"""Users and bearer tokens: random, shown once, stored only as a SHA-256 hash, revocable, expiring."""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from kb.access import LOCAL_ADMIN, ROLES, Principal
from kb.best_effort import BestEffortWrites
from kb.errors import InvalidInput, NotFound, Unauthorized
from kb.recent import RecentMap
from kb.store.audit import AuditEntry, AuditRepository
from kb.store.users import StoredUser, UserRepository


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# A token's sign-in is audited on its first use from an address, then at most once an hour from there: not on every
# request. Remembered in this process only (a restart, or another server process, audits the next use again), for at
# most this many token and address pairs; the oldest are forgotten first, which only costs an extra audit row.
SIGN_IN_AUDIT_INTERVAL = timedelta(hours=1)
MAX_REMEMBERED_SIGN_INS = 10_000


def _names(values: Sequence[str]) -> list[str]:
    return sorted({v.strip() for v in values if v.strip()})


# An e-mailed sign-in link is short-lived and works once.
SIGN_IN_LINK_MINUTES = 15
LINK_PREFIX = "sign-in-link:"


class UserService:
    def __init__(
        self,
        repository: UserRepository,
        audit: AuditRepository,
        token_days: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        best_effort: BestEffortWrites | None = None,
    ) -> None:
        self._repository = repository
        self._audit = audit
        # Sign-in audits are written on reads too: a full disk must not turn a valid token into a 503, nor a bad
        # one into anything but a 401.
        self._best_effort = best_effort or BestEffortWrites()
        self._token_days = token_days
        self._clock = clock
        # (token hash, origin) -> audited (when: the map's touch time)
        self._sign_ins: RecentMap[tuple[str, str], None] = RecentMap(
            SIGN_IN_AUDIT_INTERVAL.total_seconds(), MAX_REMEMBERED_SIGN_INS
        )
        self._sign_ins_lock = threading.Lock()

    def add(
        self, name: str, *, email: str, role: str, groups: Sequence[str] = (), teams: Sequence[str] = ()
    ) -> tuple[StoredUser, str]:
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
            name=name,
            email=email.strip(),
            role=role,  # narrowed to Role by the check against ROLES above
            groups=_names(groups),
            teams=_names(teams),
            token_hash=hash_token(token),
            expires_at=self._clock() + timedelta(days=self._token_days),
        )
        self._audit.add(
            actor="cli",
            action="user.create",
            target=name,
            origin="cli",
            role=role,
            groups=list(user.groups),
            teams=list(user.teams),
        )
        return user, token

    def list(self) -> list[StoredUser]:
        return self._repository.all()

    def revoke(self, name: str) -> int:
        """Revoke every live token of the user; returns how many."""
        user = self._repository.by_name(name)
        if user is None:
            raise NotFound(f"no user {name!r}", field="name")
        count = self._repository.revoke(user.id, self._clock())
        self._audit.add(actor="cli", action="user.revoke", target=name, origin="cli", tokens=count)
        return count

    def sign_in_code(self, email: str, origin: str = "") -> tuple[StoredUser, str] | None:
        """A one-time sign-in code for the user with this address, valid SIGN_IN_LINK_MINUTES (None when no user
        has it: the caller says the same either way, so that the form does not tell who has an account). The code
        is stored hashed under its own prefix: it is no bearer token, only `redeem` takes it."""
        user = self._repository.by_email(email)
        if user is None:
            return None
        code = secrets.token_urlsafe(32)
        expires = self._clock() + timedelta(minutes=SIGN_IN_LINK_MINUTES)
        self._repository.add_token(user.id, hash_token(LINK_PREFIX + code), expires)
        self._audit.add(actor=user.name, action="auth.link_sent", origin=origin)
        return user, code

    def redeem(self, code: str, origin: str = "") -> str:
        """Exchange a sign-in code, once, for a new token of its user (valid KB_TOKEN_DAYS)."""
        user = self._repository.use_token(hash_token(LINK_PREFIX + code), self._clock())
        if user is None:
            self._best_effort.attempt(
                "audit", lambda: self._audit.add(actor="unknown", action="auth.failed", origin=origin)
            )
            raise Unauthorized("this sign-in link was used already or has expired: ask for a new one")
        token = secrets.token_urlsafe(32)
        self._repository.add_token(user.id, hash_token(token), self._clock() + timedelta(days=self._token_days))
        self._audit.add(actor=user.name, action="auth.link_used", origin=origin)
        return token

    def authenticate(self, token: str, origin: str = "") -> Principal:
        """The token's user. Every failure is audited (the API stops asking for an address that fails too often);
        a sign-in is audited on the token's first use from `origin`, then once an hour (SIGN_IN_AUDIT_INTERVAL)."""
        now = self._clock()
        token_hash = hash_token(token)
        user = self._repository.by_token(token_hash, now)
        if user is None:
            self._best_effort.attempt(
                "audit", lambda: self._audit.add(actor="unknown", action="auth.failed", origin=origin)
            )
            raise Unauthorized("the token is unknown, revoked or expired")
        if self._sign_in_due((token_hash, origin), now):
            self._best_effort.attempt(
                "audit", lambda: self._audit.add(actor=user.name, action="auth.sign_in", origin=origin)
            )
        return Principal(
            name=user.name,
            role=user.role,
            groups=frozenset(user.groups),
            teams=frozenset(user.teams),
            origin=origin,
        )

    def _sign_in_due(self, key: tuple[str, str], now: datetime) -> bool:
        """Whether this sign-in is to be audited; if so, it is remembered as audited now."""
        with self._sign_ins_lock:
            if self._sign_ins.get(key, now.timestamp()) is not None:
                return False
            self._sign_ins.put(key, None, now.timestamp())
            return True

    def audit_trail(self, limit: int = 50) -> Sequence[AuditEntry]:
        """The audit log, newest first: sign-ins, permission and article changes, agents' ticket views."""
        return self._audit.recent(limit)
