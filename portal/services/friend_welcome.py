"""What a referred friend is told on the host's landing page: who invited them (when the advocate
allows it), the discount they get and, once they have an account, their promotion code.

The words come from :mod:`advocacy_portal.services.offer_text`, from the rule of the campaign of
the link they followed. No request handling here: the caller passes the attribution cookie's value
and the signed-in customer, if any.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import stripe
from sqlalchemy import select

from advocacy_portal.db import get_session
from advocacy_portal.models import Advocate
from advocacy_portal.services import links as link_service
from advocacy_portal.services import offer_text
from advocacy_portal.services import referrals as referral_service
from advocacy_portal.services.rules import current_rules

log = logging.getLogger(__name__)

#: Longest inviter name shown (the column's size).
INVITER_NAME_MAX = 40

#: What a friend reads when the rule gives friends no discount.
NO_DISCOUNT_NOTE = "There is no discount on this invitation, but everything else is the same for you."


@dataclass(frozen=True)
class FriendWelcome:
    """The friend's welcome, in words."""

    #: ``"Sam invited you"`` or ``"A friend invited you"``.
    headline: str
    #: The inviter's first name, when they allow it; else ``None``.
    inviter_name: str | None
    #: ``"You get 10% off your first purchase."``, or ``None`` without a discount.
    offer: str | None
    #: ``"10% off"``, or ``None``.
    discount: str | None
    #: The friend's promotion code, once they have an account and the code exists; else ``None``.
    code: str | None
    #: A line that says how the discount reaches them, or that there is none.
    note: str


def clean_inviter_name(value: str | None) -> str | None:
    """The first word of what the advocate typed, trimmed to :data:`INVITER_NAME_MAX`; ``None`` if empty."""
    words = (value or "").split()
    if not words:
        return None
    return words[0][:INVITER_NAME_MAX]


def set_inviter_name(advocate: Advocate, name: str | None) -> None:
    """Let friends see ``name`` (first word only) on the landing page, or nothing (``None``). Flushes."""
    advocate.inviter_name = clean_inviter_name(name)
    get_session().flush()


def _welcome(advocate: Advocate | None, campaign: str | None, code: str | None, signed_up: bool) -> FriendWelcome:
    rule = current_rules().for_campaign(campaign)
    name = advocate.inviter_name if advocate is not None else None
    discount = offer_text.friend_discount(rule)
    if discount is None:
        note = NO_DISCOUNT_NOTE
    elif code:
        note = "Enter this code at checkout, or it is applied for you when you pay from your account."
    elif signed_up:
        note = "It is applied at checkout on your first purchase."
    else:
        note = "Create your account and it is applied at checkout on your first purchase."
    return FriendWelcome(
        headline=f"{name} invited you" if name else "A friend invited you",
        inviter_name=name,
        offer=offer_text.friend_offer(rule),
        discount=discount,
        code=code,
        note=note,
    )


def welcome_for_visitor(cookie_value: str | None) -> FriendWelcome | None:
    """The welcome of a visitor who followed a link (their attribution cookie), ``None`` otherwise."""
    claim = link_service.read_attribution(cookie_value)
    if claim is None:
        return None
    advocate = get_session().scalar(select(Advocate).where(Advocate.code == claim.advocate_code))
    if advocate is None:
        return None
    return _welcome(advocate, claim.campaign, None, signed_up=False)


def welcome_for_customer(customer) -> FriendWelcome | None:
    """The welcome of a signed-in friend (their referral), with their promotion code when Stripe is
    set up and the code can still be used; ``None`` if no link brought them, or it was flagged."""
    from advocacy_portal.services import payments

    referral = referral_service.get_referral_of_friend(customer.id)
    if referral is None or referral.status != "signed_up" or referral.first_paid_at is not None:
        return None
    advocate = get_session().get(Advocate, referral.advocate_id)
    code = None
    try:
        code = payments.friend_promotion_code(customer)
    except (payments.StripeNotConfigured, stripe.StripeError) as error:
        log.info("No promotion code shown to referred user %s: %s", customer.id, error)
    return _welcome(advocate, referral.campaign, code, signed_up=True)
