"""Signed referral link tokens, the attribution cookie's value, and safe redirect targets.

A referral token is stable: it is signed over the advocate's public code, an optional campaign and the
time the link was issued (stored on the advocate), so the same customer always gets the same URL until
the link is reissued. Signatures use Flask's ``SECRET_KEY`` and accept ``SECRET_KEY_FALLBACKS``, so keys
can be rotated without breaking links already shared.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from urllib.parse import urlsplit

from flask import current_app
from itsdangerous import BadData
from itsdangerous import SignatureExpired
from itsdangerous import TimestampSigner
from itsdangerous import URLSafeTimedSerializer
from werkzeug.http import http_date

from advocacy_portal.config import config_value
from advocacy_portal.proxies import app_object

#: A campaign is a short slug: letters, digits, ``.``, ``_`` and ``-``.
CAMPAIGN_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: An advocate code as :func:`advocacy_portal.services.referrals.new_advocate_code` makes them.
CODE_PATTERN = re.compile(r"[A-Za-z0-9_-]{4,32}")
#: Longest token accepted before any signature work; real ones are about 60 characters.
MAX_TOKEN_LENGTH = 256


class InvalidLink(Exception):
    """A referral token or attribution cookie that must be ignored.

    ``reason`` is one of ``malformed``, ``bad_signature``, ``expired`` or ``unknown_advocate``.
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class LinkClaim:
    """What a valid referral token says."""

    advocate_code: str
    campaign: str | None
    issued_at: datetime


@dataclass(frozen=True)
class AttributionClaim:
    """What a valid attribution cookie says: whose link the visitor followed, and when."""

    advocate_code: str
    campaign: str | None
    click_id: int | None
    clicked_at: datetime


class _IssuedAtSigner(TimestampSigner):
    """A timestamp signer that signs a given time instead of now, so a link's token is stable."""

    issued_at: int | None = None

    def get_timestamp(self) -> int:
        if self.issued_at is not None:
            return self.issued_at
        return super().get_timestamp()


class _LinkSerializer(URLSafeTimedSerializer):
    default_signer = _IssuedAtSigner

    def __init__(self, *args, issued_at: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.issued_at = issued_at

    def make_signer(self, salt=None):
        signer = super().make_signer(salt)
        signer.issued_at = self.issued_at
        return signer


class _KeyCachingSigner(TimestampSigner):
    """A timestamp signer that derives each key once (it lives in a cached serializer below)."""

    def derive_key(self, secret_key=None) -> bytes:
        derived = self.__dict__.setdefault("_derived", {})
        key = derived.get(secret_key)
        if key is None:
            key = derived[secret_key] = super().derive_key(secret_key)
        return key


class _CachedSerializer(URLSafeTimedSerializer):
    """A serializer that keeps its signers (and their derived keys) between calls, and writes its
    payload uncompressed (zlib costs more than the redirect's signature on payloads this small;
    compressed values signed before are still read)."""

    default_signer = _KeyCachingSigner

    def dump_payload(self, obj) -> bytes:
        from itsdangerous.encoding import base64_encode

        return base64_encode(self.serializer.dumps(obj, **self.serializer_kwargs).encode("utf-8"))

    def make_signer(self, salt=None):
        signers = self.__dict__.setdefault("_signers", {})
        signer = signers.get(salt)
        if signer is None:
            signer = signers[salt] = super().make_signer(salt)
        return signer


#: ``(keys, salt) -> serializer``: built once per process and key set, not on every click.
_serializers: dict[tuple, _CachedSerializer] = {}


def cached_serializer(salt: str) -> URLSafeTimedSerializer:
    """A serializer over the app's current :func:`secret_keys` and ``salt``, kept per process (a key
    rotation simply makes a new one)."""
    cache_key = (tuple(secret_keys()), salt)
    serializer = _serializers.get(cache_key)
    if serializer is None:
        if len(_serializers) >= 64:
            _serializers.clear()
        serializer = _serializers[cache_key] = _CachedSerializer(list(cache_key[0]), salt=salt)
    return serializer


def secret_keys(app=None) -> list[str | bytes]:
    """Flask's signing keys, oldest first: every fallback, then ``SECRET_KEY`` (which signs).

    :raises RuntimeError: when the app has no ``SECRET_KEY``.
    """
    config = app_object(app).config
    key = config.get("SECRET_KEY")
    if not key:
        raise RuntimeError("Advocacy Portal needs the app's SECRET_KEY to sign referral links")
    fallbacks = config.get("SECRET_KEY_FALLBACKS") or ()
    if isinstance(fallbacks, (str, bytes)):
        # One key given as a plain string (e.g. from an environment variable): unpacking it would
        # make every single character a valid signing key.
        fallbacks = [fallbacks]
    return [*(fallback for fallback in fallbacks if fallback), key]


def cookie_options(request_is_secure: bool, config=None) -> dict:
    """The attribution cookie's attributes, the same for setting and for deleting it.

    ``Secure`` is ``ADVOCACY_COOKIE_SECURE``, or, when that is ``None``, whether the request came
    over HTTPS.

    :param config: the app's config when the caller holds it already (the redirect reads it once).
    """
    config = config if config is not None else current_app.config
    secure = config["ADVOCACY_COOKIE_SECURE"]
    return {
        "path": "/",
        "domain": config["ADVOCACY_COOKIE_DOMAIN"],
        "secure": request_is_secure if secure is None else bool(secure),
        "httponly": True,
        "samesite": config["ADVOCACY_COOKIE_SAMESITE"],
    }


#: ``(epoch second, max age, Expires value)`` of the last cookie expiry formatted.
_expires_cache: tuple[int, int, str] = (0, 0, "")


def cookie_expires(max_age: int) -> str:
    """The ``Expires`` value of a cookie set now that lives ``max_age`` seconds: what werkzeug's
    ``set_cookie(max_age=...)`` writes, formatted once per second instead of once per response."""
    global _expires_cache
    now = int(time.time())
    second, age, value = _expires_cache
    if second != now or age != max_age:
        value = http_date(now + max_age)
        _expires_cache = (now, max_age, value)
    return value


def validate_campaign(campaign: str | None) -> str | None:
    """Return ``campaign`` if it is a valid slug (or ``None``).

    :raises ValueError: on anything else.
    """
    if campaign is None:
        return None
    if not isinstance(campaign, str) or not CAMPAIGN_PATTERN.fullmatch(campaign):
        raise ValueError(
            "A campaign is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return campaign


def make_link_token(advocate_code: str, issued_at: datetime, campaign: str | None = None) -> str:
    """Sign a referral token naming an advocate and, optionally, a campaign.

    :param advocate_code: the advocate's public code.
    :param issued_at: when the advocate's link was issued; the same value gives the same token.
    :param campaign: a campaign slug, or ``None``.
    :raises ValueError: on an invalid code or campaign.
    """
    if not CODE_PATTERN.fullmatch(advocate_code or ""):
        raise ValueError("invalid advocate code")
    payload = [advocate_code] if campaign is None else [advocate_code, validate_campaign(campaign)]
    serializer = _LinkSerializer(
        secret_keys(), salt=config_value("LINK_SALT"), issued_at=int(issued_at.timestamp())
    )
    return serializer.dumps(payload)


def read_link_token(token: str) -> LinkClaim:
    """Verify a referral token and say what it names.

    :raises InvalidLink: when it is malformed, tampered with, signed for another purpose or with an
        unknown key, or older than ``ADVOCACY_LINK_MAX_AGE_DAYS``.
    """
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidLink("malformed")
    max_age_days = config_value("LINK_MAX_AGE_DAYS")
    # A shared link is followed again and again: its verified claim is kept for a few seconds per
    # process (never past its expiry, and only under the keys and salt that verified it).
    ttl = config_value("LINK_CACHE_SECONDS")
    if ttl:
        context = (tuple(secret_keys()), config_value("LINK_SALT"), max_age_days)
        cached = _verified_tokens.get(token)
        if cached is not None and cached[1] == context and cached[2] > time.monotonic():
            claim = cached[0]
            if max_age_days is None or datetime.now(timezone.utc) - claim.issued_at < timedelta(
                days=max_age_days
            ):
                return claim
        claim = _read_link_token(token, max_age_days)
        if len(_verified_tokens) >= 10_000:
            _verified_tokens.clear()
        _verified_tokens[token] = (claim, context, time.monotonic() + ttl)
        return claim
    return _read_link_token(token, max_age_days)


#: ``token -> (LinkClaim, (keys, salt, max age), expiry)`` of recently verified referral tokens.
_verified_tokens: dict[str, tuple] = {}


def _read_link_token(token: str, max_age_days) -> LinkClaim:
    serializer = cached_serializer(config_value("LINK_SALT"))
    try:
        payload, issued = serializer.loads(
            token,
            max_age=None if max_age_days is None else int(max_age_days * 86400),
            return_timestamp=True,
        )
    except SignatureExpired:
        raise InvalidLink("expired") from None
    except (BadData, UnicodeError, ValueError):
        raise InvalidLink("bad_signature") from None
    if (
        not isinstance(payload, list)
        or not 1 <= len(payload) <= 2
        or not all(isinstance(part, str) for part in payload)
        or not CODE_PATTERN.fullmatch(payload[0])
        or (len(payload) == 2 and not CAMPAIGN_PATTERN.fullmatch(payload[1]))
    ):
        raise InvalidLink("malformed")
    return LinkClaim(
        advocate_code=payload[0],
        campaign=payload[1] if len(payload) == 2 else None,
        issued_at=issued,
    )


def _cookie_serializer() -> URLSafeTimedSerializer:
    return cached_serializer(config_value("COOKIE_SALT"))


def dump_attribution(advocate_code: str, campaign: str | None, click_id: int | None) -> str:
    """The signed value of the attribution cookie for a click happening now."""
    return _cookie_serializer().dumps([advocate_code, campaign, click_id])


def read_attribution(value: str | None) -> AttributionClaim | None:
    """The claim an attribution cookie carries, or ``None`` when it is absent, forged or expired.

    A cookie is outside our control, so nothing about it is an error: a bad one is simply ignored.
    """
    if not value or not isinstance(value, str) or len(value) > MAX_TOKEN_LENGTH:
        return None
    max_age = int(config_value("ATTRIBUTION_DAYS") * 86400)
    try:
        payload, clicked_at = _cookie_serializer().loads(
            value, max_age=max_age, return_timestamp=True
        )
    except (BadData, UnicodeError, ValueError):
        return None
    if not isinstance(payload, list) or len(payload) != 3:
        return None
    code, campaign, click_id = payload
    if not isinstance(code, str) or not CODE_PATTERN.fullmatch(code):
        return None
    if campaign is not None and (
        not isinstance(campaign, str) or not CAMPAIGN_PATTERN.fullmatch(campaign)
    ):
        return None
    if click_id is not None and (type(click_id) is not int or click_id <= 0):
        return None
    return AttributionClaim(code, campaign, click_id, clicked_at.astimezone(timezone.utc))


_UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f\\]")


def safe_destination(target: str | None, own_host: str | None, allowed_hosts=()) -> str | None:
    """Return ``target`` if a redirect there stays on this site or goes to an allow-listed host.

    Accepted: an absolute path (``/pricing?x=1``), or an ``http``/``https`` URL whose host is
    ``own_host`` or in ``allowed_hosts``. Refused (``None``): protocol-relative ``//host``, scheme-only
    ``https:host``, backslashes, whitespace or control characters anywhere (browsers repair these into
    other hosts), relative paths, and every other scheme (``javascript:``, ``data:``, ...).
    """
    if not target or not isinstance(target, str) or len(target) > 2048:
        return None
    if _UNSAFE_CHARS.search(target):
        return None
    try:
        parts = urlsplit(target)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    if not parts.scheme and not parts.netloc:
        if target.startswith("/") and not target.startswith("//"):
            return target
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or not hostname:
        return None
    if parts.username is not None or parts.password is not None:
        return None
    allowed = {host.lower().rstrip(".") for host in allowed_hosts}
    if own_host:
        own = urlsplit("//" + own_host).hostname
        if own:
            allowed.add(own.rstrip("."))
    if hostname.lower().rstrip(".") in allowed:
        return target
    return None


# -- the site's origin --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteOrigin:
    """The site's own origin, from configuration (never from a request's Host header)."""

    scheme: str
    #: ``host`` or ``host:port``, as a URL's netloc.
    netloc: str
    #: Where the origin came from: ``ADVOCACY_SITE_URL``, ``SERVER_NAME`` or ``TRUSTED_HOSTS``.
    source: str

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.netloc}"

    @property
    def hostname(self) -> str:
        return (urlsplit("//" + self.netloc).hostname or "").rstrip(".")


def parse_site_url(value) -> tuple[str, str]:
    """``(scheme, netloc)`` of an ``ADVOCACY_SITE_URL`` such as ``https://shop.example``.

    :raises ValueError: when it is not an ``http``/``https`` origin (no path, query, user or fragment).
    """
    if not isinstance(value, str) or _UNSAFE_CHARS.search(value):
        raise ValueError("the site URL must be a string without spaces or control characters")
    parts = urlsplit(value.rstrip("/"))
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise ValueError("the site URL has a malformed port") from None
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username is not None
        or parts.password is not None
    ):
        raise ValueError("the site URL must be an origin such as 'https://shop.example', with no path")
    return parts.scheme.lower(), parts.netloc.lower()


def site_origin(app=None) -> SiteOrigin | None:
    """The site's origin from configuration: ``ADVOCACY_SITE_URL``, else ``SERVER_NAME`` with
    ``PREFERRED_URL_SCHEME``, else the first plain name of Flask's ``TRUSTED_HOSTS`` (a pattern such as
    ``.example.com`` names no one host) with ``PREFERRED_URL_SCHEME``; ``None`` when none is set."""
    config = (app or current_app).config
    configured = config.get("ADVOCACY_SITE_URL")
    if configured:
        scheme, netloc = parse_site_url(configured)
        return SiteOrigin(scheme, netloc, "ADVOCACY_SITE_URL")
    scheme = (config.get("PREFERRED_URL_SCHEME") or "http").lower()
    if config.get("SERVER_NAME"):
        return SiteOrigin(scheme, str(config["SERVER_NAME"]).lower(), "SERVER_NAME")
    for host in config.get("TRUSTED_HOSTS") or ():
        if isinstance(host, str) and host and not host.startswith("."):
            return SiteOrigin(scheme, host.lower(), "TRUSTED_HOSTS")
    return None


def site_hosts(app=None) -> tuple[str, ...]:
    """Every host name "same site" means: the configured origin's, and every plain name of
    ``TRUSTED_HOSTS`` (Flask refuses requests for any other host)."""
    config = (app or current_app).config
    origin = site_origin(app)
    hosts = [origin.hostname] if origin is not None else []
    for host in config.get("TRUSTED_HOSTS") or ():
        if isinstance(host, str) and host and not host.startswith("."):
            name = urlsplit("//" + host).hostname
            if name:
                hosts.append(name.rstrip("."))
    return tuple(dict.fromkeys(host for host in hosts if host))


def same_site_destination(target: str | None, app=None) -> str | None:
    """:func:`safe_destination` with "same site" taken from configuration (:func:`site_hosts`) and
    ``ADVOCACY_REDIRECT_ALLOWED_HOSTS``; with no site configured only paths and allow-listed hosts pass."""
    config = (app or current_app).config
    allowed = tuple(config.get("ADVOCACY_REDIRECT_ALLOWED_HOSTS") or ()) + site_hosts(app)
    return safe_destination(target, None, allowed)


def absolute_url(path: str, app=None) -> str | None:
    """``path`` (``/r/abc``) on the configured site origin, or ``None`` when no origin is configured."""
    origin = site_origin(app)
    if origin is None:
        return None
    return origin.url + (path if path.startswith("/") else "/" + path)
