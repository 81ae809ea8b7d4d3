"""`kb demo-data`: a realistic, generated history for trying the service metrics (and the portal) on a fresh KB.

Tickets across the configured teams (IT busiest), created mostly in each team's business hours with a weekday
and hour profile (a Monday-morning peak), priorities skewed to normal, first responses and resolutions at
plausible business-hour delays (about one in ten misses its target), pending spells, replies and internal
notes, CSAT on about 30 % of resolved tickets, NPS answers (at most one per user per quarter), searches
(about 70 % answered; some followed by a ticket from the same person), article views and votes.

Everything comes from one `random.Random(seed)` and `now` (default: the start of the current hour): the same
seed and `now` give the same history. Rows are written with bulk inserts, in batches; no model is loaded.
"""

from kb.demo.articles import DemoArticle, demo_articles
from kb.demo.generate import MAX_DAYS, MAX_TICKETS, DemoReport, generate_demo_data

__all__ = ["MAX_DAYS", "MAX_TICKETS", "DemoArticle", "DemoReport", "demo_articles", "generate_demo_data"]
