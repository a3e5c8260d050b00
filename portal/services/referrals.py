"""Advocates, clicks and signup attribution: the writes, and the lookups they need.

Visitor parsing (User-Agent, IP hash, Referer host) is in :mod:`advocacy_portal.services.visitors`,
the advocate page's counts in :mod:`advocacy_portal.services.referral_queries`.

Every function here works on the host's Flask-SQLAlchemy session and flushes; the caller commits.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update

from advocacy_portal import signals
from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.db import insert_or_ignore
from advocacy_portal.models import Advocate
from advocacy_portal.models import LinkQrCode
from advocacy_portal.models import Referral
from advocacy_portal.models import ReferralClick
from advocacy_portal.models import utcnow
from advocacy_portal.proxies import get_portal
from advocacy_portal.services import click_writer as click_writer_module
from advocacy_portal.services.click_writer import ClickWriter
from advocacy_portal.services.links import AttributionClaim
from advocacy_portal.services.links import InvalidLink
from advocacy_portal.services import outgoing_webhooks
from advocacy_portal.services import webhook_events
from advocacy_portal.services.links import LinkClaim
from advocacy_portal.services.links import dump_attribution
from advocacy_portal.services.links import make_link_token
from advocacy_portal.services.links import read_link_token
from advocacy_portal.services.links import validate_campaign
from advocacy_portal.services.visitors import bot_reason
from advocacy_portal.services.visitors import device_class
from advocacy_portal.services.visitors import hash_ip  # noqa: F401 - re-exported (the hash a stored click carries)
from advocacy_portal.services.visitors import hash_visitor
from advocacy_portal.services.visitors import referrer_host


log = logging.getLogger(__name__)


#: Domains whose mailboxes ignore dots in the local part.
_DOTLESS_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


def normalize_email(email: str | None) -> str | None:
    """The form of an address used to spot one person behind two spellings.

    Lower-cases it, drops a ``+tag`` from the local part, drops dots for Gmail, and maps
    ``googlemail.com`` to ``gmail.com``. Returns ``None`` for anything that is not ``local@domain``.
    """
    if not email or not isinstance(email, str):
        return None
    email = email.strip().lower()
    local, sep, domain = email.rpartition("@")
    if not sep or not local or not domain:
        return None
    local = local.split("+", 1)[0]
    domain = domain.rstrip(".")
    if domain in _DOTLESS_DOMAINS:
        local = local.replace(".", "")
        domain = "gmail.com"
    if not local:
        return None
    return f"{local}@{domain}"


def new_advocate_code() -> str:
    """A fresh random public code for an advocate's links (8 URL-safe characters)."""
    return secrets.token_urlsafe(6)


def get_advocate(user_id) -> Advocate | None:
    """The advocate row of a host user id, or ``None``."""
    return get_session().scalar(select(Advocate).where(Advocate.user_id == str(user_id)))


def get_advocate_by_code(code: str) -> Advocate | None:
    """The advocate a link code names, or ``None``."""
    return get_session().scalar(select(Advocate).where(Advocate.code == code))


def ensure_advocate(user_id, email: str | None) -> Advocate:
    """Return the advocate of a host user, creating it on first use; keep its email current.

    Safe when two requests of the same user race: the loser of the insert reads the winner's row.

    :param user_id: the host's user id (any type; stored as text).
    :param email: the user's email, used to refuse self-referrals.
    """
    session = get_session()
    user_id = str(user_id)
    advocate = get_advocate(user_id)
    if advocate is None:
        for _attempt in range(5):
            code = new_advocate_code()
            if get_advocate_by_code(code) is not None:
                continue  # 48 random bits collided: draw again
            now = utcnow()
            insert_or_ignore(
                Advocate,
                {
                    "user_id": user_id,
                    "email": email,
                    "email_normalized": normalize_email(email),
                    "code": code,
                    "link_issued_at": now,
                    "created_at": now,
                },
                ["user_id"],
            )
            # Whether this call or a concurrent one inserted it, the row exists now.
            advocate = get_advocate(user_id)
            break
        else:  # pragma: no cover
            raise RuntimeError("could not allocate an advocate code")
    if email is not None and advocate.email != email:
        advocate.email = email
        advocate.email_normalized = normalize_email(email)
        session.flush()
    return advocate


def link_token(advocate: Advocate, campaign: str | None = None) -> str:
    """The advocate's stable referral token, reissued once half of ``LINK_MAX_AGE_DAYS`` has passed.

    :raises ValueError: on an invalid campaign slug.
    """
    max_age_days = config_value("LINK_MAX_AGE_DAYS")
    if max_age_days is not None:
        if utcnow() - advocate.link_issued_at > timedelta(days=max_age_days / 2):
            advocate.link_issued_at = utcnow()
            get_session().flush()
    return make_link_token(advocate.code, advocate.link_issued_at, campaign)


def reset_link(advocate: Advocate) -> Advocate:
    """Retire every link the advocate has shared so far (they answer 404) and issue a new one.

    The retired code leaves this process's link cache at once; other processes drop it within
    ``ADVOCACY_LINK_CACHE_SECONDS``.
    """
    forget_link_owner(advocate.code)
    # The retired links' QR codes are never shown again.
    get_session().execute(delete(LinkQrCode).where(LinkQrCode.advocate_id == advocate.id))
    advocate.code = new_advocate_code()
    advocate.link_issued_at = utcnow()
    get_session().flush()
    return advocate


@dataclass(frozen=True)
class LinkOwner:
    """The few columns of an advocate that following a link needs (read without the ORM: the
    redirect is the plugin's hottest path)."""

    id: int
    user_id: str
    code: str


# Built once: the redirect runs these for every click.
_advocates = Advocate.__table__


_LINK_OWNER_BY_CODE = select(_advocates.c.id, _advocates.c.user_id, _advocates.c.code).where(
    _advocates.c.code == bindparam("code")
)


#: Key of the code → (LinkOwner, expiry) cache in the app state's cache.
_LINK_CACHE = "link_owners"
#: Most link codes one process keeps (a viral day has few hot links; the cache is emptied when full).
_LINK_CACHE_SIZE = 10_000


def _link_cache() -> dict:
    return get_portal().state().cache.setdefault(_LINK_CACHE, {})


def forget_link_owner(code: str) -> None:
    """Drop a link code from this process's cache (its link was reset or its advocate deleted)."""
    _link_cache().pop(code, None)


def resolve_link(token: str) -> tuple[LinkOwner, LinkClaim]:
    """The advocate and campaign a referral token names. Each process keeps the advocate of a code
    for ``ADVOCACY_LINK_CACHE_SECONDS``.

    :raises InvalidLink: for a bad token, or one naming an advocate that no longer exists (or whose
        links were reset).
    """
    claim = read_link_token(token)
    ttl = config_value("LINK_CACHE_SECONDS")
    cache = _link_cache() if ttl else None
    now = time.monotonic()
    if cache is not None:
        cached = cache.get(claim.advocate_code)
        if cached is not None and cached[1] > now:
            return cached[0], claim
    row = (
        get_session()
        .connection(bind_arguments={"mapper": Advocate.__mapper__})
        .execute(_LINK_OWNER_BY_CODE, {"code": claim.advocate_code})
        .first()
    )
    if row is None:
        raise InvalidLink("unknown_advocate")
    owner = LinkOwner(row.id, row.user_id, row.code)
    if cache is not None:
        if len(cache) >= _LINK_CACHE_SIZE:
            cache.clear()
        cache[owner.code] = (owner, now + ttl)
    return owner, claim


# -- clicks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Visit:
    """What the plugin may keep of a request that followed a referral link."""

    ip: str | None
    user_agent: str | None
    referrer: str | None
    source: str = "link"
    #: The host user id of a logged-in visitor, if any.
    user_id: str | None = None
    #: The ``Accept-Language`` header: with the user agent and the network, the device cluster.
    accept_language: str | None = None


#: Outcomes of :func:`record_click`.
COUNTED = "counted"


BOT = "bot"


REPEAT = "repeat"


OWN_LINK = "own_link"


UNRECORDED = "unrecorded"


@dataclass(frozen=True)
class ClickOutcome:
    """What :func:`record_click` did: ``outcome`` and the id of the stored click when it was counted."""

    outcome: str
    click_id: int | None = None
    #: Why the click was not counted, in words for the debug log.
    reason: str | None = None


_clicks = ReferralClick.__table__


_INSERT_CLICK = _clicks.insert().returning(_clicks.c.id)


def record_click(
    advocate: Advocate | LinkOwner,
    campaign: str | None,
    visit: Visit,
    now: datetime | None = None,
    writer: ClickWriter | None = None,
) -> ClickOutcome:
    """Count one click on an advocate's link.

    Stores nothing for a bot (link previews of chat apps fetch every link they see: ``bot``), for the
    advocate clicking their own link while logged in (``own_link``), nor for a repeat of the same
    visitor -- same hashed IP and device class -- within ``ADVOCACY_CLICK_DEDUPE_SECONDS``
    (``repeat``), so reloading or spamming a link does not inflate the count.

    :param writer: a :class:`~advocacy_portal.services.click_writer.ClickWriter` to hand the row to
        (written within ``ADVOCACY_CLICK_FLUSH_MS``, its id known at once); without one the row is
        inserted in the session's transaction, which the caller commits.
    """
    now = now or utcnow()
    count_automated = config_value("COUNT_AUTOMATED_CLICKS")
    device = device_class(visit.user_agent, count_automated)
    if device == "bot":
        return ClickOutcome(BOT, reason=bot_reason(visit.user_agent, count_automated))
    if visit.user_id is not None and str(visit.user_id) == advocate.user_id:
        return ClickOutcome(OWN_LINK, reason="the advocate clicked their own link while logged in")
    ip_hash, device_hash = hash_visitor(visit.ip, visit.user_agent, visit.accept_language)
    session = get_session()
    # Core statements on the session's connection and transaction: no ORM objects to build, flush
    # and reload on this hot path; the caller's commit covers them like any other change. (Asked for
    # only when needed: a batched click without de-duplication touches no connection at all.)
    def connection():
        return session.connection(bind_arguments={"mapper": ReferralClick.__mapper__})

    window = config_value("CLICK_DEDUPE_SECONDS")
    if window:
        since = now - timedelta(seconds=window)
        if writer is not None and writer.unwritten_repeat(advocate.id, ip_hash, device, since):
            return ClickOutcome(REPEAT, reason=f"the same visitor (hashed IP and device) clicked within "
                                               f"ADVOCACY_CLICK_DEDUPE_SECONDS ({window} s)")
        repeat = connection().execute(
            click_writer_module.REPEAT_CLICK,  # the writer runs it again at flush time
            {
                "advocate_id": advocate.id,
                "ip_hash": ip_hash,
                "device_class": device,
                "since": since,
            },
        ).first()
        if repeat is not None:
            return ClickOutcome(REPEAT, reason=f"the same visitor (hashed IP and device) clicked within "
                                               f"ADVOCACY_CLICK_DEDUPE_SECONDS ({window} s)")
    values = {
        "advocate_id": advocate.id,
        "campaign": validate_campaign(campaign),
        "clicked_at": now,
        "referrer_host": referrer_host(visit.referrer),
        "device_class": device,
        "ip_hash": ip_hash,
        "device_hash": device_hash,
        "source": visit.source,
    }
    if writer is not None:
        # The writer sends link_clicked once the row is written.
        return ClickOutcome(COUNTED, writer.add(values))
    click_id = connection().execute(_INSERT_CLICK, values).scalar_one()
    if signals.link_clicked.receivers:
        signals.send_after_commit(signals.link_clicked, click=session.get(ReferralClick, click_id))
    return ClickOutcome(COUNTED, click_id)


def forget_ip_hashes(now: datetime | None = None) -> int:
    """Blank the hashed IP and device of clicks older than the de-duplication window, which is all
    most clicks keep them for; a click that brought a signup keeps them for the fraud rules until
    ``ADVOCACY_FRAUD_HASH_RETENTION_DAYS``. Returns how many clicks were cleared. Run it from cron
    (``flask advocacy privacy purge``)."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=config_value("CLICK_DEDUPE_SECONDS"))
    fraud_cutoff = now - timedelta(days=config_value("FRAUD_HASH_RETENTION_DAYS"))
    signed_up = select(Referral.click_id).where(Referral.click_id.is_not(None))
    result = get_session().execute(
        update(ReferralClick)
        .where(
            ReferralClick.clicked_at < cutoff,
            (ReferralClick.ip_hash != "") | (ReferralClick.device_hash != ""),
            (ReferralClick.clicked_at < fraud_cutoff) | ReferralClick.id.not_in(signed_up),
        )
        .values(ip_hash="", device_hash="")
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def next_attribution_cookie(
    held: AttributionClaim | None, advocate_code: str, campaign: str | None, outcome: ClickOutcome
) -> str | None:
    """The attribution cookie value to set after a click, or ``None`` to leave the visitor's as it is.

    Bots and advocates following their own link get none. Under ``first_click`` a valid claim already
    held is kept until it expires, unless its advocate's link was retired; under ``last_click`` the
    newest click wins, except that a repeat of the same advocate's link keeps the original click time
    (so a reload cannot stretch the attribution window).
    """
    if outcome.outcome in (BOT, OWN_LINK):
        return None
    if held is not None:
        if config_value("ATTRIBUTION_MODEL") == "first_click":
            if held.advocate_code == advocate_code or get_advocate_by_code(held.advocate_code):
                return None  # the first claim holds while its advocate's link is alive
        if outcome.outcome == REPEAT and held.advocate_code == advocate_code:
            return None
    return dump_attribution(advocate_code, campaign, outcome.click_id)


# -- attribution --------------------------------------------------------------------------------


#: Outcomes of :func:`attribute_signup`.
ATTRIBUTED = "attributed"


NO_CLAIM = "no_claim"


UNKNOWN_ADVOCATE = "unknown_advocate"


ALREADY_ATTRIBUTED = "already_attributed"


SELF_REFERRAL = "self_referral"


@dataclass(frozen=True)
class AttributionResult:
    """What :func:`attribute_signup` did: ``outcome`` and the referral row, if there is one."""

    outcome: str
    referral: Referral | None = None

    @property
    def attributed(self) -> bool:
        return self.outcome == ATTRIBUTED


def get_referral_of_friend(friend_user_id) -> Referral | None:
    """The referral that brought a host user, or ``None``."""
    return get_session().scalar(
        select(Referral).where(Referral.friend_user_id == str(friend_user_id))
    )


def attribute_signup(
    friend_user_id, friend_email: str | None, claim: AttributionClaim | None
) -> AttributionResult:
    """Credit a new user's signup to the advocate whose link they followed, exactly once.

    A friend is attributed at most once, ever: a second call (or a concurrent one) returns
    ``already_attributed`` with the first referral. A self-referral -- the advocate's own user id or
    normalised email -- is stored as ``flagged`` (reason ``self_referral``) and never rewarded.

    :param friend_user_id: the new user's host id.
    :param friend_email: the new user's email.
    :param claim: the visitor's attribution cookie, read by :func:`~advocacy_portal.services.links.read_attribution`.
    """
    if claim is None:
        return AttributionResult(NO_CLAIM)
    friend_user_id = str(friend_user_id)
    existing = get_referral_of_friend(friend_user_id)
    if existing is not None:
        return AttributionResult(ALREADY_ATTRIBUTED, existing)
    advocate = get_advocate_by_code(claim.advocate_code)
    if advocate is None:
        return AttributionResult(UNKNOWN_ADVOCATE)

    friend_email_normalized = normalize_email(friend_email)
    is_self = advocate.user_id == friend_user_id or (
        friend_email_normalized is not None
        and friend_email_normalized == advocate.email_normalized
    )
    click_id = claim.click_id
    if click_id is not None:
        # The cookie may outlive the click row, or name another advocate's click if forged by a
        # holder of the key; keep the link only when it is true.
        click_advocate = get_session().scalar(
            select(ReferralClick.advocate_id).where(ReferralClick.id == click_id)
        )
        if click_advocate != advocate.id:
            click_id = None
    values = {
        "advocate_id": advocate.id,
        "friend_user_id": friend_user_id,
        "friend_email_normalized": friend_email_normalized,
        "campaign": claim.campaign,
        "click_id": click_id,
        "status": "flagged" if is_self else "signed_up",
        "flag_reason": SELF_REFERRAL if is_self else None,
        "clicked_at": claim.clicked_at,
        "created_at": utcnow(),
    }
    referral_id = insert_or_ignore(Referral, values, ["friend_user_id"])
    if referral_id is None:
        # A concurrent request attributed this friend first.
        return AttributionResult(ALREADY_ATTRIBUTED, get_referral_of_friend(friend_user_id))
    referral = get_session().get(Referral, referral_id)
    if is_self:
        log.warning(
            "Refused self-referral: advocate %s, friend user %s", advocate.id, friend_user_id
        )
        signals.send_after_commit(signals.referral_flagged, referral=referral, reason=SELF_REFERRAL)
        return AttributionResult(SELF_REFERRAL, referral)
    signals.send_after_commit(signals.referral_signed_up, referral=referral)
    outgoing_webhooks.emit("referral.signed_up", webhook_events.referral_data(referral))
    return AttributionResult(ATTRIBUTED, referral)


def mark_friend_paid(friend_user_id, paid_at: datetime | None = None) -> Referral | None:
    """Record a referred friend's first payment (only the first one counts; later calls keep it).

    Returns the friend's referral, or ``None`` when the user came through no link.
    """
    referral = get_referral_of_friend(friend_user_id)
    if referral is not None and referral.first_paid_at is None:
        referral.first_paid_at = paid_at or utcnow()
        get_session().flush()
    return referral
