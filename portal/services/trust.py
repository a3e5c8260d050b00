"""Trust labels of testimonials ("Verified customer", "Incentivised") and the revenue they bring.

"Verified customer" comes from the payments Stripe reported (:class:`advocacy_portal.models.Conversion`);
"Incentivised" from rewards promised for testimonials or earned through referrals
(:class:`advocacy_portal.models.Reward`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import select

from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.models import Advocate
from advocacy_portal.models import Conversion
from advocacy_portal.models import Referral
from advocacy_portal.models import Reward


@dataclass(frozen=True)
class TrustLabels:
    """The labels a testimonial carries, and why it is incentivised (shown as the disclosure)."""

    verified_customer: bool
    incentivised: bool
    incentive_reason: str | None


def is_verified_customer(user_id) -> bool:
    """Whether a host user has paid: the host's ``verified_customer_check`` hook says so, Stripe
    reported a payment of theirs (a :class:`~advocacy_portal.models.Conversion` with ``paid_at``), or they are a
    referred friend whose first payment is recorded (:func:`advocacy_portal.services.referrals.mark_friend_paid`).
    """
    # The extension imports the services, so it is looked up when called (until a current_portal proxy).
    from advocacy_portal.extension import get_portal

    hook = get_portal()._verified_customer_check
    if hook is not None and hook(str(user_id)):
        return True
    session = get_session()
    paid = session.scalar(
        select(Conversion.id)
        .where(Conversion.customer_user_id == str(user_id), Conversion.paid_at.is_not(None))
        .limit(1)
    )
    if paid is not None:
        return True
    paid = session.scalar(
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
    session = get_session()
    rewarded = session.scalar(
        select(Reward.id)
        .join(Advocate, Advocate.id == Reward.advocate_id)
        .where(Advocate.user_id == str(user_id), Reward.amount_minor > 0)
        .limit(1)
    )
    if rewarded is None:
        # A paying referred friend: a reward is earned, or promised by the program's rules.
        rewarded = session.scalar(
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


def revenue_by_campaign(campaigns, authors: dict[str, str] | None = None) -> dict[str, dict[str, int]]:
    """Net revenue (paid, less refunds; nothing for an open or lost dispute) of payments by friends who
    came through links of these campaigns: ``{campaign: {currency: amount in minor units}}``.

    :param authors: ``{campaign: host user id}``: count a campaign only on that user's own links (a
        testimonial's campaign ``t<id>`` belongs to its author).
    """
    campaigns = list(campaigns)
    if not campaigns:
        return {}
    net = case(
        (Conversion.dispute_status.in_(("open", "lost")), 0),
        else_=Conversion.amount_minor - Conversion.refunded_minor,
    )
    query = (
        select(Conversion.campaign, Conversion.currency, func.sum(net))
        .where(
            Conversion.campaign.in_(campaigns),
            Conversion.paid_at.is_not(None),
            Conversion.amount_minor.is_not(None),
        )
        .group_by(Conversion.campaign, Conversion.currency)
    )
    if authors:
        query = query.join(Advocate, Advocate.id == Conversion.advocate_id).where(
            Advocate.user_id == case(authors, value=Conversion.campaign)
        )
    revenue: dict[str, dict[str, int]] = {}
    for campaign, currency, amount in get_session().execute(query):
        revenue.setdefault(campaign, {})[currency] = int(amount or 0)
    return revenue
