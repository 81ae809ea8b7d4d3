"""Service metrics: how the desks are doing (volumes, response and handle times, SLAs, backlog, satisfaction,
self-service) computed from the store, for the API (`GET /v1/metrics/service`) and `kb report`."""

from kb.metrics.service import ServiceMetrics, checked_metrics, metrics_scope, metrics_window, service_metrics

__all__ = ["ServiceMetrics", "checked_metrics", "metrics_scope", "metrics_window", "service_metrics"]
