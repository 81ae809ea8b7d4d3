"""Support teams: who they are, when their desk is open, and their response targets."""

from kb.teams.business_hours import add_business_hours, business_hours_between
from kb.teams.model import PRIORITIES, Team, TeamDirectory, load_teams

__all__ = ["PRIORITIES", "Team", "TeamDirectory", "add_business_hours", "business_hours_between", "load_teams"]
