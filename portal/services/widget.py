"""The embeddable widget: its script, the identity tokens a host mints, and what referral mode shows.

An identity token is how a host vouches, from its own server, for the customer viewing a page on which
the widget runs (the way chat widgets verify identity): ``portal.widget_token(user)`` signs the
customer's host user id with ``SECRET_KEY`` (fallbacks accepted) under its own salt, and it expires after
``ADVOCACY_WIDGET_TOKEN_MAX_AGE_SECONDS``. It only ever reveals what that customer shares publicly anyway:
their referral link, its share links and QR code.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from itertools import groupby
from urllib.parse import urlsplit

import segno
from flask import current_app
from flask import has_request_context
from flask import url_for
from itsdangerous import BadData
from itsdangerous import SignatureExpired
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from advocacy_portal.config import config_value
from advocacy_portal.db import dialect_insert
from advocacy_portal.db import get_session
from advocacy_portal.models import LinkQrCode
from advocacy_portal.models import utcnow
from advocacy_portal.proxies import current_portal
from advocacy_portal.resources import static_dir
from advocacy_portal.services import offer_text
from advocacy_portal.services import referrals as referral_service
from advocacy_portal.services import sharing
from advocacy_portal.services.links import secret_keys
from advocacy_portal.services.links import validate_campaign
from advocacy_portal.services.rules import current_rules

#: Longest identity token read before any signature work; real ones are about 70 characters.
MAX_TOKEN_LENGTH = 512
#: Where a click came from, as stored in ``ReferralClick.source``; ``?via=widget`` on a link says so.
CLICK_SOURCES = ("link", "widget")

# What referral mode says about the identity token it was given.
NO_TOKEN = "none"
VALID = "valid"
INVALID = "invalid"
EXPIRED = "expired"
UNKNOWN_CUSTOMER = "unknown_customer"


class InvalidWidgetToken(Exception):
    """An identity token that must be ignored; ``reason`` is ``invalid`` or ``expired``."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_keys(), salt=config_value("WIDGET_TOKEN_SALT"))


def make_token(user_id) -> str:
    """Sign an identity token for the host user ``user_id`` (valid from now)."""
    return _serializer().dumps({"u": str(user_id)})


def read_token(token: str) -> str:
    """The host user id an identity token names.

    :raises InvalidWidgetToken: when it is malformed, tampered with, signed for another purpose or with
        an unknown key (``invalid``), or older than ``ADVOCACY_WIDGET_TOKEN_MAX_AGE_SECONDS`` (``expired``).
    """
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidWidgetToken(INVALID)
    try:
        payload = _serializer().loads(token, max_age=config_value("WIDGET_TOKEN_MAX_AGE_SECONDS"))
    except SignatureExpired:
        raise InvalidWidgetToken(EXPIRED) from None
    except (BadData, UnicodeError, ValueError):
        raise InvalidWidgetToken(INVALID) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("u"), str) or not payload["u"]:
        raise InvalidWidgetToken(INVALID)
    return payload["u"]


def click_source(value: str | None) -> str:
    """The ``ReferralClick.source`` a link's ``?via=`` names; anything unknown counts as ``link``."""
    return value if value in CLICK_SOURCES else "link"


def offer(campaign: str | None = None) -> dict:
    """What referral mode says to everyone: title, offer text and the reward in words.

    The text is the campaign's entry in ``ADVOCACY_CAMPAIGN_OFFERS``, else ``ADVOCACY_OFFER_TEXT``; the
    reward is described from the campaign's reward rule. Kept per process for each version of the
    rules (the parsed rules object, made anew when the setting changes) and of the texts; treat the
    answer as read-only.
    """
    rules = current_rules()
    key = (
        campaign,
        id(rules),
        config_value("PROGRAM_NAME"),
        config_value("OFFER_TEXT"),
        config_value("CAMPAIGN_OFFERS").get(campaign or ""),
    )
    cache = current_portal.state().cache.setdefault("widget_offers", {})
    cached = cache.get(key)
    if cached is not None and cached[0] is rules:
        return cached[1]
    if len(cache) >= 256:
        cache.clear()
    made = _offer(rules, campaign)
    cache[key] = (rules, made)
    return made


def _offer(rules, campaign: str | None) -> dict:
    # The same sentences as the referral page's, from offer_text: one wording of the rule everywhere.
    rule = rules.for_campaign(campaign)
    reward = offer_text.advocate_offer(rule)
    friend = offer_text.friend_offer(rule, to_friend=False)
    if friend is not None:
        reward += " " + friend
    return {
        "title": config_value("PROGRAM_NAME"),
        "text": config_value("CAMPAIGN_OFFERS").get(campaign or "", config_value("OFFER_TEXT")),
        "reward": reward,
        "campaign": campaign,
    }


def signin_url() -> str:
    """Where the call to action of anonymous visitors leads: ``ADVOCACY_WIDGET_SIGNIN_URL``, or the
    customer's referral page, which sends visitors who are not signed in to the host's login page."""
    return config_value("WIDGET_SIGNIN_URL") or url_for("advocacy_referrals.page", _external=True)


@dataclass(frozen=True)
class ReferralView:
    """What referral mode shows: the offer for everyone, and the customer's own link when the identity
    token is valid (``identity`` says what became of the token)."""

    identity: str
    body: dict


def referral_view(token: str | None, campaign: str | None = None) -> ReferralView:
    """Referral mode's data for an identity token (or none).

    A valid token of a customer the plugin knows adds their link (marked ``?via=widget``, so clicks
    on it are counted as coming through the widget), its share links and its QR code. The advocate
    must exist already (``widget_token`` creates it): a token outliving its customer -- deleted since
    -- gets the anonymous view, as do forged and expired ones.

    :raises ValueError: on an invalid campaign slug.
    """
    campaign = validate_campaign(campaign)
    body = {"offer": offer(campaign), "signin_url": signin_url(), "advocate": None}
    if not token:
        return ReferralView(NO_TOKEN, body)
    try:
        user_id = read_token(token)
    except InvalidWidgetToken as error:
        return ReferralView(error.reason, body)
    advocate = referral_service.get_advocate(user_id)
    if advocate is None:
        return ReferralView(UNKNOWN_CUSTOMER, body)
    link = widget_link(advocate, campaign)
    body["advocate"] = {
        "link": link,
        "share": sharing.share_links(link, offer_text.offer_for(campaign).share),
        "qr": qr_path(link, advocate.id),
    }
    return ReferralView(VALID, body)


def widget_link(advocate, campaign: str | None = None) -> str:
    """The advocate's link as the widget hands it out: absolute, marked ``?via=widget``.

    :raises ValueError: on an invalid campaign slug.
    """
    return url_for(
        "advocacy_links.follow",
        token=referral_service.link_token(advocate, campaign),
        via="widget",
        _external=True,
    )


def link_digest(link: str) -> str:
    """The key a link's QR code is kept under: the SHA-256 (hex) of the full link."""
    return hashlib.sha256(link.encode()).hexdigest()


def qr_path(link: str, advocate_id: int | None = None) -> dict:
    """The link's QR code as ``{"size": modules, "path": "<SVG path data>"}``: one path the widget
    draws itself, so a page's Content-Security-Policy needs no ``img-src`` for it.

    Drawn once per link (several milliseconds) and kept: in this process's memory and, for an
    advocate's link (``advocate_id`` given), in ``advocacy_link_qr_codes``, so other processes and
    restarts read it back instead of drawing it again. A new row is written in the caller's
    transaction. Treat the answer as read-only.
    """
    cached = _drawn.get(link)
    if cached is not None:
        return cached
    if advocate_id is None:
        found = _draw(link)
    else:
        digest = link_digest(link)
        session = get_session()
        row = session.execute(
            select(LinkQrCode.size, LinkQrCode.path).where(LinkQrCode.link_digest == digest)
        ).first()
        if row is not None:
            found = {"size": row.size, "path": row.path}
        else:
            found = _draw(link)
            session.execute(
                dialect_insert(LinkQrCode)
                .values(
                    link_digest=digest,
                    advocate_id=advocate_id,
                    size=found["size"],
                    path=found["path"],
                    created_at=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=["link_digest"])
            )
    with _drawn_lock:
        while len(_drawn) >= QR_MEMORY_ENTRIES:
            _drawn.pop(next(iter(_drawn)))
        _drawn[link] = found
    return found


def prepare_qr(advocate) -> None:
    """Draw and keep the QR code of the advocate's widget link now, if it is not kept yet, so the
    widget's first view of it reads it instead of drawing it. Needs a request context (or
    ``SERVER_NAME``) to build the absolute link; without one it does nothing."""
    if not has_request_context() and not current_app.config.get("SERVER_NAME"):
        return
    qr_path(widget_link(advocate), advocate.id)


#: QR codes kept in this process's memory, by link; the oldest go first. A retired link's entry
#: is harmless: the link is never built again.
QR_MEMORY_ENTRIES = 1024
_drawn: dict[str, dict] = {}
_drawn_lock = threading.Lock()


def _draw(link: str) -> dict:
    code = segno.make(link, error="m")
    parts = []
    for y, row in enumerate(code.matrix_iter(scale=1, border=0)):
        x = 0
        for dark, run in groupby(row):
            length = len(list(run))
            if dark:
                parts.append(f"M{x} {y}h{length}v1h-{length}z")
            x += length
    width, _height = code.symbol_size(scale=1, border=0)
    return {"size": width, "path": "".join(parts)}


# -- the script ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Script:
    """The widget's JavaScript as served: the text, its gzip encoding and a short content hash."""

    body: bytes
    gzipped: bytes
    digest: str


_INDENT = re.compile(rb"^[ \t]+", re.MULTILINE)
_COMMENT_LINE = re.compile(rb"^//.*\n", re.MULTILINE)


@lru_cache(maxsize=1)
def script() -> Script:
    """The widget script, read once per process. Indentation and whole-line ``//`` comments are dropped
    (the source has no multi-line strings, so no meaning changes); no other build step."""
    source = (static_dir() / "advocacy-widget.js").read_bytes()
    body = _COMMENT_LINE.sub(b"", _INDENT.sub(b"", source))
    return Script(
        body=body,
        gzipped=gzip.compress(body, compresslevel=9, mtime=0),
        digest=hashlib.sha256(body).hexdigest()[:12],
    )


def valid_origin(origin: str) -> bool:
    """Whether ``origin`` is written as a browser sends it: ``scheme://host[:port]``, nothing more."""
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not parts.path
        and not parts.query
        and not parts.fragment
        and "@" not in parts.netloc
        and origin == f"{parts.scheme}://{parts.netloc}".lower()
    )
