"""The suite's own route fuzz: every rule of the app's URL map (so a new route is covered by
construction), every method it allows, as an anonymous visitor, a customer and staff, with hostile
values in each path variable, in the common query arguments and in posted form fields (with a valid
CSRF token). No answer may be a 5xx, nor may a request raise.

The corpus is sampled deterministically (each rule gets every value in its path variables; query
arguments and form fields rotate through the corpus), so a run stays well under a minute."""

from __future__ import annotations

import io
import re
import zlib
from urllib.parse import quote

import pytest

from tests.helpers import CSRF_FIELD
from tests.helpers import login
from tests.helpers import make_customer
from tests.testimonials_support import make_testimonial

#: Hostile values, already written as they appear in a URL (percent-encoded where a raw byte would be).
CORPUS = [
    "0",
    "-1",
    "99999999999999999999",
    str(2**63),
    str(2**63 - 1),
    str(2**31),
    "-" + str(2**63 + 1),
    quote("²"),
    quote("٣٤"),  # Arabic-Indic digits
    quote("１２"),  # full-width digits
    "%00",
    "a%00b",
    "%ED%A0%80",  # a lone surrogate, UTF-8-ish encoded
    "%ED%B3%BF",
    "%FF%FE",
    "x" * 5000,
    "9" * 5000,
    "..%2F..%2Fetc%2Fpasswd",
    "....//....//etc",
    "",
    "%20",
    "1.5",
    "1e9",
    "true",
    "null",
    "%5B%5D",
    "%7B%7D",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "9999-12-31",
    "0001-01-01",
    "2024-02-30",
    "2024-13-01",
    "1970-01-01T00:00:00",
    "usd%27%20OR%201%3D1--",
]

#: Query arguments the views read (and a few id-like ones they do not).
QUERY_ARGS = [
    "page", "per_page", "entries_page", "start", "end", "rating", "q", "currency", "state", "kind",
    "product", "order", "attributed", "outcome", "topic", "action", "token", "campaign", "via", "next",
    "download", "submitted_from", "submitted_until", "id", "advocate_id", "limit", "since", "from", "to", "created_after",
]

#: Form fields of the plugin's forms (with and without their prefixes), filled with hostile values.
FORM_FIELDS = [
    "amount", "currency", "reason", "nonce", "rating", "body", "title", "display_name", "role", "consent",
    "product", "url", "description", "topics", "task_id", "topic", "action", "selected", "back", "note",
    "state", "featured", "amount_minor", "confirm", "name", "scopes", "website", "excerpt", "start", "end",
    "q", "reply", "version", "ids",
]
FORM_PREFIXES = ["", "advocacy-adjust-", "advocacy-key-", "advocacy-reset-", "advocacy-redeem-"]

FUZZ_SETTINGS = dict(
    TESTIMONIAL_SUBMIT_LIMIT="100000 per minute",
    API_RATE_LIMIT="100000 per minute",
    LINK_FOLLOW_LIMIT="100000 per minute",
    WIDGET_RATE_LIMIT="100000 per minute",
    API_KEY_RATE_LIMIT="100000 per minute",
)

_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def _pick(seed: str, count: int) -> list[str]:
    """``count`` corpus values chosen by ``seed`` (the same ones on every run)."""
    start = zlib.crc32(seed.encode()) % len(CORPUS)
    return [CORPUS[(start + step * 7) % len(CORPUS)] for step in range(count)]


def _fill(rule: str, values: dict[str, str]) -> str:
    return _VARIABLE.sub(lambda match: values.get(match.group(1), "1"), rule)


def _rules(app):
    """Every rule of the plugin (the test host's own pages are not ours) but its static files, with its methods."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        if not rule.endpoint.startswith("advocacy_") or rule.endpoint.endswith(".static"):
            continue
        yield rule, sorted(rule.methods)


def _csrf(client, urls) -> str | None:
    for url in urls:
        match = CSRF_FIELD.search(client.get(url).get_data(as_text=True))
        if match:
            return match.group(1)
    return None


@pytest.fixture
def clients(app):
    """An anonymous, a customer and a staff client, each with a CSRF token of its session, on an app
    with an advocate, a testimonial and its data."""
    customer = make_customer(app)
    staff = make_customer(app, staff=True)
    anonymous_client, customer_client, staff_client = app.test_client(), app.test_client(), app.test_client()
    login(customer_client, customer)
    login(staff_client, staff)
    assert customer_client.get("/advocacy/").status_code == 200  # makes the advocate
    make_testimonial(app, customer, state="approved", staff=staff)
    return {
        "anonymous": (anonymous_client, _csrf(anonymous_client, ["/login"])),
        "customer": (customer_client, _csrf(customer_client, ["/advocacy/testimonials/new", "/advocacy/"])),
        "staff": (staff_client, _csrf(staff_client, ["/advocacy/admin/outbox", "/advocacy/admin/api-keys"])),
    }


def _send(client, method: str, url: str, failures: list, **kwargs):
    """The answer's page text, or ``None`` when the request raised; a 5xx or a raise is a failure."""
    try:
        response = client.open(url, method=method, **kwargs)
    except Exception as error:  # noqa: BLE001 - a raised exception is a 500 for the visitor
        failures.append(f"{method} {url[:160]} raised {type(error).__name__}: {str(error)[:160]}")
        return None
    if response.status_code >= 500:
        failures.append(f"{method} {url[:160]} answered {response.status_code}")
    if response.mimetype == "application/zip":  # the data export's download: a file, no page to read
        return ""
    return response.get_data(as_text=True)


@pytest.mark.settings(**FUZZ_SETTINGS)
def test_no_route_answers_5xx_to_hostile_path_values(app, clients):
    failures: list[str] = []
    requests = 0
    for rule, methods in _rules(app):
        for name in sorted(rule.arguments):
            for client, _token in clients.values():
                for method in methods:
                    # POST and the rest stop at the CSRF check once the converter let a value through.
                    for value in CORPUS if method == "GET" else CORPUS[::3]:
                        _send(client, method, _fill(rule.rule, {name: value}), failures)
                        requests += 1
    assert requests > 1000
    assert not failures, f"{len(failures)} of {requests} requests failed:\n" + "\n".join(failures[:40])


@pytest.mark.settings(**FUZZ_SETTINGS)
def test_no_route_answers_5xx_to_hostile_query_arguments(app, clients):
    failures: list[str] = []
    requests = 0
    for rule, methods in _rules(app):
        if "GET" not in methods:
            continue
        base = _fill(rule.rule, {})
        for role, (client, _token) in clients.items():
            # Every corpus value in all query arguments at once...
            for value in CORPUS:
                query = "&".join(f"{arg}={value}" for arg in QUERY_ARGS)
                _send(client, "GET", f"{base}?{query}", failures)
                requests += 1
            # ... and, one argument at a time, a few values each (a strict endpoint stops at the first).
            if role != "anonymous":
                for arg in QUERY_ARGS:
                    for value in _pick(f"{rule.rule} {arg} {role}", 2):
                        _send(client, "GET", f"{base}?{arg}={value}", failures)
                        requests += 1
    assert requests > 3000
    assert not failures, f"{len(failures)} of {requests} requests failed:\n" + "\n".join(failures[:40])


@pytest.mark.settings(**FUZZ_SETTINGS)
def test_no_post_route_answers_5xx_to_hostile_forms(app, clients):
    failures: list[str] = []
    requests = 0
    post_rules = [rule for rule, methods in _rules(app) if "POST" in methods]
    assert post_rules
    assert clients["customer"][1] and clients["staff"][1], "no CSRF token for a signed-in client"
    past_csrf = 0
    for rule in post_rules:
        url = _fill(rule.rule, {})
        for role, (client, token) in clients.items():
            for step, value in enumerate(_pick(f"{rule.rule} {role}", 8) + ["%00", "x" * 5000]):
                # The corpus is written for URLs: the form body carries the same bytes. Every other
                # form has a well-formed nonce, so the hostile values get past that check too.
                nonce = f"fuzz{requests:016d}" if step % 2 else value
                body = "&".join(
                    f"{prefix}{field}={nonce if field == 'nonce' else value}"
                    for prefix in FORM_PREFIXES for field in FORM_FIELDS
                )
                if token:
                    body += "&csrf_token=" + quote(token) + "".join(
                        f"&{prefix}csrf_token={quote(token)}" for prefix in FORM_PREFIXES if prefix
                    )
                page = _send(client, "POST", url, failures, data=body,
                             content_type="application/x-www-form-urlencoded")
                requests += 1
                past_csrf += page is not None and "This form expired" not in page
    assert not failures, f"{len(failures)} of {requests} requests failed:\n" + "\n".join(failures[:40])
    assert past_csrf > requests / 3  # the forms reached their views' validation, not only the CSRF check


#: Files posted in multipart bodies: hostile names, types and contents (an image that lies about itself,
#: a truncated PNG, HTML, an empty file, a NUL in the name, a path, a name 5,000 characters long).
HOSTILE_FILES = [
    ("photo.png", "image/png", b"<html><script>alert(1)</script></html>"),
    ("photo.jpg", "image/jpeg", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64),
    ("../../etc/passwd", "text/plain", b"root:x:0:0"),
    ("a\x00b.png", "image/png", b""),
    ("x" * 5000 + ".gif", "image/gif", b"GIF89a" + b"\xff" * 40),
    ("", "application/octet-stream", b"\x00" * 1024),
    ("photo.webp", "image/webp; charset=%00", b"RIFF\x10\x00\x00\x00WEBPVP8 "),
]


@pytest.mark.settings(**FUZZ_SETTINGS)
def test_no_post_route_answers_5xx_to_hostile_multipart_bodies(app, clients):
    """Every POST rule, as every visitor, with a multipart body: the same hostile form fields plus
    hostile files in ``photo`` and a field named like a file, with and without a valid CSRF token."""
    failures: list[str] = []
    requests = 0
    post_rules = [rule for rule, methods in _rules(app) if "POST" in methods]
    for rule in post_rules:
        url = _fill(rule.rule, {})
        for role, (client, token) in clients.items():
            for step, (filename, content_type, content) in enumerate(HOSTILE_FILES):
                value = _pick(f"{rule.rule} {role} multipart", len(HOSTILE_FILES))[step]
                data = {f"{prefix}{field}": value for prefix in FORM_PREFIXES for field in FORM_FIELDS}
                data["nonce"] = f"fuzzmultipart{requests:012d}"
                data["photo"] = (io.BytesIO(content), filename, content_type)
                data["body"] = (io.BytesIO(content), filename, content_type)  # a file where text is due
                if token and step % 3:
                    data.update({f"{prefix}csrf_token": token for prefix in FORM_PREFIXES})
                _send(client, "POST", url, failures, data=data, content_type="multipart/form-data")
                requests += 1
    assert requests > 100
    assert not failures, f"{len(failures)} of {requests} requests failed:\n" + "\n".join(failures[:40])
