"""Teams as the API shows and edits them: statuses at an instant, and admin edits kept as overrides.

The teams file is the starting point; an admin's edit is stored whole (one override per team) and applied over
the file's teams at start and at once when made, in the one TeamDirectory every service shares. Each edit is
validated by the Team model, so a mistake names its field, and leaves an audit row with what changed.

Several servers may share the store, each with its own directory in memory, so an edit never merges into that
copy: it re-reads the stored team, merges, and stores the result only over the version it read (a lost race is
merged again; an `If-Match` that no longer holds is refused). Each process reloads its directory when the stored
overrides change, checked before team reads and at most every `refresh_every` seconds before other uses (ticket
due times, routing, metrics), so every server computes the same due time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from kb.access import Principal, can_edit_teams
from kb.errors import Conflict, Forbidden, InvalidInput, KbError, NotFound, PreconditionFailed
from kb.store.audit import AuditRepository
from kb.store.teams import StaleVersion, TeamOverrideRepository
from kb.teams.business_hours import first_response_due
from kb.teams.model import Channel, Team, TeamDirectory
from kb.teams.schedule import TeamStatus, team_status

log = logging.getLogger(__name__)

# What GET adds to a team and its channels: ignored in an edit, so a team read can be changed and sent back.
READ_ONLY = frozenset({"open_now", "closes_at", "next_opening"})
# Statuses are computed for instants in this range; far outside it a calendar means nothing (and overflows).
EARLIEST, LATEST = dt.date(1970, 1, 1), dt.date(2999, 12, 31)
# How long a ticket, a route or a metric may use the teams in memory before asking the store whether another
# server edited them: one small query per interval, and servers agree again within it.
REFRESH_EVERY = 0.5
# An edit that loses the race for a team's version is merged again over the winner's; past this many losses in
# a row it gives up with a 409 rather than hold the edit lock indefinitely.
EDIT_ATTEMPTS = 5


def entity_tag(team: Team, version: int) -> str:
    """The team's ETag: its stored version, and a digest of its config so that a file team (version 0) changes
    tag when the teams file does and a tag of one team never matches another. Servers agree on it."""
    config = json.dumps(team.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return f'"{version}-{hashlib.sha256(config.encode()).hexdigest()[:16]}"'


class FirstAnswer(NamedTuple):
    team: str
    target_hours: float  # business hours
    due: dt.datetime


@dataclass(frozen=True)
class VersionedTeam:
    """A team with the version of its stored edit (0: as in the teams file)."""

    team: Team
    version: int

    @property
    def etag(self) -> str:
        return entity_tag(self.team, self.version)


@dataclass(frozen=True)
class TeamView:
    """A team's status at an instant, and the ETag to send back in `If-Match` to edit that team."""

    status: TeamStatus
    etag: str


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
        *,
        refresh_every: float = REFRESH_EVERY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._directory = directory
        # The file's teams, kept apart: a reload rebuilds the directory from them and the stored overrides.
        self._file = {team.name.lower(): team for team, _ in directory.entries()}
        self._overrides = overrides
        self._audit = audit
        self._clock = clock
        # Seconds the teams in memory are used without asking the store; 0 asks before every read.
        self.refresh_every = refresh_every
        self._monotonic = monotonic
        self._lock = threading.Lock()  # one edit or reload at a time in this process
        self._generation: tuple[int, int] | None = None  # of the overrides the directory was loaded from
        self._checked_at = -math.inf
        self._store_failing = False
        self._warned: set[tuple[str, int]] = set()  # overrides already logged as invalid
        directory.watch(self._refresh_if_due)

    def apply_overrides(self) -> None:
        """Put every stored override over the teams from the file. One that no longer validates (the model
        grew stricter) is logged and skipped: the file's team stays in force rather than the server failing."""
        with self._lock:
            self._checked_at = self._monotonic()
            self._reload()

    def refresh(self, *, wait: bool = True) -> None:
        """Reload the teams now if any server changed the stored overrides (one small query when none did).
        Team reads call it, so what GET shows, and its ETag, is what is stored. Without `wait`, an edit or reload
        running in this process (which may wait on the store's write lock) is not waited for: the teams in memory
        serve, and that edit updates them when it lands."""
        if not self._lock.acquire(blocking=wait):
            return
        try:
            self._reload_if_changed()
        finally:
            self._lock.release()

    def _refresh_if_due(self) -> None:
        """The directory's watcher: the check of `refresh`, at most every `refresh_every` seconds, and never
        waiting: while an edit or a reload runs in this process, the teams in memory serve."""
        if self._monotonic() - self._checked_at >= self.refresh_every:
            self.refresh(wait=False)

    def _reload_if_changed(self) -> None:
        # Teams in memory beat no teams: a store that cannot be read leaves them in force, logged once.
        self._checked_at = self._monotonic()
        try:
            if self._overrides.generation() != self._generation:
                self._reload()
        except (SQLAlchemyError, KbError) as exc:  # a driver error, or the domain error the store made of it
            if not self._store_failing:
                log.warning("teams not reloaded: the store cannot be read (%s); the teams in memory serve", exc)
            self._store_failing = True
            return
        if self._store_failing:
            log.info("teams: the store can be read again")
        self._store_failing = False

    def _reload(self) -> None:
        rows = self._overrides.all()
        teams = {key: (team, 0) for key, team in self._file.items()}
        for row in rows:
            key, version = row["name"], row["version"]
            try:
                team = Team.model_validate(row["config"])
            except ValidationError as exc:
                if (key, version) not in self._warned:
                    log.warning("team override %r ignored: %s", key, exc)
                    self._warned.add((key, version))
                if key in teams:  # the file's team stands, at the stored version an edit has to match
                    teams[key] = (teams[key][0], version)
                continue
            teams[team.name.lower()] = (team, version)
        self._directory.replace(list(teams.values()))
        generation = (len(rows), sum(row["version"] for row in rows))
        if self._generation is not None:
            log.info("teams reloaded: the stored edits changed (%d overrides)", len(rows))
        self._generation = generation

    # Reading -------------------------------------------------------------------------------------------
    def statuses(self, at: dt.datetime | None = None) -> list[TeamStatus]:
        moment = self._moment(at)
        self.refresh()
        return [team_status(team, moment) for team in self._directory]

    def first_answers(self, priority: str = "normal", at: dt.datetime | None = None) -> list[FirstAnswer]:
        """Each team's first-response promise for a ticket of `priority` opened at `at` (now): what a requester
        is told before sending one."""
        moment = self._moment(at)
        self.refresh()
        return [
            FirstAnswer(team.name, team.first_response_target(priority), first_response_due(team, moment, priority))
            for team in self._directory
        ]

    def status(self, name: str, at: dt.datetime | None = None) -> TeamView:
        self.refresh()
        entry = self._directory.versioned(name)
        if entry is None:
            raise self._not_found(name)
        team, version = entry
        return TeamView(team_status(team, self._moment(at)), entity_tag(team, version))

    @property
    def directory(self) -> TeamDirectory:
        """The teams as loaded, edits applied: what routing, due times and metrics read."""
        return self._directory

    def view(self, edited: VersionedTeam) -> TeamView:
        """An edited team's status now, with its new ETag."""
        return TeamView(team_status(edited.team, self._clock()), edited.etag)

    def _not_found(self, name: str) -> NotFound:
        known = ", ".join(team.name for team, _ in self._directory.entries())
        return NotFound(f"no team {name.strip()!r}; known teams: {known}", field="name")

    def _moment(self, at: dt.datetime | None) -> dt.datetime:
        if at is None:
            return self._clock()
        if at.tzinfo is None or at.utcoffset() is None:
            raise InvalidInput("`at` needs a UTC offset, e.g. 2026-03-30T09:00:00+01:00", field="at")
        if not EARLIEST <= at.date() <= LATEST:
            raise InvalidInput(f"`at` must fall between {EARLIEST} and {LATEST}", field="at")
        return at

    # Editing -------------------------------------------------------------------------------------------
    def replace(
        self, name: str, config: Mapping[str, Any], editor: Principal, *, if_match: Collection[str] | None = None
    ) -> tuple[TeamView, bool]:
        """Create or replace the team `name` with `config` (a whole team: omitted fields take their defaults).
        Returns the team's view and whether it is new. `if_match`: see `patch`; a team that does not exist yet matches
        none, not even "*"."""
        self._authorize(editor)
        key = self._path_name(name)

        def build(current: Team | None) -> Team:
            return validate_team({**config, "name": self._body_name(config, key, current)})

        edited, before = self._edit(key, build, editor, if_match, must_exist=False)
        return self.view(edited), before is None

    def patch(
        self, name: str, changes: Mapping[str, Any], editor: Principal, *, if_match: Collection[str] | None = None
    ) -> TeamView:
        """Merge `changes` over the team as stored now (JSON Merge Patch) and validate the result.

        `if_match`: the entity tags (quoted, as `entity_tag` makes them; "*" for any) of which the stored team's
        must be one, else PreconditionFailed and nothing changes. Without it, an edit that raced another is
        merged again over the other's result: the fields each one set both survive."""
        self._authorize(editor)

        def build(current: Team | None) -> Team:
            if current is None:
                raise self._not_found(name)
            merged = merge_patch(current.model_dump(mode="json"), dict(changes))
            return validate_team({**merged, "name": self._body_name(changes, current.name, current)})

        edited, _ = self._edit(name, build, editor, if_match, must_exist=True)
        return self.view(edited)

    def _edit(
        self,
        name: str,
        build: Callable[[Team | None], Team],
        editor: Principal,
        if_match: Collection[str] | None,
        *,
        must_exist: bool,
    ) -> tuple[VersionedTeam, Team | None]:
        """Read the stored team, build the edited one from it, store it over the version read; on a lost race
        start again from what won. Returns the edited team and the team it replaced (None: it is new)."""
        with self._lock:
            for _ in range(EDIT_ATTEMPTS):
                current, version = self._stored(name)
                if current is None and must_exist:
                    raise self._not_found(name)
                _check_precondition(if_match, current, version)
                team = build(current)
                after = team.model_dump(mode="json")
                try:
                    stored = self._overrides.put(
                        team.name, after, expected=version, updated_by=editor.name, now=self._clock()
                    )
                except StaleVersion:
                    log.info("team %s was changed by another edit meanwhile; merging again", name.strip())
                    continue
                self._directory.put(team, stored)
                self._record(team, current, after, editor)
                return VersionedTeam(team, stored), current
        raise Conflict(
            f"team {name.strip()!r} is being changed by other edits at the same time; try again", field="name"
        )

    def _stored(self, name: str) -> tuple[Team | None, int]:
        """The team as stored now (its override, else the file's) and the override's version (0: none yet).
        Edits merge into this, never into the copy in memory, which another server may have made stale."""
        key = name.strip().lower()
        row = self._overrides.get(key)
        if row is None:
            return self._file.get(key), 0
        try:
            return Team.model_validate(row["config"]), row["version"]
        except ValidationError:  # an override that no longer validates: the file's team stands (see _reload)
            return self._file.get(key), row["version"]

    def _record(self, team: Team, current: Team | None, after: dict[str, Any], editor: Principal) -> None:
        before = current.model_dump(mode="json") if current is not None else {}
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


def _check_precondition(if_match: Collection[str] | None, current: Team | None, version: int) -> None:
    """If-Match (RFC 9110): the stored team's tag must be one of those given, or "*" with the team existing."""
    if if_match is None:
        return
    if current is None:
        raise PreconditionFailed(
            "If-Match: there is no such team yet; leave If-Match out to create it", field="If-Match"
        )
    tag = entity_tag(current, version)
    if "*" not in if_match and tag not in if_match:
        raise PreconditionFailed(
            f"If-Match: the team was changed since it was read (its ETag is now {tag}); read it again and redo the "
            "edit",
            field="If-Match",
        )
