"""Where webhooks may go (`kb.notify.targets`): every resolved address public, unless allow-listed.

Hosts here are numeric (read by getaddrinfo without a lookup, odd spellings included) or answered by a stand-in
resolver; name lookups fail in this module, so nothing leaves the machine."""

from __future__ import annotations

import socket

import pytest

from kb.notify import targets
from kb.notify.targets import TargetPolicy, TargetRefused, TargetUnresolvable
from tests.kb.notify.test_webhooks import PUBLIC, numeric_getaddrinfo

DEFAULT = TargetPolicy.parse([])  # the setting's default: nothing allow-listed


@pytest.fixture(autouse=True)
def no_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", numeric_getaddrinfo)


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "127.0.0.1 is a loopback address"),
        ("2130706433", "127.0.0.1 is a loopback address"),  # one integer
        ("0x7f.1", "127.0.0.1 is a loopback address"),  # hex, two parts
        ("0177.0.0.1", "127.0.0.1 is a loopback address"),  # octal
        ("127.1", "127.0.0.1 is a loopback address"),
        ("::1", "::1 is a loopback address"),
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1 is a loopback address"),  # IPv4-mapped
        ("::ffff:7f00:1", "::ffff:127.0.0.1 is a loopback address"),
        ("2002:7f00:1::1", "2002:7f00:1::1 is a loopback address"),  # 6to4
        ("64:ff9b::a00:1", "64:ff9b::a00:1 is a private address"),  # NAT64 of 10.0.0.1
        ("169.254.169.254", "169.254.169.254 is a link-local address"),  # cloud metadata
        ("fe80::1", "fe80::1 is a link-local address"),
        ("fec0::1", "fec0::1 is a site-local address"),  # deprecated, but Python calls it global
        ("10.0.0.1", "10.0.0.1 is a private address"),
        ("172.16.5.4", "172.16.5.4 is a private address"),
        ("192.168.1.1", "192.168.1.1 is a private address"),
        ("::ffff:192.168.1.1", "::ffff:192.168.1.1 is a private address"),
        ("fd00::1", "fd00::1 is a private address"),
        ("0.0.0.0", "0.0.0.0 is an unspecified address"),
        ("::", ":: is an unspecified address"),
        ("224.0.0.1", "224.0.0.1 is a multicast address"),
        ("ff02::1", "ff02::1 is a multicast address"),
        ("240.0.0.1", "240.0.0.1 is a reserved address"),
        ("255.255.255.255", "255.255.255.255 is a reserved address"),
        ("100.64.0.1", "100.64.0.1 is not a public address"),  # carrier-grade NAT
    ],
)
def test_addresses_that_are_not_public_are_refused_by_default(host: str, reason: str) -> None:
    with pytest.raises(TargetRefused) as refused:
        DEFAULT.addresses(host, 80)
    assert str(refused.value) == reason


@pytest.mark.parametrize("host", [PUBLIC, "8.8.8.8", "2606:4700::1111", "::ffff:93.184.215.14", "2002:5db8:d70e::1"])
def test_public_addresses_pass(host: str) -> None:
    assert DEFAULT.addresses(host, 443) == [socket.getaddrinfo(host, 443)[0][4][0]]


def test_every_address_of_a_name_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(targets, "resolve", lambda host, port: [PUBLIC, "2606:4700::1111", "127.0.0.1"])
    with pytest.raises(TargetRefused, match=r"^127\.0\.0\.1 is a loopback address$"):
        DEFAULT.addresses("hooks.example.com", 443)
    monkeypatch.setattr(targets, "resolve", lambda host, port: [PUBLIC, "2606:4700::1111"])
    assert DEFAULT.addresses("hooks.example.com", 443) == [PUBLIC, "2606:4700::1111"]


def test_a_name_that_does_not_resolve_is_unresolvable() -> None:
    with pytest.raises(TargetUnresolvable, match=r"^cannot resolve nowhere\.invalid$"):
        DEFAULT.addresses("nowhere.invalid", 443)


def test_the_allow_list_admits_its_networks_and_host_names_only(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = TargetPolicy.parse(["10.20.0.0/16", " 127.0.0.1 ", "fd00::/8", "Hooks.Internal.", ""])
    assert policy.addresses("10.20.3.4", 80) == ["10.20.3.4"]
    assert policy.addresses("::ffff:10.20.3.4", 80) == ["::ffff:10.20.3.4"]  # the mapped spelling too
    assert policy.addresses("2130706433", 80) == ["127.0.0.1"]  # a single address is a /32
    assert policy.addresses("fd00::5", 80) == ["fd00::5"]
    for outside in ("10.21.0.1", "127.0.0.2", "169.254.169.254", "fe80::1"):
        with pytest.raises(TargetRefused):
            policy.addresses(outside, 80)

    monkeypatch.setattr(targets, "resolve", lambda host, port: ["192.168.7.7"])
    assert policy.addresses("hooks.internal", 443) == ["192.168.7.7"]  # the name is trusted, whatever it resolves to
    assert policy.addresses("HOOKS.internal.", 443) == ["192.168.7.7"]
    with pytest.raises(TargetRefused):
        policy.addresses("other.internal", 443)


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "10.0.0.256", "not a host", "http://hooks.internal", "a/b"])
def test_a_malformed_allow_list_entry_is_an_error_at_start(entry: str) -> None:
    with pytest.raises(ValueError, match="KB_WEBHOOK_ALLOWED_TARGETS"):
        TargetPolicy.parse([entry])
