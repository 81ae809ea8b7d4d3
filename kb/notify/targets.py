"""Where webhooks may go: public addresses only, unless the deployment allow-lists an internal receiver.

A webhook URL is an admin's input that kb's server then requests, so without a rule it reaches whatever the server
can reach: its own loopback services, the cloud metadata endpoint (169.254.169.254), the office network. The rule:
every address the URL's host resolves to must be public: not unspecified, loopback, link-local, site-local,
multicast, reserved, private or otherwise non-global (an IPv4-mapped, 6to4 or NAT64 IPv6 address is judged by the
IPv4 address it carries), unless it lies in an allow-listed network or the host name itself is allow-listed
(`KB_WEBHOOK_ALLOWED_TARGETS`). The webhook service checks it when a webhook is registered and again before every
delivery, and then connects to an address it checked.

`resolve` is the one place that asks the resolver (`socket.getaddrinfo`, which also reads odd spellings such as
2130706433, 0x7f.1 or 0177.0.0.1 as the address they mean); tests replace it.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # the well-known prefix: an IPv4 address in the last 32 bits
HOST_NAME = re.compile(r"[\w-]+(\.[\w-]+)*\.?")
# Checked in this order: the first that holds names the refusal (127.0.0.1 is private too, but called loopback).
KINDS = (
    ("is_unspecified", "an unspecified"),
    ("is_loopback", "a loopback"),
    ("is_link_local", "a link-local"),
    ("is_site_local", "a site-local"),  # IPv6 fec0::/10: deprecated, yet routed inside networks that still use it
    ("is_multicast", "a multicast"),
    ("is_reserved", "a reserved"),
    ("is_private", "a private"),
)


class TargetError(Exception):
    """A webhook target kb will not send to; `str()` is the short reason."""


class TargetUnresolvable(TargetError):
    """The host name does not resolve (now)."""


class TargetRefused(TargetError):
    """The host resolves to an address that is not public and not allow-listed."""


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in the resolver's order, without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def carried(address: Address) -> Address:
    """The IPv4 address an IPv4-mapped (::ffff:a.b.c.d), 6to4 (2002:aabb:ccdd::) or NAT64 (64:ff9b::a.b.c.d) IPv6
    address stands for, else the address itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def refusal(address: str) -> str | None:
    """Why `address` is no place for a webhook, like "127.0.0.1 is a loopback address"; None for a public one."""
    judged = carried(ipaddress.ip_address(address))
    for attribute, kind in KINDS:
        if getattr(judged, attribute, False):  # is_site_local is IPv6's only
            return f"{address} is {kind} address"
    if not judged.is_global:  # e.g. 100.64.0.0/10, shared by carriers
        return f"{address} is not a public address"
    return None


def _name(host: str) -> str:
    return host.lower().rstrip(".")


@dataclass(frozen=True)
class TargetPolicy:
    """The allow-list: networks whose addresses, and host names whose every address, webhooks may reach."""

    networks: tuple[Network, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> TargetPolicy:
        """From the setting's entries: a CIDR (or a single address), or a host name; anything else is an error."""
        networks: list[Network] = []
        hosts: set[str] = set()
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if not HOST_NAME.fullmatch(entry) or entry.replace(".", "").isdigit():
                    raise ValueError(
                        f"KB_WEBHOOK_ALLOWED_TARGETS: {raw!r} is neither a network (like 10.1.2.0/24) nor a host name"
                    ) from None
                hosts.add(_name(entry))
        return cls(tuple(networks), frozenset(hosts))

    def admits(self, address: Address) -> bool:
        return any(address in network or carried(address) in network for network in self.networks)

    def addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for `host`, each of them allowed; raises TargetError otherwise.

        Every address is checked, not only the first: a name with one public and one loopback address is refused,
        since which one a connection uses is not up to kb."""
        try:
            found = resolve(host, port)
        except (OSError, ValueError) as exc:  # socket.gaierror is an OSError; a bad IDNA label a UnicodeError
            raise TargetUnresolvable(f"cannot resolve {host}") from exc
        if not found:
            raise TargetUnresolvable(f"cannot resolve {host}")
        if _name(host) in self.hosts:
            return found
        for address in found:
            reason = None if self.admits(ipaddress.ip_address(address)) else refusal(address)
            if reason is not None:
                raise TargetRefused(reason)
        return found
