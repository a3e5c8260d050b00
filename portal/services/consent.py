"""Consent before the attribution cookie (``ADVOCACY_ATTRIBUTION_CONSENT``).

Without the visitor's consent a click is counted without any identifier (no IP hash, no Referer host,
no cookie), and the landing URL carries a signed ``advocacy_referral`` naming the advocate, campaign and
click. When the visitor agrees, the host's consent banner posts that value to the consent endpoint,
which sets the attribution cookie then, so the advocate is still credited.
"""

from __future__ import annotations

from urllib.parse import parse_qsl
from urllib.parse import urlencode
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from itsdangerous import BadData
from itsdangerous import URLSafeTimedSerializer

from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.models import ReferralClick
from advocacy_portal.models import utcnow
from advocacy_portal.proxies import get_portal
from advocacy_portal.services.links import CAMPAIGN_PATTERN
from advocacy_portal.services.links import CODE_PATTERN
from advocacy_portal.services.links import MAX_TOKEN_LENGTH
from advocacy_portal.services.links import secret_keys
from advocacy_portal.services.visitors import device_class


def attribution_allowed() -> bool:
    """Whether the attribution cookie may be set for the current request's visitor."""
    if config_value("ATTRIBUTION_CONSENT") == "not_required":
        return True
    check = get_portal().attribution_consent_callback
    return bool(check()) if check is not None else False


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_keys(), salt=config_value("CONSENT_REF_SALT"))


def make_ref(advocate_code: str, campaign: str | None, click_id: int | None) -> str:
    """The signed value the landing URL carries instead of a cookie."""
    return _serializer().dumps([advocate_code, campaign, click_id])


def read_ref(value) -> tuple[str, str | None, int | None] | None:
    """``(code, campaign, click_id)`` of a valid, unexpired ref, else ``None``."""
    if not isinstance(value, str) or not value or len(value) > MAX_TOKEN_LENGTH:
        return None
    try:
        payload = _serializer().loads(value, max_age=int(config_value("ATTRIBUTION_DAYS") * 86400))
    except (BadData, UnicodeError, ValueError):
        return None
    if not isinstance(payload, list) or len(payload) != 3:
        return None
    code, campaign, click_id = payload
    if not isinstance(code, str) or not CODE_PATTERN.fullmatch(code):
        return None
    if campaign is not None and (not isinstance(campaign, str) or not CAMPAIGN_PATTERN.fullmatch(campaign)):
        return None
    if click_id is not None and (type(click_id) is not int or click_id <= 0):
        return None
    return code, campaign, click_id


def record_anonymous_click(advocate_id: int, campaign: str | None, user_agent: str | None,
                           source: str = "link") -> int | None:
    """Count a click of a visitor who has not consented: no IP hash, no Referer, nothing to tell
    visitors apart (so no de-duplication either). Bots are not counted. Returns the click id."""
    device = device_class(user_agent, config_value("COUNT_AUTOMATED_CLICKS"))
    if device == "bot":
        return None
    click = ReferralClick(advocate_id=advocate_id, campaign=campaign, clicked_at=utcnow(), referrer_host=None,
                          device_class=device, ip_hash="", source=source)
    session = get_session()
    session.add(click)
    session.flush()
    return click.id


def with_ref(destination: str, ref: str) -> str:
    """``destination`` with the ref added to its query."""
    parts = urlsplit(destination)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.append((config_value("CONSENT_REF_PARAM"), ref))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))
