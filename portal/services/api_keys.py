"""API keys of the back-office JSON API: made, checked, marked as used and revoked.

A key is ``ADVOCACY_API_KEY_PREFIX`` (``adv_live_``) and 43 URL-safe random characters (256 bits).
Only its SHA-256 is stored: a key shown once cannot be read back, from the page or from the database.
A fast hash is the right one here (as GitHub's and Stripe's tokens): the secret is random, not a
password, so nobody can guess it by hashing candidates.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.models import ApiKey
from advocacy_portal.models import utcnow
from advocacy_portal.services import audit

#: Every scope a key may have, with what it lets the key read.
SCOPES: dict[str, str] = {
    "testimonials:read": "Testimonials and reviews in every state, with their authors",
    "advocates:read": "Advocates, with their results and balances",
    "referrals:read": "Referred friends (their user ids) and their state",
    "conversions:read": "Payments seen through Stripe, attributed or not",
    "rewards:read": "Rewards earned by advocates",
    "ledger:read": "Entries of the rewards ledger",
}

#: Characters of the key after its prefix shown on the staff page (enough to tell keys apart).
VISIBLE_CHARACTERS = 4
_SECRET_BYTES = 32
_KEY_PATTERN = re.compile(r"[A-Za-z0-9_]{2,24}[A-Za-z0-9_-]{43}")


class ApiKeyError(Exception):
    """A presented key does not authenticate. ``code``: ``missing``, ``malformed``, ``unknown`` or
    ``revoked``."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class NewKey:
    """A key just made: the row, and the secret, which exists nowhere else."""

    key: ApiKey
    secret: str


def hash_secret(secret: str) -> str:
    """Hex SHA-256 of a key's secret, as stored in :attr:`ApiKey.token_hash`."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def looks_like_key(secret: str) -> bool:
    """Whether ``secret`` has the shape of a key: a prefix (this site's, or one configured before) and
    43 URL-safe characters. Anything else is refused before the database is asked."""
    return bool(_KEY_PATTERN.fullmatch(secret))


def create_key(name: str, scopes: list[str], actor: Any) -> NewKey:
    """Make a key with ``scopes``, recorded in the audit log (flushed; the caller commits).

    :param name: what the key is for, as staff will recognise it ("Finance export").
    :param scopes: names from :data:`SCOPES`.
    :param actor: the staff member (a :class:`advocacy_portal.Customer`).
    :raises ValueError: for an empty name, no scope or an unknown scope.
    """
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValueError("Give the key a name of 1 to 100 characters.")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"Unknown scope(s): {', '.join(unknown)}")
    if not scopes:
        raise ValueError("Choose at least one scope.")
    ordered = [scope for scope in SCOPES if scope in scopes]
    secret = config_value("API_KEY_PREFIX") + secrets.token_urlsafe(_SECRET_BYTES)
    key = ApiKey(
        name=name,
        display_prefix=secret[: len(config_value("API_KEY_PREFIX")) + VISIBLE_CHARACTERS],
        token_hash=hash_secret(secret),
        scopes=ordered,
        created_by_user_id=None if actor is None else str(actor.id),
    )
    session = get_session()
    session.add(key)
    session.flush()
    audit.record_action(
        actor, "api_key.create", "api_key", key.id,
        after={"name": key.name, "prefix": key.display_prefix, "scopes": ordered},
    )
    return NewKey(key=key, secret=secret)


def revoke_key(key: ApiKey, actor: Any) -> bool:
    """Revoke ``key`` for good, recorded in the audit log (flushed). ``False`` if it was revoked already."""
    if key.revoked_at is not None:
        return False
    key.revoked_at = utcnow()
    key.revoked_by_user_id = None if actor is None else str(actor.id)
    get_session().flush()
    audit.record_action(
        actor, "api_key.revoke", "api_key", key.id,
        before={"revoked": False}, after={"revoked": True, "name": key.name, "prefix": key.display_prefix},
    )
    return True


def authenticate(secret: str | None) -> ApiKey:
    """The active key whose secret is ``secret``.

    :raises ApiKeyError: when there is no secret, it is not shaped like a key, no key has it, or its
        key is revoked.
    """
    if not secret:
        raise ApiKeyError("missing", "Send an API key: Authorization: Bearer <key>.")
    if not looks_like_key(secret):
        raise ApiKeyError("malformed", "This is not an API key of this site.")
    digest = hash_secret(secret)
    key = get_session().scalar(sa.select(ApiKey).where(ApiKey.token_hash == digest))
    # The lookup is by the hash; the comparison of the stored hash is constant-time all the same.
    if key is None or not hmac.compare_digest(key.token_hash, digest):
        raise ApiKeyError("unknown", "This API key is not known: it may have been mistyped.")
    if key.revoked_at is not None:
        raise ApiKeyError("revoked", "This API key has been revoked.")
    return key


def mark_used(key: ApiKey, now: datetime | None = None) -> bool:
    """Record that ``key`` was just used, unless that was recorded less than
    ``ADVOCACY_API_KEY_LAST_USED_INTERVAL_SECONDS`` ago. One conditional UPDATE, so concurrent
    requests write once. Flushes; returns whether it wrote."""
    now = now or utcnow()
    threshold = now - timedelta(seconds=config_value("API_KEY_LAST_USED_INTERVAL_SECONDS"))
    if key.last_used_at is not None and key.last_used_at > threshold:
        return False
    session = get_session()
    result = session.execute(
        sa.update(ApiKey)
        .where(ApiKey.id == key.id)
        .where(sa.or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= threshold))
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:
        key.last_used_at = now
        session.flush()
    return bool(result.rowcount)


def list_keys() -> list[ApiKey]:
    """Every key, active ones first, newest first."""
    return list(
        get_session().scalars(
            sa.select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.created_at.desc(), ApiKey.id.desc())
        )
    )


def get_key(key_id: int) -> ApiKey | None:
    return get_session().get(ApiKey, key_id)
