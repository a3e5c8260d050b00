"""The event types of outgoing webhooks, and the ``data`` each one carries (presenters).

The registry is a dict so that later areas (NPS answers, cases) add their types with
:func:`register_event_type`. Every ``data`` holds stable ids, money as integer minor units with an ISO
currency code, timestamps in ISO 8601 UTC, and nothing an integration does not need: the advocate's id,
host user id and email; a friend or author only by the host's own user id; never a secret, a password
hash, an IP address or a friend's email.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from advocacy_portal.db import get_session
from advocacy_portal.models import Advocate
from advocacy_portal.models import Conversion
from advocacy_portal.models import Redemption
from advocacy_portal.models import Referral
from advocacy_portal.models import Reward
from advocacy_portal.models import Testimonial


@dataclass(frozen=True)
class EventType:
    name: str
    description: str


#: Every event type an endpoint may subscribe to, by name, in the order staff see them.
EVENT_TYPES: dict[str, EventType] = {}

#: The type of the "Send test event" button's message: sent to one endpoint, whatever it subscribed to.
TEST_EVENT_TYPE = "webhook.test"


def register_event_type(name: str, description: str) -> EventType:
    """Add an event type endpoints may subscribe to (``area.past_tense_verb``).

    :raises ValueError: when the name is taken or not of the form ``area.event``.
    """
    area, _, event = name.partition(".")
    if not area or not event or name != name.lower() or len(name) > 64 or name == TEST_EVENT_TYPE:
        raise ValueError(f"{name!r} is not an event type name such as 'referral.signed_up'")
    if name in EVENT_TYPES:
        raise ValueError(f"the event type {name!r} is registered already")
    EVENT_TYPES[name] = EventType(name, description)
    return EVENT_TYPES[name]


register_event_type("referral.signed_up", "A friend signed up through an advocate's link.")
register_event_type("conversion.created", "A referred friend's payment was first seen as paid.")
register_event_type("reward.held", "A payment earned its advocate a reward, on hold for the refund window.")
register_event_type("reward.released", "A reward's hold ended: the advocate may redeem it.")
register_event_type("reward.redeemed", "An advocate redeemed rewards as a credit on their account.")
register_event_type(
    "reward.clawed_back", "A refund or dispute took back part or all of a reward (held or released)."
)
register_event_type("testimonial.published", "Staff approved a testimonial or review for the wall.")

#: The ledger postings of a reward that are events, by posting reason.
REWARD_POSTING_EVENTS = {
    "reward.accrue": "reward.held",
    "reward.release": "reward.released",
    "reward.void": "reward.clawed_back",
    "reward.clawback": "reward.clawed_back",
}


def iso(moment: datetime | None) -> str | None:
    """A timestamp as ISO 8601 UTC with a ``Z`` (``None`` stays ``None``)."""
    if moment is None:
        return None
    return moment.isoformat().replace("+00:00", "Z")


def advocate_data(advocate_id: int | None) -> dict | None:
    """The advocate an event is about: id, host user id and email (what a CRM matches on)."""
    advocate = get_session().get(Advocate, advocate_id) if advocate_id is not None else None
    if advocate is None:
        return None
    return {"id": advocate.id, "user_id": advocate.user_id, "email": advocate.email}


def referral_data(referral: Referral) -> dict:
    """``referral.signed_up``."""
    return {
        "referral": {
            "id": referral.id,
            "friend_user_id": referral.friend_user_id,
            "campaign": referral.campaign,
            "clicked_at": iso(referral.clicked_at),
            "signed_up_at": iso(referral.created_at),
        },
        "advocate": advocate_data(referral.advocate_id),
    }


def conversion_data(conversion: Conversion) -> dict:
    """``conversion.created``: the payment as Stripe reported it."""
    return {
        "conversion": {
            "id": conversion.id,
            "payment_key": conversion.payment_key,
            "kind": conversion.kind,
            "amount_minor": conversion.amount_minor,
            "currency": conversion.currency,
            "paid_at": iso(conversion.paid_at),
            "customer_user_id": conversion.customer_user_id,
            "referral_id": conversion.referral_id,
            "campaign": conversion.campaign,
            "stripe": {
                "payment_intent": conversion.payment_intent_id,
                "checkout_session": conversion.checkout_session_id,
                "invoice": conversion.invoice_id,
                "subscription": conversion.subscription_id,
            },
        },
        "advocate": advocate_data(conversion.advocate_id),
    }


def reward_data(reward: Reward, reason: str, change_minor: int, posted_at: datetime | None) -> dict:
    """``reward.held``, ``reward.released``, ``reward.clawed_back``: the reward and this posting."""
    return {
        "reward": {
            "id": reward.id,
            "conversion_id": reward.conversion_id,
            "referral_id": reward.referral_id,
            "amount_minor": reward.amount_minor,
            "currency": reward.currency,
            "hold_until": iso(reward.hold_until),
        },
        "posting": {
            "reason": reason,
            #: Signed, as the advocate sees it: positive adds to a balance, negative takes from it.
            "amount_minor": change_minor,
            "currency": reward.currency,
            "balance": "available" if reason in ("reward.release", "reward.clawback") else "pending",
            "posted_at": iso(posted_at),
        },
        "advocate": advocate_data(reward.advocate_id),
    }


def redemption_data(redemption: Redemption) -> dict:
    """``reward.redeemed``."""
    return {
        "redemption": {
            "id": redemption.id,
            #: ``balance_credit`` or ``promotion_code`` (the code itself is the advocate's, never sent).
            "method": redemption.method,
            "amount_minor": redemption.amount_minor,
            "currency": redemption.currency,
            "stripe_customer": redemption.stripe_customer_id,
            "stripe_balance_transaction": redemption.stripe_balance_transaction_id,
            "requested_at": iso(redemption.created_at),
            "completed_at": iso(redemption.completed_at),
        },
        "advocate": advocate_data(redemption.advocate_id),
    }


def testimonial_data(testimonial: Testimonial) -> dict:
    """``testimonial.published``: what the wall shows (no name for an anonymous one), with the
    author's host user id so the integration can tie it to its customer."""
    anonymous = testimonial.is_anonymous
    return {
        "testimonial": {
            "id": testimonial.id,
            "kind": testimonial.kind,
            "rating": testimonial.rating,
            "title": testimonial.title,
            "body": testimonial.body,
            "display_name": None if anonymous else testimonial.display_name,
            "role": None if anonymous else testimonial.role,
            "anonymous": anonymous,
            "product_key": testimonial.product_key,
            "author_user_id": testimonial.author_user_id,
            "published_at": iso(testimonial.published_at),
        },
    }


def ping_data(endpoint_id: int) -> dict:
    """``webhook.test``."""
    return {
        "endpoint_id": endpoint_id,
        "message": "A test event from the Advocacy Portal staff page: this endpoint is reachable.",
    }
