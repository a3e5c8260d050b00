"""The SSRF guard of outgoing webhooks: HTTPS only, public addresses only (IPv4, IPv6, IPv4-mapped,
names that resolve inside), checked at save time and again, on the address connected to, at delivery."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from advocacy_portal.services import webhook_targets
from advocacy_portal.services.webhook_targets import UnsafeTarget

REFUSED_URLS = {
    "https://127.0.0.1/hooks": "loopback",
    "https://127.8.9.10/hooks": "loopback",
    "https://10.1.2.3/hooks": "private",
    "https://172.16.0.1/hooks": "private",
    "https://192.168.1.1/hooks": "private",
    "https://169.254.169.254/latest/meta-data": "link-local",  # the cloud metadata service
    "https://100.64.0.1/hooks": "not a public address",
    "https://224.0.0.1/hooks": "multicast",
    "https://240.0.0.1/hooks": "reserved",
    "https://0.0.0.0/hooks": "unspecified",
    "https://[::1]/hooks": "loopback",
    "https://[::]/hooks": "unspecified",
    "https://[fe80::1]/hooks": "link-local",
    "https://[fc00::1]/hooks": "private",
    "https://[ff02::1]/hooks": "multicast",
    "https://[fec0::1]/hooks": "site-local",
    "https://[::ffff:127.0.0.1]/hooks": "carries the IPv4 address 127.0.0.1, which is a loopback address",
    "https://[::ffff:10.0.0.1]/hooks": "carries the IPv4 address 10.0.0.1, which is a private address",
    "https://[::ffff:169.254.169.254]/hooks": "link-local",
    "https://[2002:7f00:1::1]/hooks": "carries the IPv4 address 127.0.0.1",  # 6to4
    "https://[::127.0.0.1]/hooks": "reserved",  # IPv4-compatible
}


@pytest.mark.parametrize("url", sorted(REFUSED_URLS))
def test_internal_addresses_are_refused_when_saving(app_ctx, url):
    with pytest.raises(UnsafeTarget, match="Refused") as refused:
        webhook_targets.check_endpoint_url(url)
    assert REFUSED_URLS[url] in str(refused.value)
    assert "ADVOCACY_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES" in str(refused.value)


def test_a_name_that_resolves_to_a_loopback_address_is_refused(app_ctx):
    with pytest.raises(UnsafeTarget, match=r"^Refused: localhost \((127\.0\.0\.1|::1)\) is a loopback address"):
        webhook_targets.check_endpoint_url("https://localhost/hooks")


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "2606:4700:4700::1111"])
def test_public_addresses_pass(address):
    assert webhook_targets.forbidden_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://hooks.example.com/x", "HTTPS only"),
        ("ftp://hooks.example.com/x", "must start with https://"),
        ("hooks.example.com/x", "must start with https://"),
        ("https:///x", "no host"),
        ("https://user:pass@hooks.example.com/x", "no user name or password"),
        ("https://hooks.example.com/x#frag", "fragment"),
        ("https://hooks.example.com:99999/x", "not a valid URL"),
        ("https://hooks.example.com/a b", "spaces"),
        ("", "Enter the endpoint's URL"),
        ("https://" + "a" * 2100 + ".com/", "longer than"),
    ],
)
def test_malformed_and_plain_http_urls_are_refused(app_ctx, url, message):
    with pytest.raises(UnsafeTarget, match=message):
        webhook_targets.parse_url(url)


@pytest.mark.settings(WEBHOOKS_ALLOW_HTTP=True, WEBHOOKS_ALLOW_PRIVATE_ADDRESSES=True)
def test_development_settings_allow_http_and_local_addresses(app_ctx):
    target = webhook_targets.check_endpoint_url("http://127.0.0.1:8123/hooks")
    assert (target.scheme, target.hostname, target.port, target.host_header) == ("http", "127.0.0.1", 8123, "127.0.0.1:8123")
    assert webhook_targets.checked_address(webhook_targets.parse_url("http://localhost:9/x")) in (
        ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))


@pytest.mark.settings(WEBHOOKS_ALLOW_HTTP=True)
def test_http_alone_does_not_open_local_addresses(app_ctx):
    with pytest.raises(UnsafeTarget, match="loopback"):
        webhook_targets.check_endpoint_url("http://127.0.0.1:8123/hooks")


def test_a_name_with_one_internal_address_among_public_ones_is_refused(app_ctx, monkeypatch):
    def resolver(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::ffff:10.0.0.7", port, 0, 0)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    with pytest.raises(UnsafeTarget, match=r"hooks.example.com \(::ffff:\S+\) carries the IPv4 address 10.0.0.7, which is a private"):
        webhook_targets.check_endpoint_url("https://hooks.example.com/x")


def test_a_name_that_does_not_resolve_is_refused(app_ctx):
    with pytest.raises(UnsafeTarget, match="could not be resolved"):
        webhook_targets.check_endpoint_url("https://no-such-host.invalid/x")


def test_delivery_checks_again_and_never_reaches_a_rebound_address(app_ctx, receiver, monkeypatch):
    """A name that was public when saved and resolves to 127.0.0.1 at delivery (DNS rebinding) is
    refused before any connection: the local receiver gets nothing."""
    port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
    real = socket.getaddrinfo

    def rebinding(host, *args, **kwargs):
        if host == "hooks.example.com":
            return real("127.0.0.1", port, type=socket.SOCK_STREAM)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    answer = webhook_targets.post(f"https://hooks.example.com:{port}/hooks", b"{}", {})
    assert answer.status_code is None
    assert "Refused: hooks.example.com (127.0.0.1) is a loopback address" in answer.error
    assert receiver.requests == []


@pytest.mark.settings(WEBHOOKS_ALLOW_HTTP=True, WEBHOOKS_ALLOW_PRIVATE_ADDRESSES=True)
def test_the_connection_goes_to_the_checked_address_with_the_name_as_host(app_ctx, receiver, monkeypatch):
    """The HTTP library does not look the name up again: only the guard's own resolution runs, and
    the request carries the URL's host name."""
    port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
    real = socket.getaddrinfo
    looked_up = []

    def resolver(host, *args, **kwargs):
        looked_up.append(host)
        if host == "crm.example.test":
            return real("127.0.0.1", port, type=socket.SOCK_STREAM)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    answer = webhook_targets.post(f"http://crm.example.test:{port}/hooks", b"{}", {"Content-Type": "application/json"})
    assert answer.status_code == 200, answer.error
    assert answer.address == "127.0.0.1"
    assert looked_up.count("crm.example.test") == 1
    assert receiver.requests[0].header("Host") == f"crm.example.test:{port}"


@pytest.mark.settings(WEBHOOKS_ALLOW_PRIVATE_ADDRESSES=True)
def test_https_to_the_pinned_address_verifies_the_certificate_of_the_name(app_ctx, tmp_path, monkeypatch):
    """TLS to the checked address still sends the host name (SNI) and verifies the certificate against
    it: a certificate for the name passes, the same server reached under another name fails."""
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler
    from http.server import ThreadingHTTPServer

    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()
    certificate = authority.issue_cert("hooks.example.test")
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            seen.append((self.headers["Host"], self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certificate.configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_port
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket, "getaddrinfo",
        lambda host, *args, **kwargs: real("127.0.0.1", port, type=socket.SOCK_STREAM)
        if host.endswith(".example.test") else real(host, *args, **kwargs),
    )
    from flask import current_app

    current_app.config["ADVOCACY_WEBHOOKS_CA_BUNDLE"] = str(bundle)
    try:
        good = webhook_targets.post(f"https://hooks.example.test:{port}/in", b'{"a":1}', {})
        wrong_name = webhook_targets.post(f"https://other.example.test:{port}/in", b'{"a":1}', {})
    finally:
        server.shutdown()
        server.server_close()
    assert good.status_code == 204, good.error
    assert seen == [(f"hooks.example.test:{port}", b'{"a":1}')]
    assert wrong_name.status_code is None and "TLS failed" in wrong_name.error
