"""Teams as the API shows and edits them: statuses at an instant, and admin edits kept as overrides.

The teams file is the starting point; an admin's edit is stored whole (one override per team) and applied over
the file's teams at start and at once when made, in the one TeamDirectory every service shares. Each edit is
validated by the Team model, so a mistake names its field, and leaves an audit row with what changed.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from kb.access import Principal, can_edit_teams
from kb.errors import Forbidden, InvalidInput, NotFound
from kb.store.database import AuditRepository
from kb.store.teams import TeamOverrideRepository
from kb.teams.model import Channel, Team, TeamDirectory
from kb.teams.schedule import TeamStatus, team_status

log = logging.getLogger(__name__)

# What GET adds to a team and its channels: ignored in an edit, so a team read can be changed and sent back.
READ_ONLY = frozenset({"open_now", "closes_at", "next_opening"})
# Statuses are computed for instants in this range; far outside it a calendar means nothing (and overflows).
EARLIEST, LATEST = dt.date(1970, 1, 1), dt.date(2999, 12, 31)


def validate_team(config: Mapping[str, Any]) -> Team:
    """A Team from a JSON-like config; an unknown field or a bad value is an InvalidInput naming the field
    (`timezone`, `hours`, `channels.1.schedule`, `first_response_hours.critical`, ...)."""
    config = _without_read_only(config)
    _refuse_unknown_fields(config)
    try:
        return Team.model_validate(config)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"] if part != "[key]") or "body"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidInput(f"{field}: {message}", field=field) from exc


def _without_read_only(config: Mapping[str, Any]) -> dict[str, Any]:
    cleaned = {k: v for k, v in config.items() if k not in READ_ONLY}
    if isinstance(channels := cleaned.get("channels"), list):
        cleaned["channels"] = [
            {k: v for k, v in c.items() if k not in READ_ONLY} if isinstance(c, dict) else c for c in channels
        ]
    return cleaned


def _refuse_unknown_fields(config: Mapping[str, Any]) -> None:
    for key in config:
        if key not in Team.model_fields:
            raise InvalidInput(f"{key}: unknown field; use {', '.join(Team.model_fields)}", field=str(key))
    channels = config.get("channels")
    if isinstance(channels, list):
        for index, channel in enumerate(channels):
            for key in channel if isinstance(channel, dict) else ():
                if key not in Channel.model_fields:
                    field = f"channels.{index}.{key}"
                    raise InvalidInput(f"{field}: unknown field; use {', '.join(Channel.model_fields)}", field=field)


def merge_patch(target: Any, patch: Any) -> Any:
    """JSON Merge Patch (RFC 7396): objects merge key by key, `null` removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {key: {"from": before.get(key), "to": value} for key, value in after.items() if before.get(key) != value}


class TeamService:
    """Reads every signed-in user may make, and the admins' edits."""

    def __init__(
        self,
        directory: TeamDirectory,
        overrides: TeamOverrideRepository,
        audit: AuditRepository,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._directory = directory
        self._overrides = overrides
        self._audit = audit
        self._clock = clock
        self._lock = threading.Lock()  # one edit at a time: read, merge, validate, store, publish

    def apply_overrides(self) -> None:
        """Put every stored override over the teams from the file. One that no longer validates (the model
        grew stricter) is logged and skipped: the file's team stays in force rather than the server failing."""
        for row in self._overrides.all():
            try:
                self._directory.put(Team.model_validate(row["config"]))
            except ValidationError as exc:
                log.warning("team override %r ignored: %s", row["name"], exc)

    # Reading -------------------------------------------------------------------------------------------
    def statuses(self, at: dt.datetime | None = None) -> list[TeamStatus]:
        moment = self._moment(at)
        return [team_status(team, moment) for team in self._directory]

    def status(self, name: str, at: dt.datetime | None = None) -> TeamStatus:
        return team_status(self._team(name), self._moment(at))

    def _team(self, name: str) -> Team:
        team = self._directory.get(name)
        if team is None:
            raise NotFound(f"no team {name.strip()!r}; known teams: {', '.join(self._directory.names())}", field="name")
        return team

    def _moment(self, at: dt.datetime | None) -> dt.datetime:
        if at is None:
            return self._clock()
        if at.tzinfo is None or at.utcoffset() is None:
            raise InvalidInput("`at` needs a UTC offset, e.g. 2026-03-30T09:00:00+01:00", field="at")
        if not EARLIEST <= at.date() <= LATEST:
            raise InvalidInput(f"`at` must fall between {EARLIEST} and {LATEST}", field="at")
        return at

    # Editing -------------------------------------------------------------------------------------------
    def replace(self, name: str, config: Mapping[str, Any], editor: Principal) -> tuple[Team, bool]:
        """Create or replace the team `name` with `config` (a whole team: omitted fields take their defaults).
        Returns the team and whether it is new."""
        self._authorize(editor)
        key = self._path_name(name)
        with self._lock:
            current = self._directory.get(key)
            given = {**config, "name": self._body_name(config, key, current)}
            team = validate_team(given)
            self._save(team, current, editor)
        return team, current is None

    def patch(self, name: str, changes: Mapping[str, Any], editor: Principal) -> Team:
        """Merge `changes` over the team's current config (JSON Merge Patch) and validate the result."""
        self._authorize(editor)
        with self._lock:
            current = self._team(name)
            merged = merge_patch(current.model_dump(mode="json"), dict(changes))
            team = validate_team({**merged, "name": self._body_name(changes, current.name, current)})
            self._save(team, current, editor)
        return team

    def _save(self, team: Team, current: Team | None, editor: Principal) -> None:
        before = current.model_dump(mode="json") if current is not None else {}
        after = team.model_dump(mode="json")
        self._overrides.put(team.name, after, updated_by=editor.name, now=self._clock())
        self._directory.put(team)
        self._audit.add(
            actor=editor.name,
            action="team.update",
            target=team.name,
            origin=editor.origin,
            created=current is None,
            changed=_changes(before, after),
        )
        log.info("team %s %s by %s", team.name, "created" if current is None else "updated", editor.name)

    @staticmethod
    def _authorize(editor: Principal) -> None:
        if not can_edit_teams(editor):
            raise Forbidden("only an admin may change teams")

    @staticmethod
    def _path_name(name: str) -> str:
        key = name.strip()
        if not key:
            raise InvalidInput("a team needs a name", field="name")
        return key

    @staticmethod
    def _body_name(config: Mapping[str, Any], key: str, current: Team | None) -> str:
        """The name to keep. An existing team is never renamed, not even in case: tickets store the team's name
        and filters compare it exactly, so "IT" becoming "it" would hide its tickets. A body `name` equal to the
        team's in any case is accepted and the stored spelling kept. A new team takes the body's spelling, which
        may differ from the path's only in case, or the path's when the body has none."""
        given = config.get("name")
        expected = current.name if current is not None else key
        if given is None:
            return expected
        if not isinstance(given, str) or given.strip().lower() != expected.strip().lower():
            raise InvalidInput(f"`name` in the body must be {expected!r}, the team of the path", field="name")
        return expected if current is not None else given.strip()
