"""Where outgoing webhooks may go, and the one HTTP request that takes them there (SSRF guard).

An endpoint URL must be HTTPS (``ADVOCACY_WEBHOOKS_ALLOW_HTTP`` lets ``http://`` through, for
development) and its host must resolve only to public addresses: loopback, private, link-local,
multicast, reserved, unspecified and shared addresses are refused, for IPv4 and IPv6 alike, and an
IPv6 address that carries an IPv4 one (IPv4-mapped ``::ffff:a.b.c.d``, 6to4, Teredo) is judged by the
IPv4 address inside. ``ADVOCACY_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES`` lifts the address rule, for
development.

The check runs when staff save an endpoint and again at every delivery. A delivery connects to the very
address it checked (the name is not looked up a second time by the HTTP library), so a DNS answer that
changes between the check and the connection (DNS rebinding) cannot lead it inside the network; TLS
still verifies the certificate against the host name, which is also sent as SNI and ``Host``.
Redirects are never followed and the environment's proxy settings are ignored, for the same reason.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from dataclasses import field
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from advocacy_portal.config import config_value

#: The longest endpoint URL accepted.
MAX_URL_LENGTH = 2048
#: Bytes of an answer read at most (the log keeps a snippet of it; the rest is never needed).
MAX_RESPONSE_BYTES = 64 * 1024

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeTarget(ValueError):
    """A URL the plugin will not send webhooks to; the message says why, for staff."""


@dataclass(frozen=True)
class Target:
    """A checked endpoint URL, split into what the connection needs."""

    url: str
    scheme: str
    hostname: str
    port: int
    #: The ``Host`` header: the URL's host and port as written.
    host_header: str


def parse_url(url: str) -> Target:
    """Check the form of an endpoint URL (no network involved).

    :raises UnsafeTarget: not an absolute http(s) URL, ``http`` while it is not allowed, credentials
        in the URL, a fragment, or an invalid port.
    """
    if not isinstance(url, str) or not url.strip():
        raise UnsafeTarget("Enter the endpoint's URL, e.g. https://hooks.example.com/advocacy.")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeTarget(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if any(ord(character) < 33 or ord(character) == 127 for character in url):
        raise UnsafeTarget("The URL contains spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeTarget("This is not a valid URL (check the host and the port).") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise UnsafeTarget("The URL must start with https://.")
    if scheme == "http" and not config_value("WEBHOOKS_ALLOW_HTTP"):
        raise UnsafeTarget(
            "Webhooks are sent over HTTPS only: use an https:// URL "
            "(ADVOCACY_WEBHOOKS_ALLOW_HTTP allows http:// for development)."
        )
    if not parts.hostname:
        raise UnsafeTarget("The URL has no host name.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("Put no user name or password in the URL: the signature authenticates the sender.")
    if parts.fragment:
        raise UnsafeTarget("Remove the #fragment: it is never sent to the server.")
    if port == 0:
        raise UnsafeTarget("Port 0 is not a port to send to.")
    host_header = parts.netloc
    return Target(
        url=url,
        scheme=scheme,
        hostname=parts.hostname.rstrip(".").lower(),
        port=port or (443 if scheme == "https" else 80),
        host_header=host_header,
    )


def forbidden_reason(address: IPAddress) -> str | None:
    """Why ``address`` may not receive webhooks (``None``: a public address)."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        reason = forbidden_reason(embedded)
        return f"carries the IPv4 address {embedded}, which {reason}" if reason else None
    for attribute, reason in (
        ("is_unspecified", "is unspecified"),
        ("is_loopback", "is a loopback address"),
        ("is_link_local", "is a link-local address"),
        ("is_multicast", "is a multicast address"),
        ("is_reserved", "is a reserved address"),
        ("is_site_local", "is a site-local address"),
        ("is_private", "is a private address"),
    ):
        if getattr(address, attribute, False):
            return reason
    if not address.is_global:  # shared (100.64.0.0/10), documentation, benchmarking ranges
        return "is not a public address"
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if address.version != 6:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def resolve(target: Target) -> list[IPAddress]:
    """Every address the target's host name resolves to (an IP literal resolves to itself).

    :raises UnsafeTarget: the name does not resolve.
    """
    try:
        literal = ipaddress.ip_address(target.hostname)
    except ValueError:
        pass
    else:
        return [literal]
    try:
        answers = socket.getaddrinfo(target.hostname, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as error:
        raise UnsafeTarget(f"The host {target.hostname} could not be resolved ({error}).") from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canonname, sockaddr in answers:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnsafeTarget(f"The host {target.hostname} has no address.")
    return addresses


def checked_address(target: Target) -> IPAddress:
    """The address to connect to: the first the host resolves to, once every one of them is allowed.

    :raises UnsafeTarget: the host does not resolve, or one of its addresses is not public (unless
        ``ADVOCACY_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES`` is on).
    """
    addresses = resolve(target)
    if not config_value("WEBHOOKS_ALLOW_PRIVATE_ADDRESSES"):
        for address in addresses:
            reason = forbidden_reason(address)
            if reason:
                shown = target.hostname if str(address) == target.hostname else f"{target.hostname} ({address})"
                raise UnsafeTarget(
                    f"Refused: {shown} {reason}. Webhooks go only to public addresses "
                    "(ADVOCACY_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES allows others for development)."
                )
    return addresses[0]


def check_endpoint_url(url: str) -> Target:
    """The save-time check of an endpoint URL: its form, and where its host resolves to now.

    :raises UnsafeTarget: with a message for staff.
    """
    target = parse_url(url)
    checked_address(target)
    return target


# -- the request ---------------------------------------------------------------------------------------


@dataclass
class Answer:
    """What one request got: a status and the start of the body, or an error and no status."""

    status_code: int | None = None
    headers: dict = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None
    duration_ms: int = 0
    address: str | None = None


class _PinnedAdapter(HTTPAdapter):
    """Connects to one checked address whatever the URL's host name resolves to, keeping the name
    for TLS (SNI and certificate verification)."""

    def __init__(self, address: IPAddress, hostname: str):
        self._address = str(address)
        self._hostname = hostname
        super().__init__(max_retries=0, pool_connections=1, pool_maxsize=1)

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        host_params = dict(host_params, host=self._address)
        if host_params["scheme"] == "https":
            pool_kwargs = dict(pool_kwargs, server_hostname=self._hostname, assert_hostname=self._hostname)
        return self.poolmanager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)


def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST ``body`` to ``url`` once: checked (form and address) first, then sent to the checked
    address, without redirects or proxies, within ``ADVOCACY_WEBHOOKS_TIMEOUT_SECONDS``.

    Never raises for the endpoint's failures: the :class:`Answer` carries the error.
    """
    started = time.monotonic()
    answer = Answer()
    try:
        target = parse_url(url)
        address = checked_address(target)
    except UnsafeTarget as refusal:
        answer.error = str(refusal)
        return answer
    answer.address = str(address)
    timeout = config_value("WEBHOOKS_TIMEOUT_SECONDS")
    ca_bundle = config_value("WEBHOOKS_CA_BUNDLE")
    with requests.Session() as session:
        session.trust_env = False  # no proxy, no .netrc: the request goes to the checked address
        adapter = _PinnedAdapter(address, target.hostname)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        try:
            response = session.post(
                target.url,
                data=body,
                headers=dict(headers, Host=target.host_header),
                timeout=(timeout, timeout),
                allow_redirects=False,
                stream=True,
                verify=ca_bundle or True,
            )
            try:
                answer.status_code = response.status_code
                answer.headers = dict(response.headers)
                answer.body = _read_some(response, started + timeout)
            finally:
                response.close()
        except requests.Timeout:
            answer.error = f"No answer within {timeout:g} s (timeout)."
        except requests.exceptions.SSLError as error:
            answer.error = f"TLS failed: {_short(error)}"
        except requests.ConnectionError as error:
            answer.error = f"Could not connect to {target.hostname} ({address}): {_short(error)}"
        except requests.RequestException as error:
            answer.error = f"The request failed: {_short(error)}"
    answer.duration_ms = int((time.monotonic() - started) * 1000)
    return answer


def _read_some(response, deadline: float) -> bytes:
    data = b""
    try:
        for chunk in response.iter_content(chunk_size=8192):
            data += chunk
            if len(data) >= MAX_RESPONSE_BYTES or time.monotonic() > deadline:
                break
    except requests.RequestException:
        pass  # the status is what counts; a body cut short is still a snippet
    return data[:MAX_RESPONSE_BYTES]


def _short(error: Exception) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."
