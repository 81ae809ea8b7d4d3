"""`KB_AUTH=local`: the local admin is a loopback caller that no proxy stands in front of and that names a loopback
Host. A forwarding header or a foreign Host (DNS rebinding) makes it a caller like any other: it needs a token.

Through the in-process TestClient (its peer is "testclient", trusted by the shared settings, and its Host is
"testserver", the address the request arrived on); tests/api/test_uvicorn.py checks the same on a real server."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from indexer.embedders import Embedder
from kb.service import KnowledgeBase
from kb.settings import Settings
from tests.conftest import bearer

pytestmark = pytest.mark.both_stores

ADMIN_ONLY = "/v1/webhooks"  # 200 for an admin, 403 for anyone else signed in, 401 without a token


@pytest.fixture
def local(indexed_small_settings: Settings, embedder: Embedder) -> Iterator[TestClient]:
    settings = indexed_small_settings.model_copy(update={"auth": "local"})
    with TestClient(create_app(settings, embedder=embedder)) as client:
        yield client


class _Response(Protocol):  # TestClient's and httpx's responses alike
    @property
    def status_code(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...


def _assert_needs_a_token(response: _Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_plain_loopback_request_is_still_the_local_admin(local: TestClient) -> None:
    assert local.get(ADMIN_ONLY).status_code == 200
    assert local.get("/v1/articles").status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-For": "127.0.0.1"},
        {"X-Forwarded-For": "10.1.2.3"},
        {"X-Real-IP": "127.0.0.1"},
        {"Forwarded": "for=127.0.0.1"},
        {"X-Forwarded-Host": "localhost"},
        {"X-Forwarded-Proto": "https"},
        {"Via": "1.1 proxy"},
    ],
    ids=lambda headers: next(iter(headers)),
)
def test_a_request_with_a_forwarding_header_is_never_local(local: TestClient, headers: dict[str, str]) -> None:
    _assert_needs_a_token(local.get(ADMIN_ONLY, headers=headers))
    _assert_needs_a_token(local.get("/v1/articles", headers=headers))


@pytest.mark.parametrize(
    "host",
    [
        "rebind.evil.example",
        "rebind.evil.example:8000",
        "localhost.evil.example",
        "",
        "localhost:80@evil.example",  # not a host and a port: no name to trust in it
        "localhost:evil.example",
        "[::1]evil.example",
        "[::1",
    ],
)
def test_a_foreign_or_missing_host_is_never_local(local: TestClient, host: str) -> None:
    _assert_needs_a_token(local.get(ADMIN_ONLY, headers={"Host": host}))


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:8000", "LocalHost:80", "localhost.:80", "127.0.0.1:8000", "[::1]:8000", "[::1]"]
)
def test_a_loopback_host_with_any_port_is_local(local: TestClient, host: str) -> None:
    assert local.get(ADMIN_ONLY, headers={"Host": host}).status_code == 200


def test_a_token_still_works_with_forwarding_headers_and_any_host(local: TestClient) -> None:
    kb: KnowledgeBase = local.app.state.kb  # type: ignore[attr-defined]
    _, token = kb.users.add("rita", email="rita@example.com", role="employee")
    headers = {**bearer(token), "X-Forwarded-For": "127.0.0.1", "Host": "kb.example.com"}
    assert local.get("/v1/articles", headers=headers).status_code == 200
    assert local.get(ADMIN_ONLY, headers=headers).status_code == 403  # rita's rights, not the admin's


def test_a_configured_proxy_is_never_the_local_admin(indexed_small_settings: Settings, embedder: Embedder) -> None:
    """A same-host proxy that adds no forwarding header looks like a loopback caller: once it is listed in
    KB_FORWARDED_ALLOW_IPS, its requests need a token, while other loopback callers stay local."""
    settings = indexed_small_settings.model_copy(
        update={"auth": "local", "trusted_clients": ["127.0.0.1", "::1"], "forwarded_allow_ips": ["127.0.0.1"]}
    )
    app = create_app(settings, embedder=embedder)
    with (
        TestClient(app, base_url="http://127.0.0.1:8000", client=("127.0.0.1", 40000)) as proxy,
        TestClient(app, base_url="http://[::1]:8000", client=("::1", 40000)) as laptop,
    ):
        _assert_needs_a_token(proxy.get(ADMIN_ONLY))
        assert laptop.get(ADMIN_ONLY).status_code == 200


def test_token_auth_has_no_local_admin(indexed_small_settings: Settings, embedder: Embedder) -> None:
    settings = indexed_small_settings.model_copy(update={"auth": "token"})
    with TestClient(create_app(settings, embedder=embedder), base_url="http://localhost") as client:
        _assert_needs_a_token(client.get(ADMIN_ONLY))


@pytest.mark.parametrize(
    ("value", "parsed"),
    [("", []), ("10.0.0.5", ["10.0.0.5"]), ("10.0.0.5, 10.1.0.0/16", ["10.0.0.5", "10.1.0.0/16"]), ('["*"]', ["*"])],
)
def test_forwarded_allow_ips_reads_a_list_or_comma_separated_addresses(
    monkeypatch: pytest.MonkeyPatch, value: str, parsed: list[str]
) -> None:
    monkeypatch.setenv("KB_FORWARDED_ALLOW_IPS", value)
    assert Settings().forwarded_allow_ips == parsed


def test_forwarded_allow_ips_refuses_what_is_not_an_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_FORWARDED_ALLOW_IPS", "proxy.internal")
    with pytest.raises(ValueError, match=r"proxy\.internal"):
        Settings()
    assert Settings(forwarded_allow_ips=[]).forwarded_allow_ips == []
