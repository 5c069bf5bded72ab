"""The client's address, once for the whole system.

Behind a reverse proxy ``REMOTE_ADDR`` is the proxy. ``X-Forwarded-For`` is believed only when the request
comes from an address listed in ``WUYE_TRUSTED_PROXIES`` (IPs or networks, e.g. ``127.0.0.1,10.0.0.0/8``):
the header is read from the right, skipping trusted proxies, and the first address that is not one is the
client. Without the setting, the header is ignored (anyone can send it). Every place that records or sends
an address — audit events, the login throttle, rate limits, the payer IP sent to WeChat Pay H5, provider
notifications — calls ``client_ip``.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=8)
def _networks(spec: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in spec)


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1:value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def client_ip(request) -> str:
    """The client's IP address as text ("" when unknown)."""
    remote = _parse(request.META.get("REMOTE_ADDR", "") or "")
    if remote is None:
        return ""
    trusted = _networks(tuple(getattr(settings, "WUYE_TRUSTED_PROXIES", ()) or ()))
    if not trusted or not any(remote in net for net in trusted):
        return str(remote)
    hops = [h for h in (request.META.get("HTTP_X_FORWARDED_FOR", "") or "").split(",") if h.strip()]
    client = remote
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            break  # a garbled hop: trust nothing left of it
        client = address
        if not any(address in net for net in trusted):
            break
    return str(client)
