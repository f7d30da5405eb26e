"""Who is on the other end: the client's address, behind trusted reverse proxies.

Behind the reverse proxy docs/deployment.md recommends, ``request.remote`` is
the proxy's address for every customer, so per-client limits keyed on it would
put all customers in one bucket. The proxy appends the address it saw to
``X-Forwarded-For``; but anyone can send that header, so it is believed only
when the direct peer is one of the configured ``trusted_proxies`` (IPs or
CIDRs; empty, the default, trusts nobody and ignores the header).

Walking ``X-Forwarded-For`` from the right, each entry was appended by the hop
to its right; the first entry that is not itself a trusted proxy is the
client. Entries to its left were written by the client and are ignored.

``client_address`` is what rate limits and stream caps key on;
``is_loopback_client`` says whether the request really comes from this host
(not merely through a proxy running on it).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from aiohttp import web

from bot.web.keys import CONFIG_KEY

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# Headers a proxy adds; their presence from an untrusted peer means "forwarded".
PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")
UNKNOWN = "unknown"


@lru_cache(maxsize=32)
def _networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(
                f"config key 'trusted_proxies': {entry!r} is not an IP address or network"
            ) from exc
    return tuple(networks)


def parse_trusted_proxies(entries: Iterable[str] | None) -> tuple[IPNetwork, ...]:
    """The networks in a ``trusted_proxies`` list; ValueError names a bad entry.

    ``"10.0.0.5"`` is a single host, ``"10.0.0.0/8"`` a network; host bits in a
    network (``"10.0.0.5/8"``) are tolerated, as nginx's ``set_real_ip_from`` does.
    Cached: it runs for every request.
    """
    return _networks(tuple(e for e in (entries or ()) if e.strip()))


def parse_ip(value: str | None) -> IPAddress | None:
    """An address from a peer or header entry, or None when it is not one.

    Accepts ``1.2.3.4``, ``1.2.3.4:5678``, ``::1``, ``[::1]:5678`` and
    ``"[::1]"`` (RFC 7239 quoting); IPv4-mapped IPv6 (``::ffff:1.2.3.4``, what a
    dual-stack socket reports) becomes the IPv4 address so it matches IPv4 rules.
    """
    if not value:
        return None
    text = value.strip().strip('"')
    if text.startswith("["):  # [v6] or [v6]:port
        end = text.find("]")
        if end < 0:
            return None
        text = text[1:end]
    elif text.count(":") == 1:  # v4:port (a bare v6 address has at least two colons)
        text = text.split(":", 1)[0]
    if "%" in text:  # a zone index (fe80::1%eth0) is not part of the address
        text = text.split("%", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _trusted(ip: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(ip.version == net.version and ip in net for net in networks)


def _forwarded_for(request: web.BaseRequest) -> list[str]:
    """Every ``X-Forwarded-For`` entry, left to right, across repeated headers."""
    entries: list[str] = []
    for header in request.headers.getall("X-Forwarded-For", []):
        entries += [part.strip() for part in header.split(",") if part.strip()]
    return entries


def resolve_client(
    peer: str | None, forwarded_for: list[str], trusted: tuple[IPNetwork, ...]
) -> str:
    """The client's address from the direct ``peer`` and the ``X-Forwarded-For`` entries.

    Pure, for tests: ``client_address`` calls it with the request's values.
    """
    peer_ip = parse_ip(peer)
    if peer_ip is None:
        # A unix socket or a transport without an address: nothing to key on but this.
        return peer or UNKNOWN
    if not trusted or not _trusted(peer_ip, trusted):
        return str(peer_ip)
    client = peer_ip
    for entry in reversed(forwarded_for):
        ip = parse_ip(entry)
        if ip is None:
            # A trusted hop wrote something that is not an address ("unknown", garbage):
            # nothing to its left can be believed, so the last hop we could read is it.
            break
        client = ip
        if not _trusted(ip, trusted):
            break
    return str(client)


def _trusted_of(request: web.BaseRequest) -> tuple[IPNetwork, ...]:
    config = request.app.get(CONFIG_KEY) if hasattr(request, "app") else None
    return parse_trusted_proxies(getattr(config, "trusted_proxies", None))


def client_address(request: web.BaseRequest) -> str:
    """The client's address as a string: what per-client limits key on.

    ``request.remote`` unless the direct peer is in ``config.trusted_proxies``,
    in which case the right-most ``X-Forwarded-For`` entry that is not itself
    a trusted proxy.
    """
    return resolve_client(request.remote, _forwarded_for(request), _trusted_of(request))


def is_loopback_client(request: web.BaseRequest) -> bool:
    """True only for a request that really comes from this host.

    The peer is loopback and either it is a trusted proxy whose forwarded
    client is loopback too, or it is no proxy at all: a loopback peer that
    sends ``X-Forwarded-For``, ``Forwarded`` or ``X-Real-IP`` without being a
    configured trusted proxy is a reverse proxy on the same host, relaying
    somebody else, so it is not local.
    """
    peer = parse_ip(request.remote)
    if peer is None or not peer.is_loopback:
        return False
    trusted = _trusted_of(request)
    if trusted and _trusted(peer, trusted):
        forwarded = _forwarded_for(request)
        if not forwarded and any(name in request.headers for name in PROXY_HEADERS):
            # The trusted proxy names its client in a header this module does not read
            # (Forwarded, X-Real-IP): the client is unknown, so not known to be local.
            return False
        client = parse_ip(resolve_client(request.remote, forwarded, trusted))
        return client is not None and client.is_loopback
    return not any(name in request.headers for name in PROXY_HEADERS)
