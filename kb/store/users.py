"""Users and the hashes of their bearer tokens."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine, Row

from kb.access import Role
from kb.store import schema


@dataclass(frozen=True)
class StoredUser:
    """A user as stored: never their token, which only exists as a hash in the tokens table."""

    id: int
    name: str
    email: str
    role: Role
    groups: tuple[str, ...]
    teams: tuple[str, ...]
    created_at: datetime


def _user(row: Row[tuple[object, ...]]) -> StoredUser:
    values = row._mapping
    return StoredUser(
        id=int(values["id"]),
        name=values["name"],
        email=values["email"],
        role=cast(Role, values["role"]),  # written only through UserService, which checks it against ROLES
        groups=tuple(values["groups"] or ()),
        teams=tuple(values["teams"] or ()),
        created_at=values["created_at"],
    )


class UserRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(
        self,
        *,
        name: str,
        email: str,
        role: Role,
        groups: Sequence[str],
        teams: Sequence[str],
        token_hash: str,
        expires_at: datetime,
    ) -> StoredUser:
        """The user and their first token, in one transaction."""
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            result = conn.execute(
                sa.insert(schema.users).values(
                    name=name, email=email, role=role, groups=list(groups), teams=list(teams), created_at=now
                )
            )
            user_id = int(result.inserted_primary_key[0])  # type: ignore[index]
            conn.execute(
                sa.insert(schema.tokens).values(
                    user_id=user_id, token_hash=token_hash, created_at=now, expires_at=expires_at
                )
            )
        found = self.by_name(name)
        assert found is not None  # just committed
        return found

    def by_name(self, name: str) -> StoredUser | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(schema.users).where(schema.users.c.name == name)).first()
        return _user(row) if row else None

    def all(self) -> list[StoredUser]:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(schema.users).order_by(schema.users.c.name)).all()
        return [_user(r) for r in rows]

    def by_token(self, token_hash: str, now: datetime) -> StoredUser | None:
        """The user holding this token, if it is neither revoked nor expired."""
        tokens, users = schema.tokens, schema.users
        query = (
            sa.select(users)
            .join(tokens, tokens.c.user_id == users.c.id)
            .where(tokens.c.token_hash == token_hash, tokens.c.revoked_at.is_(None), tokens.c.expires_at > now)
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return _user(row) if row else None

    def by_email(self, email: str) -> StoredUser | None:
        """The user with this address (case-insensitive), if exactly one has it."""
        query = sa.select(schema.users).where(sa.func.lower(schema.users.c.email) == email.strip().lower())
        with self._engine.connect() as conn:
            rows = conn.execute(query.limit(2)).all()
        return _user(rows[0]) if len(rows) == 1 else None

    def add_token(self, user_id: int, token_hash: str, expires_at: datetime) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                sa.insert(schema.tokens).values(
                    user_id=user_id, token_hash=token_hash, created_at=datetime.now(UTC), expires_at=expires_at
                )
            )

    def use_token(self, token_hash: str, now: datetime) -> StoredUser | None:
        """Revoke a live token and return its user, in one statement: of two uses of a one-time token, one wins."""
        tokens = schema.tokens
        with self._engine.begin() as conn:
            used = conn.execute(
                sa.update(tokens)
                .where(tokens.c.token_hash == token_hash, tokens.c.revoked_at.is_(None), tokens.c.expires_at > now)
                .values(revoked_at=now)
                .returning(tokens.c.user_id)
            ).first()
            if used is None:
                return None
            row = conn.execute(sa.select(schema.users).where(schema.users.c.id == used[0])).first()
        return _user(row) if row else None

    def revoke(self, user_id: int, now: datetime) -> int:
        tokens = schema.tokens
        with self._engine.begin() as conn:
            result = conn.execute(
                sa.update(tokens)
                .where(tokens.c.user_id == user_id, tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return int(result.rowcount)
