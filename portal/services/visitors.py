"""Visitor parsing: what the plugin keeps of a request that followed a referral link, reduced to
plain, private values: the device class of a User-Agent (bots included), a keyed hash of the IP
address, and only the host of a Referer.

Pure functions of strings (and the app's secret): the view reads the request, the referral service
stores what these return.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from urllib.parse import urlsplit

from advocacy_portal.config import config_value
from advocacy_portal.services.links import secret_keys


_BOT = re.compile(
    r"(?<!cu)bot|crawl|spider|slurp|preview|facebookexternalhit|whatsapp|embedly|headless|curl|wget|"
    r"python-requests|httpx|go-http-client|okhttp|java/|libwww|scrapy",
    re.IGNORECASE,
)


_TABLET = re.compile(r"ipad|tablet|kindle|silk|playbook", re.IGNORECASE)


_MOBILE = re.compile(r"mobi|iphone|ipod|android|blackberry|opera mini|iemobile|windows phone", re.I)


_DESKTOP = re.compile(r"windows nt|macintosh|x11|cros|linux", re.IGNORECASE)


def device_class(user_agent: str | None) -> str:
    """Sort a User-Agent into ``bot``, ``tablet``, ``mobile``, ``desktop`` or ``unknown``."""
    if not user_agent:
        return "unknown"
    user_agent = user_agent[:512]
    if _BOT.search(user_agent):
        return "bot"
    lowered = user_agent.lower()
    # Android tablets are the Android devices that do not call themselves "Mobile".
    if _TABLET.search(user_agent) or ("android" in lowered and "mobile" not in lowered):
        return "tablet"
    if _MOBILE.search(user_agent):
        return "mobile"
    if _DESKTOP.search(user_agent):
        return "desktop"
    return "unknown"


def hash_ip(ip: str | None) -> str:
    """A keyed one-way hash of an IP address (32 hex characters); the address itself is never kept.

    IPv6 addresses are hashed by their /64 network: devices rotate the rest for privacy, so a visitor
    is one visitor for de-duplication.
    """
    ip = _network_of(ip)
    secret = config_value("IP_HASH_SECRET")
    if secret is None:
        # A key derived from SECRET_KEY, so leaking hashes reveals nothing without the app's secret.
        secret = hmac.new(
            _as_bytes(secret_keys()[-1]), b"advocacy.ip-hash", hashlib.sha256
        ).digest()
    return hmac.new(_as_bytes(secret), (ip or "").encode(), hashlib.sha256).hexdigest()[:32]


def _network_of(ip: str | None) -> str:
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return ip or ""
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _as_bytes(value) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def referrer_host(referrer: str | None) -> str | None:
    """Only the host of a Referer header: paths and queries can hold private data."""
    if not referrer:
        return None
    try:
        host = urlsplit(referrer.strip()).hostname
    except ValueError:
        return None
    return host[:255] if host else None
