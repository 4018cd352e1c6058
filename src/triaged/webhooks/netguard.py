"""Where a webhook may be sent: no loopback, private, link-local, metadata or reserved address.

A tenant admin chooses the URL, the server posts to it: without a guard that is
a server-side request forgery (SSRF) into the host and its network.  The guard
runs twice:

* at registration (:func:`check_webhook_url`): the URL must be http(s), carry no
  credentials, and its host — an IP literal in any spelling (``127.1``,
  ``2130706433``, ``0x7f.1``, ``[::ffff:127.0.0.1]``), a reserved name
  (``localhost``, ``*.localhost``, ``metadata.google.internal``) or a name whose
  addresses resolve now — must only reach public addresses;
* at every delivery (:class:`GuardedTransport`): the host is resolved again,
  *every* address is checked, and the connection goes to the checked address
  (the name only travels in ``Host`` and TLS SNI), so a DNS answer that changes
  between check and connect (rebinding) cannot redirect it.  Redirects are never
  followed (the worker's client has ``follow_redirects=False``).

The operator opens it for on-premises receivers with
``TRIAGED_WEBHOOK_ALLOW_PRIVATE=true`` (everything but unspecified/multicast
addresses) or, narrower, ``TRIAGED_WEBHOOK_ALLOW_HOSTS`` (host names and CIDR
networks that are let through).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import httpx

from triaged.errors import InvalidInput

__all__ = [
    "BlockedDestination",
    "GuardedTransport",
    "Resolver",
    "UrlPolicy",
    "blocked_reason",
    "check_webhook_url",
    "host_addresses",
    "system_resolver",
    "valid_host_name",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]
"""``resolver(host, port) -> addresses`` (strings); raises ``OSError`` when the name is unknown."""

MAX_URL = 2000
MAX_PORT = 65535
_HOST_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
BLOCKED_NAMES = frozenset({"localhost", "metadata.google.internal", "metadata", "instance-data"})
BLOCKED_SUFFIXES = (".localhost", ".internal", ".local", ".localdomain", ".home.arpa")
# embedded-IPv4 IPv6 ranges (NAT64 well-known prefix, 6to4): checked by their IPv4 part
NAT64 = ipaddress.ip_network("64:ff9b::/96")
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")


class BlockedDestination(httpx.TransportError):
    """Raised by :class:`GuardedTransport` instead of connecting to a refused address."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``getaddrinfo`` gives for ``host`` (TCP)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, slots=True)
class UrlPolicy:
    """What the operator lets through besides public addresses."""

    allow_private: bool = False
    allow_names: frozenset[str] = frozenset()
    allow_networks: tuple[IPNetwork, ...] = field(default_factory=tuple)

    @classmethod
    def from_allow_list(cls, allow_private: bool, allow_hosts: Iterable[str]) -> UrlPolicy:
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in allow_hosts:
            entry = entry.strip().lower().rstrip(".")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                names.add(entry)
        return cls(allow_private, frozenset(names), tuple(networks))

    def name_allowed(self, host: str) -> bool:
        return _normal_host(host) in self.allow_names

    def address_allowed(self, address: IPAddress) -> bool:
        return any(address in net for net in self.allow_networks if net.version == address.version)


def _normal_host(host: str) -> str:
    return host.strip().strip("[]").lower().rstrip(".")


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address ``host`` spells, in any form the OS would accept (``127.1``, ``0x7f.1``)."""
    host = _normal_host(host)
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefx." for c in host) and host[0].isdigit():
        try:  # inet_aton: the legacy forms (shortened, decimal, octal, hex) browsers/libc accept
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def blocked_reason(address: IPAddress, policy: UrlPolicy) -> str | None:
    """Why ``address`` may not receive webhooks under ``policy`` (None: it may)."""
    if policy.address_allowed(address):
        return None
    if address.is_unspecified:
        return "unspecified address"
    if address.is_multicast:
        return "multicast address"
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_v4(address)
        if inner is not None:
            return blocked_reason(inner, policy)
        if address.is_site_local:
            return None if policy.allow_private else "private address"
    if policy.allow_private:
        return None
    if address.is_loopback:
        return "loopback address"
    if address.is_link_local:
        return "link-local address (cloud metadata)"
    if address.is_private:
        return "private address"
    if isinstance(address, ipaddress.IPv4Address) and address in ipaddress.ip_network(
        "100.64.0.0/10"
    ):
        return "shared (CGNAT) address"
    if address.is_reserved or not address.is_global:
        return "reserved address"
    return None


def host_addresses(host: str, port: int, policy: UrlPolicy, resolver: Resolver) -> list[IPAddress]:
    """Resolve ``host`` and check every address; raises :class:`BlockedDestination`.

    An IP literal is not resolved; a host name on the allow-list is still
    resolved (it must resolve) but its addresses are not checked."""
    literal = parse_ip_literal(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        name = _normal_host(host)
        if not policy.name_allowed(name) and not policy.allow_private and _blocked_name(name):
            raise BlockedDestination(f"host name {name!r} is internal")
        try:
            found = resolver(name, port)
        except (OSError, UnicodeError) as exc:  # getaddrinfo's IDNA codec refuses some names
            raise BlockedDestination("host name does not resolve") from exc
        addresses = []
        for text in found:
            try:
                addresses.append(ipaddress.ip_address(text.split("%", 1)[0]))
            except ValueError:
                raise BlockedDestination("resolver gave an invalid address") from None
        if not addresses:
            raise BlockedDestination("host name does not resolve")
        if policy.name_allowed(name):
            return addresses
    for address in addresses:
        reason = blocked_reason(address, policy)
        if reason is not None:
            raise BlockedDestination(reason)
    return addresses


def valid_host_name(raw_host: bytes) -> bool:
    """Whether ``raw_host`` (ASCII, IDNA-encoded, as httpx gives it) is a name DNS can hold:
    at most 253 characters (one trailing dot aside) in labels of 1-63 letters, digits, ``-``
    or ``_`` that neither start nor end with ``-`` (``_`` is let through: service names use
    it, and an operator's ``TRIAGED_WEBHOOK_ALLOW_HOSTS`` may name such a host)."""
    try:
        name = raw_host.decode("ascii")
    except UnicodeDecodeError:
        return False
    name = name.removesuffix(".")
    return 0 < len(name) <= 253 and all(_HOST_LABEL.fullmatch(part) for part in name.split("."))


def _blocked_name(name: str) -> bool:
    return name in BLOCKED_NAMES or name.endswith(BLOCKED_SUFFIXES)


def check_webhook_url(
    url: str, policy: UrlPolicy, resolver: Resolver | None = system_resolver
) -> str:
    """The URL to store, or :class:`InvalidInput` when it may not receive webhooks.

    ``resolver=None`` skips the resolution of host names (the literal checks stay);
    a name that does not resolve yet is accepted (each delivery checks again)."""
    url = url.strip()
    shown = {"url": url[:200]}
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise InvalidInput(
            "a webhook URL has no spaces or control characters (percent-encode them)",
            details={**shown, "reason": "characters"},
        )
    try:
        parsed = httpx.URL(url)
        host = parsed.host  # decodes IDNA: raises on a malformed A-label (xn--)
    except Exception:  # httpx.InvalidURL, idna.IDNAError and other UnicodeErrors
        raise InvalidInput("invalid webhook URL", details=shown) from None
    if parsed.scheme not in {"http", "https"} or not host or len(url) > MAX_URL:
        raise InvalidInput(
            f"a webhook URL needs http:// or https://, a host and at most {MAX_URL} characters",
            details=shown,
        )
    if parsed.port is not None and not 1 <= parsed.port <= MAX_PORT:
        raise InvalidInput(
            f"a webhook URL's port is between 1 and {MAX_PORT}", details={**shown, "reason": "port"}
        )
    literal = parse_ip_literal(host)
    if literal is None and not valid_host_name(parsed.raw_host):
        raise InvalidInput(
            "a webhook URL's host is not a valid host name (labels of 1-63 letters, digits, "
            "'-' or '_', not starting or ending with '-', at most 253 characters)",
            details={**shown, "reason": "host"},
        )
    if parsed.userinfo:
        raise InvalidInput(
            "a webhook URL must not carry credentials (user:password@); "
            "verify the signature header instead",
            details={**shown, "reason": "credentials"},
        )
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        if literal is not None or resolver is None:
            host_addresses(host, port, policy, _no_resolution)
        else:
            host_addresses(host, port, policy, resolver)
    except BlockedDestination as exc:
        if str(exc) == "host name does not resolve":
            return url
        raise InvalidInput(
            f"webhook URL refused: {exc}; the operator may allow internal receivers "
            "(TRIAGED_WEBHOOK_ALLOW_PRIVATE, TRIAGED_WEBHOOK_ALLOW_HOSTS)",
            details={**shown, "reason": str(exc)},
        ) from None
    return url


def _no_resolution(host: str, port: int) -> list[str]:
    raise OSError("not resolved")


class GuardedTransport(httpx.BaseTransport):
    """Resolves and checks the host of every request, then connects to the checked address.

    The URL sent to the inner transport carries the address; ``Host`` stays the
    original one (httpx set it when the request was built) and, for https, the
    TLS server name (SNI and certificate check) is the original host name."""

    def __init__(
        self,
        policy: UrlPolicy,
        resolver: Resolver = system_resolver,
        inner: httpx.BaseTransport | None = None,
    ) -> None:
        self.policy = policy
        self.resolver = resolver
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        port = url.port or (443 if url.scheme == "https" else 80)
        addresses = host_addresses(url.host, port, self.policy, self.resolver)
        address = addresses[0]
        if url.scheme == "https" and parse_ip_literal(url.host) is None:
            request.extensions = {**request.extensions, "sni_hostname": url.host}
        request.url = url.copy_with(host=str(address))
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()
