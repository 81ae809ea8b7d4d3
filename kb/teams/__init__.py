"""Support teams: who they are, when their desk is open, and their response targets."""

from kb.teams.business_hours import add_business_hours, business_hours_between, first_response_due
from kb.teams.model import PRIORITIES, Team, TeamDirectory, load_teams

__all__ = [
    "PRIORITIES",
    "Team",
    "TeamDirectory",
    "add_business_hours",
    "business_hours_between",
    "first_response_due",
    "load_teams",
]
