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
import socket
import re
from functools import lru_cache
from urllib.parse import urlsplit

from advocacy_portal.config import config_value
from advocacy_portal.services.links import secret_keys


#: Link previews of chat apps and social networks, and search crawlers: never a person.
_PREVIEW_BOT = re.compile(
    r"(?<!cu)bot|crawl|spider|slurp|preview|facebookexternalhit|whatsapp|embedly",
    re.IGNORECASE,
)


#: Headless browsers and command-line or library HTTP clients: scripts, and a host's integration tests
#: (counted with ``ADVOCACY_COUNT_AUTOMATED_CLICKS``).
_AUTOMATED = re.compile(
    r"headless|curl|wget|python-requests|python-urllib|httpx|go-http-client|okhttp|java/|libwww|scrapy",
    re.IGNORECASE,
)


_TABLET = re.compile(r"ipad|tablet|kindle|silk|playbook", re.IGNORECASE)


_MOBILE = re.compile(r"mobi|iphone|ipod|android|blackberry|opera mini|iemobile|windows phone", re.I)


_DESKTOP = re.compile(r"windows nt|macintosh|x11|cros|linux", re.IGNORECASE)


def bot_reason(user_agent: str | None, count_automated: bool = False) -> str | None:
    """Why a User-Agent is taken for a bot, in words for a log line, or ``None`` when it is not."""
    return _bot_reason((user_agent or "")[:512], bool(count_automated))


@lru_cache(maxsize=2048)
def _bot_reason(user_agent: str, count_automated: bool) -> str | None:
    # Cached: a viral link is followed by a few browsers' User-Agents over and over.
    preview = _PREVIEW_BOT.search(user_agent)
    if preview:
        return f"the User-Agent looks like a link-preview bot or crawler ({preview.group(0)!r})"
    automated = _AUTOMATED.search(user_agent)
    if automated and not count_automated:
        return (f"the User-Agent looks like a headless browser or script ({automated.group(0)!r}); "
                "set ADVOCACY_COUNT_AUTOMATED_CLICKS = True to count these in integration tests")
    return None


def device_class(user_agent: str | None, count_automated: bool = False) -> str:
    """Sort a User-Agent into ``bot``, ``tablet``, ``mobile``, ``desktop`` or ``unknown``.

    :param count_automated: sort headless browsers and HTTP clients by the device they name (a
        headless Chrome on Linux is ``desktop``, curl ``unknown``) instead of ``bot``.
    """
    if not user_agent:
        return "unknown"
    return _device_class(user_agent[:512], bool(count_automated))


@lru_cache(maxsize=2048)
def _device_class(user_agent: str, count_automated: bool) -> str:
    if bot_reason(user_agent, count_automated):
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
    return _digest(_visitor_key(), (_network_of(ip) or "").encode())


def hash_device(ip: str | None, user_agent: str | None, accept_language: str | None) -> str:
    """A keyed one-way hash of a visitor's *device cluster* (32 hex characters): the browser's own
    description (``User-Agent`` and ``Accept-Language``) on one neighbourhood network (the IPv4 /24,
    the IPv6 /48). The same phone or laptop hopping between addresses of its carrier or its office
    stays one cluster; different people behind one address mostly do not. The fraud review's
    ``shared_device`` rule counts referred purchases per cluster. Blanked with the IP hashes."""
    return hash_visitor(ip, user_agent, accept_language)[1]


def hash_visitor(ip: str | None, user_agent: str | None, accept_language: str | None) -> tuple[str, str]:
    """``(hash_ip(ip), hash_device(ip, user_agent, accept_language))``, with one key look-up and one
    parse of the address (the redirect asks for both on every click)."""
    key = _visitor_key()
    network = _network_of(ip)
    device = _digest(
        key,
        b"device\0" + _neighbourhood_of(network).encode() + b"\0",
        (user_agent or "")[:512].encode("utf-8", "replace") + b"\0",
        (accept_language or "")[:128].strip().lower().encode("utf-8", "replace"),
    )
    return _digest(key, (network or "").encode()), device


def _visitor_key():
    secret = config_value("IP_HASH_SECRET")
    return _ip_hash_key(secret, secret_keys()[-1] if secret is None else None)


def _digest(key, *parts: bytes) -> str:
    mac = key.copy()
    for part in parts:
        mac.update(part)
    return mac.hexdigest()[:32]


def _neighbourhood_of(network: str) -> str:
    """The /24 (IPv4) or /48 (IPv6) around an address as :func:`_network_of` writes it."""
    if ":" not in network and "/" not in network and network.count(".") == 3:
        return network.rpartition(".")[0] + ".0/24"  # IPv4, canonical: no ipaddress object per click
    try:
        address = ipaddress.ip_network(network, strict=False)
    except ValueError:
        return network
    prefix = 24 if address.version == 4 else 48
    return str(address.supernet(new_prefix=prefix)) if address.prefixlen > prefix else str(address)


@lru_cache(maxsize=8)
def _ip_hash_key(secret, signing_key):
    """The keyed HMAC state of the IP hash, made once per process and key (copied per address)."""
    if secret is None:
        # A key derived from SECRET_KEY, so leaking hashes reveals nothing without the app's secret.
        secret = hmac.new(_as_bytes(signing_key), b"advocacy.ip-hash", hashlib.sha256).digest()
    return hmac.new(_as_bytes(secret), digestmod=hashlib.sha256)


def _network_of(ip: str | None) -> str:
    if ip and ":" not in ip:
        # The common case, an IPv4 address already written canonically, checked in C.
        try:
            if socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, ip)) == ip:
                return ip
        except OSError:
            pass
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
