"""Trust labels of testimonials ("Verified customer", "Incentivised") and the revenue they bring.

Each check lives in one function, so the payments integration can swap its query in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from portal.config import config_value
from portal.db import get_session
from portal.models import Advocate
from portal.models import Referral


@dataclass(frozen=True)
class TrustLabels:
    """The labels a testimonial carries, and why it is incentivised (shown as the disclosure)."""

    verified_customer: bool
    incentivised: bool
    incentive_reason: str | None


def is_verified_customer(user_id) -> bool:
    """Whether a host user has paid: the host's ``verified_customer_check`` hook says so, or they are
    a referred friend whose first payment is recorded (:func:`portal.services.referrals.mark_friend_paid`).
    """
    from portal.extension import get_portal

    hook = get_portal()._verified_customer_check
    if hook is not None and hook(str(user_id)):
        return True
    paid = get_session().scalar(
        select(Referral.id).where(
            Referral.friend_user_id == str(user_id),
            Referral.status == "signed_up",
            Referral.first_paid_at.is_not(None),
        )
    )
    return paid is not None


def incentive_for(user_id) -> str | None:
    """Why a testimonial by this user counts as incentivised (FTC rule), or ``None``.

    A reward promised for testimonials (``ADVOCACY_TESTIMONIAL_INCENTIVE``) labels every submission;
    otherwise an author who already earned referral rewards (an advocate with a paying referred friend)
    has a material connection to the business.
    """
    promised = config_value("TESTIMONIAL_INCENTIVE")
    if promised:
        return f"Promised a reward for writing it: {promised}"[:255]
    rewarded = get_session().scalar(
        select(Referral.id)
        .join(Advocate, Advocate.id == Referral.advocate_id)
        .where(
            Advocate.user_id == str(user_id),
            Referral.status == "signed_up",
            Referral.first_paid_at.is_not(None),
        )
        .limit(1)
    )
    if rewarded is not None:
        return "The author has earned referral rewards from us"
    return None


def labels_for(user_id) -> TrustLabels:
    """Both labels of an author, as of now."""
    reason = incentive_for(user_id)
    return TrustLabels(
        verified_customer=is_verified_customer(user_id),
        incentivised=reason is not None,
        incentive_reason=reason,
    )


def revenue_by_campaign(campaigns) -> dict[str, dict[str, int]]:
    """Revenue of paying friends who came through links of these campaigns:
    ``{campaign: {currency: amount in minor units}}``.

    The referral records hold no amounts; until payments are wired in, this returns an empty mapping
    (no campaign has recorded revenue).
    """
    return {}
