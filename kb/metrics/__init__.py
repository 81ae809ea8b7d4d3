"""Service metrics: how the desks are doing (volumes, response and handle times, SLAs, backlog, satisfaction,
self-service) computed from the store, for the API (`GET /v1/metrics/service`) and `kb report`.

service.py is the entry point (`MetricsService.report`); results.py the result types; window.py and scope.py
what a request covers; tickets.py, search.py and gaps.py the metrics themselves."""

from kb.metrics.results import ServiceMetrics
from kb.metrics.scope import metrics_scope
from kb.metrics.service import MetricsService
from kb.metrics.window import metrics_window

__all__ = ["MetricsService", "ServiceMetrics", "metrics_scope", "metrics_window"]
