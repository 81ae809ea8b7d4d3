"""Operations, in process: GET /metrics (requests by route template and status, durations, searches, gauges; who may
read it), the request id on every response and on the log lines written while the request runs.

The real server (`kb serve`: JSON log lines, a graceful stop) is in test_observability_server.py."""

from __future__ import annotations

import io
import json
import logging
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.observability import SEARCH_BUCKETS, register_gauge_callback
from indexer.embedders import Embedder
from kb.cli.main import uvicorn_options
from kb.logs import JsonLineFormatter, RequestIdFilter, logging_config
from kb.service import KnowledgeBase
from kb.settings import Settings
from kb.store.webhooks import OutboxEntry, WebhookRepository
from tests.conftest import bearer

pytestmark = pytest.mark.both_stores

ARTICLE = "vpn-drops-on-public-wifi"
Labels = frozenset[tuple[str, str]]


def _samples(text: str) -> dict[tuple[str, Labels], float]:
    """Every sample of a Prometheus text exposition, by name and label set."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: dict[tuple[str, Labels], float], name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def _scrape(client: TestClient) -> dict[tuple[str, Labels], float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    return _samples(response.text)


@pytest.fixture
def app(indexed_small_settings: Settings, embedder: Embedder) -> FastAPI:
    return create_app(indexed_small_settings, embedder=embedder)


@pytest.fixture
def local(app: FastAPI) -> Iterator[TestClient]:
    """The in-process client: in `local` auth its peer ("testclient", trusted by the shared settings) is the local
    admin, so it may read /metrics as an admin."""
    with TestClient(app) as client:
        yield client


def test_requests_are_counted_by_route_template_and_status(local: TestClient) -> None:
    assert local.get(f"/v1/articles/{ARTICLE}").status_code == 200
    assert local.get(f"/v1/articles/{ARTICLE}").status_code == 200
    assert local.get("/v1/articles/no-such-article").status_code == 404
    assert local.get("/no/such/path").status_code == 404
    assert local.post("/healthz").status_code == 405
    assert local.request("BREW", "/healthz").status_code == 405
    assert local.get("/static/kb.css").status_code == 200

    text = local.get("/metrics").text
    samples = _samples(text)
    total = "kb_http_requests_total"
    assert _value(samples, total, method="GET", route="/v1/articles/{article_id}", status="200") == 2
    assert _value(samples, total, method="GET", route="/v1/articles/{article_id}", status="404") == 1
    assert _value(samples, total, method="GET", route="unmatched", status="404") == 1
    assert _value(samples, total, method="POST", route="/healthz", status="405") == 1
    assert _value(samples, total, method="other", route="/healthz", status="405") == 1  # any token is a method
    assert _value(samples, total, method="GET", route="/static/{path}", status="200") == 1
    assert _value(samples, "kb_http_request_duration_seconds_count", route="/v1/articles/{article_id}") == 3
    # Never a path: one series per article (or per probe of a scanner) would grow without bound.
    assert ARTICLE not in text
    assert "no-such" not in text
    assert "/no/such/path" not in text
    assert "kb_http_requests_created" not in text


def test_a_search_is_timed_in_the_search_histogram(local: TestClient) -> None:
    assert local.get("/v1/search", params={"q": "my vpn keeps dropping"}).status_code == 200
    assert local.get("/v1/search", params={"q": " "}).status_code == 422  # not a search
    assert local.get("/search", params={"q": "the printer is offline"}).status_code == 200  # the portal's
    assert local.get("/search").status_code == 200  # the empty form: no search

    samples = _scrape(local)
    name = "kb_search_duration_seconds"
    assert _value(samples, f"{name}_count", via="api") == 1
    assert _value(samples, f"{name}_count", via="portal") == 1
    seconds = _value(samples, f"{name}_sum", via="api")
    assert seconds is not None and 0 < seconds < 30
    bounds = [
        float(dict(labels)["le"])
        for sample, labels in samples
        if sample == f"{name}_bucket" and ("via", "api") in labels
    ]
    assert sorted(bounds) == [*SEARCH_BUCKETS, math.inf]  # 1 ms .. 2 s
    assert _value(samples, f"{name}_bucket", via="api", le="+Inf") == 1


def test_metrics_are_for_scrapers_by_address_and_for_admins(
    indexed_small_settings: Settings, embedder: Embedder
) -> None:
    app = create_app(indexed_small_settings, embedder=embedder)
    with TestClient(app, client=("10.1.2.3", 40000)) as remote:
        kb: KnowledgeBase = app.state.kb
        _, admin = kb.users.add("ada", email="ada@example.com", role="admin")
        _, agent = kb.users.add("abe", email="abe@example.com", role="agent", teams=["IT"])

        refused = remote.get("/metrics")
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["title"] == "Forbidden"
        assert "KB_METRICS_CLIENTS" in refused.json()["detail"]
        assert re.fullmatch(r"[0-9a-f]{32}", refused.headers["X-Request-ID"])
        assert remote.get("/metrics", headers=bearer(agent)).status_code == 403
        assert remote.get("/metrics", headers=bearer("not-a-token")).status_code == 401
        allowed = remote.get("/metrics", headers=bearer(admin))
        assert allowed.status_code == 200
        assert allowed.headers["content-type"] == "text/plain; version=1.0.0; charset=utf-8"
        assert "kb_http_requests_total" in allowed.text

    # A scraper's network: no token needed, but only straight from it, never on a forwarding header's word.
    scrapers = indexed_small_settings.model_copy(update={"metrics_clients": ["10.1.2.0/24"]})
    with TestClient(create_app(scrapers, embedder=embedder), client=("10.1.2.3", 40000)) as scraper:
        assert scraper.get("/metrics").status_code == 200
        assert scraper.get("/metrics", headers={"X-Forwarded-For": "10.9.9.9"}).status_code == 403
    with TestClient(create_app(scrapers, embedder=embedder), client=("10.9.9.9", 40000)) as outsider:
        assert outsider.get("/metrics", headers={"X-Forwarded-For": "10.1.2.3"}).status_code == 403
    # A configured proxy's address is every client behind it: not a scraper.
    proxied = scrapers.model_copy(update={"forwarded_allow_ips": ["10.1.2.3"]})
    with TestClient(create_app(proxied, embedder=embedder), client=("10.1.2.3", 40000)) as proxy:
        assert proxy.get("/metrics").status_code == 403


def test_every_response_carries_a_fresh_request_id_of_the_server(local: TestClient) -> None:
    responses = [
        local.get("/healthz"),
        local.get("/healthz", headers={"X-Request-ID": "chosen-by-the-client"}),
        local.get("/no/such/path"),
        local.get("/v1/search", params={"q": " "}),  # 422
        local.post("/v1/tickets", content=b"x" * 100_000, headers={"content-type": "application/json"}),  # 413
        local.get(f"/v1/articles/{ARTICLE}"),
    ]
    assert [r.status_code for r in responses] == [200, 200, 404, 422, 413, 200]
    ids = [r.headers["X-Request-ID"] for r in responses]
    assert all(re.fullmatch(r"[0-9a-f]{32}", request_id) for request_id in ids), ids
    assert len(set(ids)) == len(ids)
    assert "chosen-by-the-client" not in ids  # the client's id is only ever logged as client_request_id


def test_log_lines_inside_a_request_carry_its_id_and_a_500_too(app: FastAPI) -> None:
    """Log lines written by a route (async, or sync on a worker thread) carry the request id that the response
    sends back; a request that fails with an exception is answered 500 with its id, and counted as a 500."""
    test_log = logging.getLogger("kb.test_observability")

    @app.get("/v1/test/log-async")
    async def log_async() -> dict[str, str]:
        test_log.info("inside, async")
        return {}

    @app.get("/v1/test/log-sync")
    def log_sync() -> dict[str, str]:
        test_log.info("inside, on a worker thread")
        return {}

    @app.get("/v1/test/boom")
    async def boom() -> None:
        test_log.error("about to fail")
        raise RuntimeError("a bug")

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonLineFormatter())
    test_log.addHandler(handler)
    test_log.setLevel(logging.INFO)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            answered = [
                client.get("/v1/test/log-async", headers={"X-Request-ID": "client-1"}),
                client.get("/v1/test/log-sync"),
                client.get("/v1/test/boom"),
            ]
            test_log.info("outside any request")
            samples = _scrape(client)
    finally:
        test_log.removeHandler(handler)
        test_log.setLevel(logging.NOTSET)

    assert [r.status_code for r in answered] == [200, 200, 500]
    assert answered[2].headers["content-type"] == "application/problem+json"
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["message"] for line in lines] == [
        "inside, async",
        "inside, on a worker thread",
        "about to fail",
        "outside any request",
    ]
    assert [line.get("request_id") for line in lines] == [r.headers["X-Request-ID"] for r in answered] + [None]
    assert lines[0]["client_request_id"] == "client-1"
    assert "client_request_id" not in lines[1]
    assert {"time", "level", "logger", "message"} <= lines[0].keys()
    assert (lines[0]["level"], lines[0]["logger"]) == ("INFO", "kb.test_observability")
    assert datetime.fromisoformat(lines[0]["time"]).tzinfo == UTC
    assert _value(samples, "kb_http_requests_total", method="GET", route="/v1/test/boom", status="500") == 1


def test_an_access_line_is_one_json_object_with_its_parts() -> None:
    formatter, request_filter = JsonLineFormatter(), RequestIdFilter()
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d', None, None)
    record.args = ("127.0.0.1:5000", "GET", "/v1/search?q=vpn", "1.1", 200)
    request_filter.filter(record)
    line = json.loads(formatter.format(record))
    assert "request_id" not in line  # outside a request
    assert line["message"] == '127.0.0.1:5000 - "GET /v1/search?q=vpn HTTP/1.1" 200'
    assert (line["client"], line["method"], line["path"], line["status"]) == (
        "127.0.0.1:5000",
        "GET",
        "/v1/search?q=vpn",
        200,
    )


def test_a_client_request_id_is_logged_only_when_it_is_short_visible_ascii(app: FastAPI) -> None:
    """What a client sends is logged apart (`client_request_id`), and only if it cannot forge a line or bloat it."""
    test_log = logging.getLogger("kb.test_observability.client_ids")

    @app.get("/v1/test/log")
    async def log_one() -> dict[str, str]:
        test_log.warning("inside")
        return {}

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonLineFormatter())
    test_log.addHandler(handler)
    sent = [b"abc-123", b"x" * 128, b"two words", b"x" * 129, "\u00e9".encode(), b"a\tb"]
    try:
        with TestClient(app) as client:
            for value in sent:
                assert client.get("/v1/test/log", headers=[(b"X-Request-ID", value)]).status_code == 200
    finally:
        test_log.removeHandler(handler)
    logged = [json.loads(line).get("client_request_id") for line in stream.getvalue().splitlines()]
    assert logged == ["abc-123", "x" * 128, None, None, None, None]


def test_gauges_are_read_at_each_scrape_and_a_failing_one_leaves_the_others() -> None:
    registry = CollectorRegistry()
    depth = {"value": 3.0}
    register_gauge_callback(registry, "kb_test_depth", "A depth.", lambda: depth["value"])
    register_gauge_callback(registry, "kb_test_lag", "Lags by kind.", lambda: {"changes": 4, "seconds": 1.5}, "kind")
    register_gauge_callback(registry, "kb_test_nothing_yet", "No value yet.", lambda: None)
    register_gauge_callback(registry, "kb_test_broken", "Fails.", lambda: 1 / 0)
    with pytest.raises(ValueError, match="Duplicated"):
        register_gauge_callback(registry, "kb_test_depth", "Again.", lambda: 1.0)

    samples = _samples(generate_latest(registry).decode())
    assert _value(samples, "kb_test_depth") == 3.0
    assert _value(samples, "kb_test_lag", kind="changes") == 4
    assert _value(samples, "kb_test_lag", kind="seconds") == 1.5
    assert not any(name in ("kb_test_nothing_yet", "kb_test_broken") for name, _ in samples)
    depth["value"] = 5.0
    assert _value(_samples(generate_latest(registry).decode()), "kb_test_depth") == 5.0


def test_the_outbox_depth_counts_deliveries_still_to_make(small_kb: KnowledgeBase) -> None:
    repository = WebhookRepository(small_kb.store.engine)
    now = datetime.now(UTC)
    hook = repository.add(url="https://hooks.example.com/kb", secret="s", events=["*"], created_by="ada", now=now)
    ids = repository.enqueue([OutboxEntry(hook["id"], "ticket.created", "{}") for _ in range(3)], now)
    assert small_kb.webhooks.outbox_depth() == 3
    repository.delivered(ids[0], attempts=1, now=now)
    repository.failed(ids[1], attempts=1, next_attempt_at=now, error="503")  # retried later: still to make
    assert small_kb.webhooks.outbox_depth() == 2
    repository.failed(ids[2], attempts=9, next_attempt_at=None, error="gave up")
    assert small_kb.webhooks.outbox_depth() == 1


def test_metrics_show_the_outbox_depth_and_the_process(local: TestClient) -> None:
    samples = _scrape(local)
    assert _value(samples, "kb_webhook_outbox_depth") == 0
    assert _value(samples, "kb_index_lag_changes") == 0
    assert _value(samples, "kb_index_lag_seconds") == 0
    assert any(name == "process_resident_memory_bytes" for name, _ in samples)


def test_kb_serve_hands_uvicorn_the_grace_period_and_the_log_format() -> None:
    options = uvicorn_options(Settings(shutdown_grace_seconds=7, log_format="json"))
    assert options["timeout_graceful_shutdown"] == 7
    assert options["log_config"] == logging_config("json")
    assert options["log_config"]["formatters"]["default"]["()"] == "kb.logs.JsonLineFormatter"
    defaults = uvicorn_options(Settings())
    assert defaults["timeout_graceful_shutdown"] == 20
    assert defaults["log_config"] == logging_config("text")


def test_metrics_clients_are_read_as_a_list_of_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_METRICS_CLIENTS", "10.0.0.0/8, 192.168.1.5")
    assert Settings().metrics_clients == ["10.0.0.0/8", "192.168.1.5"]
    monkeypatch.setenv("KB_METRICS_CLIENTS", "prometheus.internal")
    with pytest.raises(ValueError, match="not an IP address or network"):
        Settings()
