"""Team edits from several servers on one store: versions, compare-and-set writes, and reloading.

Each "server" is a KnowledgeBase of its own (its own TeamDirectory in memory) over one SQLite file and one teams
file, as two `kb serve` processes on one data directory are. No index is built: tickets name their team.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from indexer.embedders import Embedder
from kb.access import Principal
from kb.errors import Conflict, KbError, NotFound, PreconditionFailed
from kb.service import KnowledgeBase
from kb.settings import Settings
from kb.store.audit import AuditRepository
from kb.store.teams import StaleVersion, TeamOverrideRepository
from kb.teams import add_business_hours, load_teams
from kb.teams.service import EDIT_ATTEMPTS, TeamService
from kb.tickets import NewTicket

pytestmark = pytest.mark.both_stores

ADMIN = Principal(name="ada", role="admin", origin="test")
MONDAY_MORNING = dt.datetime(2026, 1, 12, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def servers(small_settings: Settings, embedder: Embedder) -> Iterator[list[KnowledgeBase]]:
    """Two servers, started before any edit, each asking the store before every use of the teams."""
    both = [KnowledgeBase(small_settings, embedder=embedder) for _ in range(2)]
    for kb in both:
        kb.teams.refresh_every = 0.0
    yield both
    for kb in both:
        kb.close()


def _targets(kb: KnowledgeBase) -> dict[str, float]:
    it = kb.teams.directory.get("IT")
    assert it is not None
    return {str(priority): hours for priority, hours in it.first_response_hours.items()}


def _ticket(kb: KnowledgeBase, priority: str) -> dict[str, Any]:
    ticket, _ = kb.tickets.create(NewTicket("Laptop", "It will not boot", "maria", team="IT", priority=priority))
    return ticket


def test_edits_on_two_servers_both_survive_and_both_servers_compute_the_same_due_time(
    servers: list[KnowledgeBase],
) -> None:
    """The issue's run: `normal` 8 → 77 on A, then `high` 4 → 5 on B. B used to merge over its stale copy and
    store {high: 5, normal: 8}; A went on computing due times with high 4."""
    a, b = servers
    a.teams.patch("IT", {"first_response_hours": {"normal": 77}}, ADMIN)
    b.teams.patch("it", {"first_response_hours": {"high": 5}}, ADMIN)

    expected = {"urgent": 1, "high": 5, "normal": 77, "low": 16}
    (row,) = TeamOverrideRepository(a.store.engine).all()
    assert row["config"]["first_response_hours"] == expected and row["version"] == 2
    assert _targets(a) == expected and _targets(b) == expected

    for kb in servers:
        for priority, hours in (("normal", 77), ("high", 5)):
            ticket = _ticket(kb, priority)
            it = kb.teams.directory.get("IT")
            assert it is not None
            assert ticket["expected_first_response_by"] == add_business_hours(ticket["created_at"], hours, it)

    def due(kb: KnowledgeBase, priority: str) -> dt.datetime:
        it = kb.teams.directory.get("IT")
        assert it is not None
        return add_business_hours(MONDAY_MORNING, it.first_response_target(priority), it)

    assert [due(a, p) for p in ("normal", "high")] == [due(b, p) for p in ("normal", "high")]


def test_reads_show_the_other_servers_edit_and_its_etag(servers: list[KnowledgeBase]) -> None:
    a, b = servers
    tag = b.teams.status("IT").etag
    edited = a.teams.patch("IT", {"email": "it@x.io"}, ADMIN)
    assert edited.etag != tag
    seen = b.teams.status("it")
    assert seen.status.team.email == "it@x.io" and seen.etag == edited.etag
    assert [s.team.email for s in b.teams.statuses() if s.team.name == "IT"] == ["it@x.io"]
    # A team created on A is known to B's tickets.
    a.teams.replace("Legal", {"timezone": "Europe/Warsaw", "first_response_hours": {"normal": 3}}, ADMIN)
    assert b.tickets.create(NewTicket("NDA", "Please review", "maria", team="legal"))[0]["team"] == "Legal"


def test_a_stale_if_match_is_refused_and_changes_nothing(servers: list[KnowledgeBase]) -> None:
    a, b = servers
    read_on_b = b.teams.status("IT").etag
    a.teams.patch("IT", {"first_response_hours": {"normal": 77}}, ADMIN)
    before = TeamOverrideRepository(a.store.engine).all()
    updates = len(a.store.audit.recent(100))

    with pytest.raises(PreconditionFailed) as refused:
        b.teams.patch("IT", {"first_response_hours": {"high": 5}}, ADMIN, if_match=frozenset({read_on_b}))
    assert refused.value.field == "If-Match"
    with pytest.raises(PreconditionFailed):
        b.teams.replace("IT", {"timezone": "UTC"}, ADMIN, if_match=frozenset({read_on_b}))
    assert TeamOverrideRepository(a.store.engine).all() == before
    assert len(a.store.audit.recent(100)) == updates
    assert _targets(b)["high"] == 4

    # The current tag (read again) and "*" match; after that edit, the tag it replaced no longer does.
    current = b.teams.status("IT").etag
    edited = b.teams.patch("IT", {"first_response_hours": {"high": 5}}, ADMIN, if_match=frozenset({'"0-x"', current}))
    assert _targets(a) == {"urgent": 1, "high": 5, "normal": 77, "low": 16}
    b.teams.patch("IT", {"email": "it@x.io"}, ADMIN, if_match=frozenset({"*"}))
    with pytest.raises(PreconditionFailed):
        a.teams.patch("IT", {"email": "x@x.io"}, ADMIN, if_match=frozenset({edited.etag}))


def test_if_match_on_a_team_that_does_not_exist(servers: list[KnowledgeBase]) -> None:
    a, _ = servers
    with pytest.raises(PreconditionFailed):  # a PUT would create it: nothing matches a team not there
        a.teams.replace("Legal", {"timezone": "UTC"}, ADMIN, if_match=frozenset({"*"}))
    with pytest.raises(NotFound):  # a PATCH would be a 404 anyway: that comes first
        a.teams.patch("Legal", {"timezone": "UTC"}, ADMIN, if_match=frozenset({"*"}))
    assert TeamOverrideRepository(a.store.engine).all() == []


def test_a_file_team_has_a_stable_etag_that_names_the_team(servers: list[KnowledgeBase]) -> None:
    a, b = servers
    assert a.teams.status("IT").etag == b.teams.status("it").etag == a.teams.status("IT").etag
    assert a.teams.status("IT").etag.startswith('"0-')
    assert a.teams.status("IT").etag != a.teams.status("HR").etag


def test_edits_racing_on_two_servers_all_survive(servers: list[KnowledgeBase]) -> None:
    """Eight edits of eight different fields, four threads per server at once: none is lost (each one that
    loses a race merges again), and a new team created on both servers at once is created once."""
    priorities = ("low", "normal", "high", "urgent")
    fields = [(target, priority) for target in ("first_response_hours", "resolution_hours") for priority in priorities]
    errors: list[BaseException] = []
    start = threading.Barrier(len(fields) + 2)

    def edit(kb: KnowledgeBase, target: str, priority: str) -> None:
        start.wait()
        try:
            kb.teams.patch("IT", {target: {priority: 100}}, ADMIN)
        except BaseException as exc:
            errors.append(exc)

    def create(kb: KnowledgeBase) -> None:
        start.wait()
        try:
            kb.teams.replace("Legal", {"timezone": "UTC"}, ADMIN)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=edit, args=(servers[index % 2], target, priority))
        for index, (target, priority) in enumerate(fields)
    ] + [threading.Thread(target=create, args=(kb,)) for kb in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    for kb in servers:
        it = kb.teams.directory.get("IT")
        assert it is not None
        assert it.first_response_hours == it.resolution_hours == dict.fromkeys(priorities, 100)
    versions = {row["name"]: row["version"] for row in TeamOverrideRepository(servers[0].store.engine).all()}
    assert versions == {"it": len(fields), "legal": 2}  # created once, then replaced once


def test_an_edit_that_keeps_losing_the_race_is_a_conflict(
    servers: list[KnowledgeBase], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another server's write between every read and write of this one: after EDIT_ATTEMPTS the edit gives up
    with a 409 and has written nothing."""
    a, b = servers
    repository: TeamOverrideRepository = a.teams._overrides
    real_get = repository.get
    attempts = 0

    def read_then_lose(name: str) -> dict[str, Any] | None:
        nonlocal attempts
        attempts += 1
        row = real_get(name)
        b.teams.patch("IT", {"keywords": [f"race-{attempts}"]}, ADMIN)  # lands after the read
        return row

    monkeypatch.setattr(repository, "get", read_then_lose)
    with pytest.raises(Conflict):
        a.teams.patch("IT", {"email": "it@x.io"}, ADMIN)
    assert attempts == EDIT_ATTEMPTS
    row = real_get("IT")
    assert row is not None and row["config"]["keywords"] == [f"race-{EDIT_ATTEMPTS}"] and "@x.io" not in str(row)


# The store -------------------------------------------------------------------------------------------------
def test_a_write_lands_only_over_the_version_it_read(small_kb: KnowledgeBase) -> None:
    first, second = TeamOverrideRepository(small_kb.store.engine), TeamOverrideRepository(small_kb.store.engine)
    assert first.generation() == (0, 0)
    assert first.put("Legal", {"name": "Legal"}, expected=0, updated_by="a") == 1
    with pytest.raises(StaleVersion):  # created meanwhile: the primary key refuses the second insert
        second.put("legal", {"name": "Legal", "email": "b"}, expected=0, updated_by="b")
    assert first.put("LEGAL", {"name": "Legal", "email": "a"}, expected=1, updated_by="a") == 2
    with pytest.raises(StaleVersion):
        second.put("legal", {"name": "Legal", "email": "b"}, expected=1, updated_by="b")
    row = first.get("Legal")
    assert row is not None and row["config"] == {"name": "Legal", "email": "a"} and row["version"] == 2
    assert first.generation() == (1, 2)


@pytest.mark.sqlite_only
def test_an_old_store_gains_versions(small_settings: Settings, embedder: Embedder) -> None:
    """A store written before versions: its team_overrides has no `version` column. It is added on start, the
    old rows count as version 1, and they are edited like any other."""
    small_settings.data_dir.mkdir(parents=True)
    database = small_settings.data_dir / "kb.sqlite3"
    assert small_settings.resolved_database_url.endswith(str(database)), small_settings.resolved_database_url
    with sqlite3.connect(database) as conn:
        conn.execute(
            "CREATE TABLE team_overrides (name VARCHAR(100) PRIMARY KEY, config JSON NOT NULL, "
            "updated_at DATETIME NOT NULL, updated_by VARCHAR(200) NOT NULL)"
        )
        conn.execute(
            "INSERT INTO team_overrides VALUES ('it', ?, '2026-01-01 00:00:00.000000', 'someone')",
            ('{"name": "IT", "timezone": "Europe/Lisbon", "first_response_hours": {"normal": 77}}',),
        )
    conn.close()

    kb = KnowledgeBase(small_settings, embedder=embedder)
    try:
        assert _targets(kb) == {"normal": 77}
        view = kb.teams.status("IT")
        assert view.etag.startswith('"1-')
        kb.teams.patch("IT", {"first_response_hours": {"high": 5}}, ADMIN, if_match=frozenset({view.etag}))
        (row,) = TeamOverrideRepository(kb.store.engine).all()
        assert row["version"] == 2 and row["config"]["first_response_hours"] == {"normal": 77, "high": 5}
    finally:
        kb.close()


# Reloading -------------------------------------------------------------------------------------------------
class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_other_uses_reload_within_the_refresh_interval_and_team_reads_at_once(
    small_kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tickets, routing and metrics read the directory for every ticket: they ask the store at most every
    `refresh_every` seconds (one small query), so another server's edit reaches them within that time. A team
    read asks every time, so what it shows and its ETag are current."""
    engine = small_kb.store.engine
    overrides = TeamOverrideRepository(engine)
    queries = 0
    real_generation = overrides.generation

    def counted() -> tuple[int, int]:
        nonlocal queries
        queries += 1
        return real_generation()

    monkeypatch.setattr(overrides, "generation", counted)
    clock = FakeMonotonic()
    directory = load_teams(small_kb.settings.resolved_teams_file)
    mine = TeamService(directory, overrides, AuditRepository(engine), monotonic=clock)
    mine.apply_overrides()
    assert mine.refresh_every > 0

    def normal() -> float:
        it = directory.get("IT")
        assert it is not None
        return it.first_response_target("normal")

    small_kb.teams.patch("IT", {"first_response_hours": {"normal": 77}}, ADMIN)  # on another server
    clock.now += mine.refresh_every / 2
    assert [normal() for _ in range(100)] == [8] * 100
    assert queries == 0

    clock.now += mine.refresh_every
    assert [normal() for _ in range(100)] == [77] * 100
    assert queries == 1

    small_kb.teams.patch("IT", {"first_response_hours": {"high": 5}}, ADMIN)
    view = mine.status("IT")  # no time has passed, but a team read asks
    assert view.status.team.first_response_hours["high"] == 5
    assert view.etag == small_kb.teams.status("IT").etag


@pytest.mark.parametrize(
    "fault",
    [
        sa.exc.OperationalError("SELECT", {}, Exception("disk I/O error")),
        KbError("the disk holding the data directory failed a read"),  # as the store may translate it
    ],
)
def test_a_store_that_cannot_be_read_leaves_the_teams_in_memory(
    small_kb: KnowledgeBase, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, fault: Exception
) -> None:
    small_kb.teams.refresh_every = 0.0

    def broken() -> tuple[int, int]:
        raise fault

    monkeypatch.setattr(small_kb.teams._overrides, "generation", broken)
    for _ in range(3):
        assert small_kb.teams.directory.get("IT") is not None
        assert small_kb.teams.status("IT").status.team.name == "IT"
    assert sum("teams not reloaded" in r.message for r in caplog.records) == 1
