"""Who may read what: the one place that decides. Every path that shows an article, a snippet, a ticket
or a count asks these functions; nothing else compares groups or roles."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["employee", "agent", "admin"]
ROLES: tuple[Role, ...] = ("employee", "agent", "admin")


@dataclass(frozen=True)
class Principal:
    """The caller: a user with a role, groups and (for agents) the teams they work in."""

    name: str
    role: Role = "employee"
    groups: frozenset[str] = field(default_factory=frozenset)
    teams: frozenset[str] = field(default_factory=frozenset)
    origin: str = ""  # where the request came from (client address or "cli"), for the audit log

    @property
    def audience_key(self) -> tuple[Any, ...]:
        """Two principals with the same key may read exactly the same articles (used for caching masks)."""
        return ("admin",) if self.role == "admin" else ("groups", *sorted(self.groups))


LOCAL_ADMIN = Principal(name="local-admin", role="admin")
# Who reads when nobody says: someone in no group, who sees only articles meant for everyone.
EVERYONE = Principal(name="anonymous")


def can_read_article(principal: Principal, audience: Iterable[str]) -> bool:
    """An article with no audience is for everyone; otherwise the reader must share one of its groups."""
    groups = {g.lower() for g in audience}
    if not groups or principal.role == "admin":
        return True
    return bool(groups & {g.lower() for g in principal.groups})


def can_work_ticket(principal: Principal, team: str) -> bool:
    """Agents work their teams' tickets (reply, note, change, transfer); admins work every ticket."""
    if principal.role == "admin":
        return True
    return principal.role == "agent" and team.lower() in {t.lower() for t in principal.teams}


def can_write_article(principal: Principal, team: str | None) -> bool:
    """Agents of the owning team write its articles (and read them in every state); admins write every article."""
    if principal.role == "admin":
        return True
    return principal.role == "agent" and team is not None and can_work_ticket(principal, team)


def can_read_ticket(principal: Principal, requester: str, team: str) -> bool:
    """Requesters see their own tickets, agents their teams' tickets, admins all."""
    return requester == principal.name or can_work_ticket(principal, team)


def can_work_tickets(principal: Principal) -> bool:
    """Agents and admins work tickets (whose teams is can_work_ticket's question); employees only file theirs.
    An agent or admin opening someone else's ticket is audited."""
    return principal.role in ("agent", "admin")


def can_read_every_ticket(principal: Principal) -> bool:
    """Admins see every ticket of every team, including teams no longer configured."""
    return principal.role == "admin"


def can_file_ticket_for_others(principal: Principal) -> bool:
    """Only the local admin (the person at the server) names a ticket's requester; a signed-in user's ticket is
    always filed under their own name."""
    return principal.name == LOCAL_ADMIN.name


def can_edit_teams(principal: Principal) -> bool:
    """Only admins change teams (hours, holidays, channels, targets); every signed-in reader may see them."""
    return principal.role == "admin"


def can_view_metrics(principal: Principal, team: str | None) -> bool:
    """Service metrics are for the desks: admins see every team; agents their own teams (with no team named,
    their teams combined); employees none."""
    if principal.role == "admin":
        return True
    if principal.role != "agent":
        return False
    if team is None:
        return bool(principal.teams)
    return can_work_ticket(principal, team)


def can_view_all_metrics(principal: Principal) -> bool:
    """Without a team named, admins get the metrics of the whole service (teams no longer configured and NPS
    answers naming no team included); agents get only their own teams combined."""
    return principal.role == "admin"


def can_manage_webhooks(principal: Principal) -> bool:
    """Only admins register, list or delete webhooks: a receiver gets every ticket event it subscribes to,
    whoever the ticket belongs to, so choosing receivers is an admin's decision."""
    return principal.role == "admin"


def can_read_server_metrics(principal: Principal) -> bool:
    """The server's own metrics (GET /metrics: request counts and durations by route, queue depths; no article,
    query or user in them) are for admins; a scraper is let in by its address instead (KB_METRICS_CLIENTS)."""
    return principal.role == "admin"
