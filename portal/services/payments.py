"""Stripe, outbound: the API client, host user ↔ Stripe customer mapping, the Checkout helper and
friend promotion codes.

Incoming webhook events are read into facts by :mod:`advocacy_portal.services.stripe_events` and
recorded, with their ledger effects, by :mod:`advocacy_portal.services.conversions`.
"""

from __future__ import annotations

import copy
import hashlib
import logging
from datetime import datetime
from datetime import timezone
from typing import Any

import stripe
from sqlalchemy import select

from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.db import insert_or_ignore
from advocacy_portal.identity import Customer
from advocacy_portal.models import FriendPromotionCode
from advocacy_portal.models import StripeCustomer
from advocacy_portal.models import utcnow
from advocacy_portal.proxies import get_portal
from advocacy_portal.services import referrals as referral_service
from advocacy_portal.services.rules import current_rules

log = logging.getLogger(__name__)


#: Metadata key carrying the host user id on Checkout Sessions, PaymentIntents and Subscriptions.
USER_METADATA_KEY = "advocacy_user_id"


class StripeNotConfigured(RuntimeError):
    """``ADVOCACY_STRIPE_SECRET_KEY`` is not set."""


# -- the API client -----------------------------------------------------------------------------------


def stripe_client() -> stripe.StripeClient:
    """A :class:`stripe.StripeClient` built from the settings: secret key, API base, timeout, and no
    retries by the SDK (the plugin retries itself, with the same Idempotency-Key).

    :raises StripeNotConfigured: without ``ADVOCACY_STRIPE_SECRET_KEY``.
    """
    key = config_value("STRIPE_SECRET_KEY")
    if not key:
        raise StripeNotConfigured("set ADVOCACY_STRIPE_SECRET_KEY to call Stripe")
    base = config_value("STRIPE_API_BASE")
    options: dict[str, Any] = {}
    if base:
        options["base_addresses"] = {"api": base.rstrip("/"), "files": base.rstrip("/")}
    return stripe.StripeClient(
        key,
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=float(config_value("STRIPE_TIMEOUT_SECONDS"))),
        **options,
    )


# -- customers and checkout ---------------------------------------------------------------------------


def stripe_customer_id_for(user_id) -> str | None:
    """The Stripe customer mapped to a host user id, or ``None``."""
    return get_session().scalar(
        select(StripeCustomer.stripe_customer_id).where(StripeCustomer.user_id == str(user_id))
    )


def user_id_for_customer(stripe_customer_id: str | None) -> str | None:
    """The host user id mapped to a Stripe customer, or ``None``."""
    if not stripe_customer_id:
        return None
    return get_session().scalar(
        select(StripeCustomer.user_id).where(StripeCustomer.stripe_customer_id == stripe_customer_id)
    )


def link_customer(user_id, stripe_customer_id: str) -> str:
    """Map a host user to an existing Stripe customer (first mapping wins, for the user and for the
    Stripe customer alike); returns the user's mapped id, or ``stripe_customer_id`` when that Stripe
    customer is mapped to another user already (the mapping is left as it is, and logged)."""
    inserted = insert_or_ignore(
        StripeCustomer,
        {"user_id": str(user_id), "stripe_customer_id": stripe_customer_id, "created_at": utcnow()},
        None,  # any unique column: a Stripe customer shared by two host users must not fail the event
    )
    mapped = stripe_customer_id_for(user_id)
    if inserted is None and mapped is None:
        log.warning("Stripe customer %s is mapped to another user already; user %s is left unmapped",
                    stripe_customer_id, user_id)
    return mapped or stripe_customer_id


def ensure_stripe_customer(user_id, email: str | None) -> str:
    """The Stripe customer id of a host user: the mapped one, else the one the shop's
    ``@portal.stripe_customer`` hook names (then mapped), else a customer created at Stripe.

    Idempotent: the creation carries an Idempotency-Key derived from the user id, so a retry or a
    concurrent first checkout gets the same customer, and the mapping is inserted at most once.

    :raises StripeNotConfigured: without a secret key.
    :raises stripe.StripeError: when Stripe refuses or cannot be reached.
    """
    found = stripe_customer_id_for(user_id)
    if found:
        return found
    hook = get_portal().stripe_customer_callback
    existing = hook(Customer(id=str(user_id), email=email)) if hook is not None else None
    if existing:
        # The shop's own Stripe customer: mapped, never duplicated.
        return link_customer(user_id, existing)
    customer = stripe_client().v1.customers.create(
        {"email": email, "metadata": {USER_METADATA_KEY: str(user_id)}} if email else
        {"metadata": {USER_METADATA_KEY: str(user_id)}},
        {"idempotency_key": f"advocacy-customer-{_key_part(str(user_id))}"},
    )
    return link_customer(user_id, customer.id)


def _key_part(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def checkout_params(customer, mode: str = "payment") -> dict[str, Any]:
    """The Checkout Session parameters that let the plugin trace a payment back to its user and
    referral: ``client_reference_id``, the mapped ``customer``, ``metadata``, and the same metadata on
    ``payment_intent_data`` (``mode="payment"``) or ``subscription_data`` (``mode="subscription"``),
    so refunds and disputes of the payment carry it too. Add your ``line_items``, ``success_url``,
    ... and pass them to ``client.v1.checkout.sessions.create``.

    :param customer: a :class:`advocacy_portal.extension.Customer` (``portal.identify(user)``).
    :raises ValueError: for another mode.
    """
    if mode not in ("payment", "subscription"):
        raise ValueError("mode must be 'payment' or 'subscription'")
    metadata = {USER_METADATA_KEY: str(customer.id)}
    referral = referral_service.get_referral_of_friend(customer.id)
    if referral is not None and referral.status == "signed_up":
        metadata["advocacy_referral_id"] = str(referral.id)
    params: dict[str, Any] = {
        "mode": mode,
        "client_reference_id": str(customer.id),
        "customer": ensure_stripe_customer(customer.id, customer.email),
        "metadata": dict(metadata),
    }
    if mode == "payment":
        params["payment_intent_data"] = {"metadata": dict(metadata)}
    else:
        params["subscription_data"] = {"metadata": dict(metadata)}
    return params


def merge_checkout_params(customer, params: dict[str, Any]) -> dict[str, Any]:
    """The shop's own Checkout Session parameters with the plugin's merged in (a new dict):

    - ``customer``: the shop's own when it passes one (then mapped to the user), else the mapped or
      hooked (``@portal.stripe_customer``) or newly created customer; ``customer_email`` and
      ``customer_creation`` are dropped, as Stripe accepts only one of them with ``customer``;
    - ``metadata`` and the ``metadata`` of ``payment_intent_data`` / ``subscription_data``: the shop's
      keys kept, the plugin's ``advocacy_*`` keys added; ``client_reference_id`` only if unset;
    - ``discounts``: the referred friend's promotion code while it can still be used, unless the shop
      passes its own discount (``allow_promotion_codes`` is dropped then: Stripe takes one or the other).

    :param customer: a :class:`advocacy_portal.extension.Customer`.
    :raises ValueError: for a mode other than ``payment`` or ``subscription``.
    """
    merged = copy.deepcopy(dict(params))
    mode = merged.get("mode", "payment")
    own_customer = merged.get("customer")
    if own_customer:
        mapped = link_customer(customer.id, own_customer)
        if mapped != own_customer:
            log.warning("User %s is mapped to Stripe customer %s, but the checkout names %s; kept the checkout's",
                        customer.id, mapped, own_customer)
    ours = checkout_params(customer, mode)
    merged["mode"] = mode
    merged["customer"] = own_customer or ours["customer"]
    merged.pop("customer_email", None)
    merged.pop("customer_creation", None)
    merged.setdefault("client_reference_id", ours["client_reference_id"])
    merged["metadata"] = {**(merged.get("metadata") or {}), **ours["metadata"]}
    nested = "payment_intent_data" if mode == "payment" else "subscription_data"
    data = dict(merged.get(nested) or {})
    data["metadata"] = {**(data.get("metadata") or {}), **ours[nested]["metadata"]}
    merged[nested] = data
    if not merged.get("discounts"):
        promotion = usable_friend_promotion(customer)
        if promotion is not None:
            merged.pop("allow_promotion_codes", None)
            merged["discounts"] = [{"promotion_code": promotion.stripe_promotion_code_id}]
    return merged


def friend_promotion_code(customer) -> str | None:
    """The promotion code a referred friend may enter at checkout, created at Stripe once per referral
    (restricted to first-time customers); ``None`` when the friend came through no link, the referral
    is flagged, the rule has no friend reward, or the code can no longer be used (the friend has paid,
    or Stripe says it is used up, inactive or expired).

    :param customer: a :class:`advocacy_portal.extension.Customer`.
    """
    promotion = usable_friend_promotion(customer)
    return promotion.code if promotion is not None else None


def usable_friend_promotion(customer) -> FriendPromotionCode | None:
    """The friend's :class:`FriendPromotionCode` (created on first use) while it can still be used."""
    session = get_session()
    referral = referral_service.get_referral_of_friend(customer.id)
    if referral is None or referral.status != "signed_up" or referral.first_paid_at is not None:
        return None  # first-time customers only: once the friend has paid, the code is spent
    existing = session.scalar(select(FriendPromotionCode).where(FriendPromotionCode.referral_id == referral.id))
    if existing is not None:
        return existing if _still_usable(existing) else None
    rule = current_rules().for_campaign(referral.campaign)
    if rule.friend_reward is None:
        return None
    client = stripe_client()
    coupon_params = rule.friend_reward.coupon_params()
    coupon_key = _key_part(repr(sorted(coupon_params.items())))
    coupon = client.v1.coupons.create(
        {**coupon_params, "metadata": {"advocacy": "friend_reward"}},
        {"idempotency_key": f"advocacy-coupon-{coupon_key}"},
    )
    promotion = client.v1.promotion_codes.create(
        {
            "promotion": {"type": "coupon", "coupon": coupon.id},
            "customer": ensure_stripe_customer(customer.id, customer.email),
            "max_redemptions": 1,
            "restrictions": {"first_time_transaction": True},
            "metadata": {"advocacy_referral_id": str(referral.id)},
        },
        {"idempotency_key": f"advocacy-promotion-{referral.id}-{coupon_key}"},
    )
    insert_or_ignore(
        FriendPromotionCode,
        {
            "referral_id": referral.id,
            "stripe_promotion_code_id": promotion.id,
            "code": promotion.code,
            "created_at": utcnow(),
        },
        ["referral_id"],
    )
    return session.scalar(select(FriendPromotionCode).where(FriendPromotionCode.referral_id == referral.id))


def _still_usable(promotion: FriendPromotionCode) -> bool:
    """Whether Stripe would still take the code (a payment may have used it before its webhook came)."""
    try:
        found = stripe_client().v1.promotion_codes.retrieve(promotion.stripe_promotion_code_id)
    except (stripe.StripeError, StripeNotConfigured) as error:
        log.warning("Friend promotion code %s: could not ask Stripe whether it is still usable (%s); not offered",
                    promotion.code, error)
        return False
    if not found.active:
        return False
    if found.max_redemptions and found.times_redeemed >= found.max_redemptions:
        return False
    if found.expires_at and datetime.fromtimestamp(found.expires_at, tz=timezone.utc) <= utcnow():
        return False
    return True
