"""What the people who run kb see: a request id on every response and log line, and `GET /metrics` for Prometheus.

One plain ASGI middleware (no BaseHTTPMiddleware: no task per request, streaming untouched) does both per request:
it gives the request an id (uuid4 hex; sent back as X-Request-ID, and set for the log lines written while it runs,
see kb.logs), and once the response is complete it counts it by method, route template and status and times it.
The route is the template the router matched (`/v1/articles/{article_id}`, never the path, which would make a
series per article), `unmatched` when no route matched. Each app has its own CollectorRegistry (tests build many
apps in one process; the global registry would refuse the second app's metrics), in `app.state.metrics_registry`.

Gauges read from kb at each scrape (outbox depth, index lag) are callables registered with
`register_gauge_callback`; add them in `_kb_gauges`."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Final
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import KB, direct_peer, get_limits, get_reader, is_local, listed
from api.limits import Limits
from api.problems import PROBLEM_RESPONSES
from kb.access import LOCAL_ADMIN, Principal, can_read_server_metrics
from kb.errors import Forbidden
from kb.logs import RequestIds, enter_request
from kb.service import KnowledgeBase
from kb.settings import Settings

log = logging.getLogger(__name__)

REQUEST_ID_HEADER: Final = "X-Request-ID"
UNMATCHED: Final = "unmatched"
# Methods beyond these are counted as `other`: a client may send any token as a method, one series each otherwise.
METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Requests take from under a millisecond (probes) to seconds (an export, a publish that re-indexes).
HTTP_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# A search takes 1 ms (a cached query) to 2 s (a long queue); most take 5 to 50 ms: finer steps there.
SEARCH_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0, 2.0)
# A client's own X-Request-ID is logged (as client_request_id) only if it is short, visible ASCII: no log injection.
_CLIENT_REQUEST_ID = re.compile(rb"[\x21-\x7e]{1,128}")


def _portal_asks(scope: Scope) -> bool:
    """The portal's search page searches only when given a question (`/search` alone shows the empty form)."""
    return any(q.strip() for q in parse_qs(scope.get("query_string", b"").decode("latin-1")).get("q", ()))


# Route templates whose 200 responses are searches, by where the search came from (the `via` label).
SEARCH_ROUTES: Final[Mapping[str, tuple[str, Callable[[Scope], bool] | None]]] = {
    "/v1/search": ("api", None),
    "/search": ("portal", _portal_asks),
    "/": ("portal", _portal_asks),
}


class HttpMetrics:
    """The request metrics of one app, in its registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "kb_http_requests",
            "HTTP requests answered, by method, route template (`unmatched`: no route) and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "kb_http_request_duration_seconds",
            "Time from a request's arrival until its response was handed to the server, by route template.",
            ["route"],
            buckets=HTTP_BUCKETS,
            registry=registry,
        )
        self.search = Histogram(
            "kb_search_duration_seconds",
            "Time to answer a search (queue wait included), by where it came from: api (GET /v1/search) or portal "
            "(the search page).",
            ["via"],
            buckets=SEARCH_BUCKETS,
            registry=registry,
        )
        # `labels()` validates and locks; the label sets are few, so each child is looked up once and kept.
        self._counted: dict[tuple[str, str, int], Counter] = {}
        self._timed: dict[str, Histogram] = {}

    def observe(self, scope: Scope, route: str, status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in METHODS else "other"
        counted = self._counted.get((method, route, status))
        if counted is None:
            counted = self._counted.setdefault((method, route, status), self.requests.labels(method, route, status))
        counted.inc()
        timed = self._timed.get(route)
        if timed is None:
            timed = self._timed.setdefault(route, self.duration.labels(route))
        timed.observe(seconds)
        search = SEARCH_ROUTES.get(route)
        if search is not None and status == 200 and (search[1] is None or search[1](scope)):
            self.search.labels(search[0]).observe(seconds)


def route_template(scope: Scope, root_path: str) -> str:
    """The template of the route the router matched; a mount's path and `/{path}` (`/static/{path}`); else
    `unmatched`. `root_path` is the scope's before routing: a mount adds its own path to it."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if "app_root_path" in scope:  # matched by a Mount (the portal's static files)
        return f"{scope.get('root_path', '')[len(root_path) :]}/{{path}}"
    return UNMATCHED


def _client_request_id(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"x-request-id":
            return value.decode("ascii") if _CLIENT_REQUEST_ID.fullmatch(value) else None
    return None


class RequestObservability:
    """Request id, then metrics once the response is complete (before background tasks run, which the client
    does not wait for). A request the app failed before answering is counted as a 500."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = uuid.uuid4().hex
        enter_request(RequestIds(request_id, _client_request_id(scope["headers"])))
        root_path = scope.get("root_path", "")
        header = (b"x-request-id", request_id.encode("ascii"))
        status = 500
        observed = False

        async def send_observed(message: Message) -> None:
            nonlocal status, observed
            kind = message["type"]
            if kind == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            elif kind == "http.response.body" and not message.get("more_body", False) and not observed:
                observed = True
                self._metrics.observe(scope, route_template(scope, root_path), status, time.perf_counter() - started)
            await send(message)

        try:
            await self._app(scope, receive, send_observed)
        finally:
            if not observed:  # the app raised, or returned without finishing its response
                self._metrics.observe(scope, route_template(scope, root_path), status, time.perf_counter() - started)


# Gauges read at each scrape ---------------------------------------------------------------------------------------
GaugeValue = float | Mapping[str, float] | None


class _CallbackGauge(Collector):
    def __init__(self, name: str, documentation: str, read: Callable[[], GaugeValue], label: str | None = None) -> None:
        self._name = name
        self._documentation = documentation
        self._read = read
        self._labels = [label] if label is not None else []

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily(self._name, self._documentation, labels=self._labels)]

    def collect(self) -> Iterable[Metric]:
        try:
            value = self._read()
        except Exception:  # a scrape still shows every other metric; the next one tries again
            log.warning("gauge %s could not be read", self._name, exc_info=True)
            return []
        if value is None:
            return []
        family = GaugeMetricFamily(self._name, self._documentation, labels=self._labels)
        if isinstance(value, Mapping):
            for key, number in value.items():
                family.add_metric([key], float(number))
        else:
            family.add_metric([], float(value))
        return [family]


def register_gauge_callback(
    registry: CollectorRegistry,
    name: str,
    documentation: str,
    read: Callable[[], GaugeValue],
    label: str | None = None,
) -> None:
    """A gauge whose value `read()` returns at each scrape: a number, or with `label` a mapping of that label's
    values to numbers; None leaves the gauge out of this scrape (nothing to read yet). An exception is logged and
    leaves it out too. `read` runs on a worker thread (a query is fine), once per scrape: keep it to one cheap one."""
    registry.register(_CallbackGauge(name, documentation, read, label))


def _kb_gauges(app: FastAPI, registry: CollectorRegistry) -> None:
    """The gauges read from kb (the app's KnowledgeBase, once its lifespan has started): add more here."""

    def on_kb(read: Callable[[KnowledgeBase], GaugeValue]) -> Callable[[], GaugeValue]:
        def value() -> GaugeValue:
            kb: KnowledgeBase | None = getattr(app.state, "kb", None)
            return read(kb) if kb is not None else None

        return value

    register_gauge_callback(
        registry,
        "kb_webhook_outbox_depth",
        "Webhook deliveries still to make: due now, being sent, or waiting for a retry.",
        on_kb(lambda kb: kb.webhooks.outbox_depth()),
    )
    register_gauge_callback(
        registry,
        "kb_index_lag_changes",
        "Article changes in the store's change log that this server's index does not hold yet.",
        on_kb(lambda kb: kb.follower.status().lag_changes),
    )
    register_gauge_callback(
        registry,
        "kb_index_lag_seconds",
        "How long the oldest change this server's index does not hold yet has waited (0 when caught up).",
        on_kb(lambda kb: kb.follower.status().lag_seconds),
    )


# GET /metrics -------------------------------------------------------------------------------------------------------
def _scraper(request: Request, settings: Settings) -> bool:
    """A peer address in KB_METRICS_CLIENTS, straight (not a configured proxy, no forwarding header: behind a
    proxy every client would have its address); decided on what the server knows, never on a header's claim."""
    client = direct_peer(request, settings)
    return client is not None and listed(client, settings.metrics_clients)


def check_metrics_reader(request: Request, kb: KnowledgeBase, limits: Limits) -> None:
    """Scrapers by address (they rarely hold a token), else admins: a token's, or the local admin (`local` auth).
    Anyone else: 403 (401 for a bad token, 429 past the rate limits, as everywhere)."""
    if _scraper(request, kb.settings):
        return
    principal: Principal | None
    if "authorization" in request.headers:
        principal = get_reader(request, kb, limits)
    else:
        limits.admit_anonymous(request.client.host if request.client else "")
        principal = LOCAL_ADMIN if is_local(request, kb.settings) else None
    if principal is None or not can_read_server_metrics(principal):
        raise Forbidden(
            "GET /metrics is for the addresses in KB_METRICS_CLIENTS (a scraper) and for admins' tokens",
            field="authorization",
        )


router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    summary="Prometheus metrics: requests, their durations, searches, queues (scrapers and admins)",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}}},
)
def metrics(request: Request, kb: KB, limits: Annotated[Limits, Depends(get_limits)]) -> Response:
    """The Prometheus text format. Read by the addresses in KB_METRICS_CLIENTS (loopback by default) without a
    token, and by admins; 403 problem JSON for anyone else."""
    check_metrics_reader(request, kb, limits)
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def install_observability(app: FastAPI) -> None:
    """The request middleware (outermost of the app's own), the registry with its metrics and gauges in
    `app.state.metrics_registry`, and GET /metrics."""
    # No `_created` series beside each counter and histogram child (twice the series for nothing a graph uses).
    disable_created_metrics()  # type: ignore[no-untyped-call]
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)  # memory, CPU, open files (against `ulimit -n`)
    PlatformCollector(registry=registry)
    app.state.metrics_registry = registry
    app.add_middleware(RequestObservability, metrics=HttpMetrics(registry))
    _kb_gauges(app, registry)
    app.include_router(router, responses=PROBLEM_RESPONSES)
