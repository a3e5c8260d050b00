"""Stripe: the events received, the customers mapped to host users, and the payments (conversions)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger
from sqlalchemy import CheckConstraint
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from advocacy_portal.models.base import Base
from advocacy_portal.models.base import utcnow

#: States of a payment's dispute: none, open (funds withdrawn), won (restored), lost.
DISPUTE_STATES = ("open", "won", "lost")


class StripeEvent(Base):
    """One Stripe event, recorded in the same transaction as its effects, so a duplicate delivery
    (same ``event_id``) finds it and changes nothing."""

    __tablename__ = "advocacy_stripe_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100), index=True)
    livemode: Mapped[bool] = mapped_column(default=False)
    #: What processing did: ``applied``, ``ignored`` (a type the plugin does not handle), or why an
    #: event changed nothing (``not_paid``, ``no_payment``, ...); ``rejected`` for a signed event that
    #: can never be applied (answered 2xx, never posted), ``failed`` when applying it raised an error
    #: that no retry can cure.
    outcome: Mapped[str] = mapped_column(String(64))
    #: Why the event was ``rejected`` or ``failed``, for staff.
    reason: Mapped[str | None] = mapped_column(String(500))
    conversion_id: Mapped[int | None] = mapped_column(
        ForeignKey("advocacy_conversions.id", ondelete="SET NULL")
    )
    #: The event's own ``created`` time at Stripe.
    created_at: Mapped[datetime | None] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class StripeCustomer(Base):
    """A host user's Stripe customer: each side maps to exactly one of the other."""

    __tablename__ = "advocacy_stripe_customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_customer_id: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Conversion(Base):
    """One payment seen through Stripe, attributed to a referral or not.

    The row holds the *facts* Stripe told us, whatever order the events came in: paid (``paid_at``),
    the refunded amount so far (Stripe's cumulative ``amount_refunded``; the largest seen wins) and the
    dispute state. :func:`advocacy_portal.services.rewards.reconcile` turns the facts into ledger postings.
    ``payment_key`` is the payment's Stripe identity: its PaymentIntent id, else its invoice, charge or
    Checkout Session id.
    """

    __tablename__ = "advocacy_conversions"
    __table_args__ = (
        CheckConstraint("refunded_minor >= 0", name="refunded_not_negative"),
        CheckConstraint(
            "dispute_status IS NULL OR dispute_status IN ('open', 'won', 'lost')", name="dispute_status"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_key: Mapped[str] = mapped_column(String(255), unique=True)
    #: ``payment`` (a one-off Checkout payment) or ``invoice`` (a subscription invoice).
    kind: Mapped[str] = mapped_column(String(16), default="payment")
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    checkout_session_id: Mapped[str | None] = mapped_column(String(255), index=True)
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    charge_id: Mapped[str | None] = mapped_column(String(255), index=True)
    invoice_id: Mapped[str | None] = mapped_column(String(255), index=True)
    subscription_id: Mapped[str | None] = mapped_column(String(255), index=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), index=True)
    #: The card's fingerprint (Stripe's ``payment_method_details.card.fingerprint``), when an event
    #: carried it: the fraud rules compare it with the advocate's own cards.
    card_fingerprint: Mapped[str | None] = mapped_column(String(255), index=True)
    #: The paying host user, when known.
    customer_user_id: Mapped[str | None] = mapped_column(String(255), index=True)
    referral_id: Mapped[int | None] = mapped_column(
        ForeignKey("advocacy_referrals.id", ondelete="SET NULL"), index=True
    )
    advocate_id: Mapped[int | None] = mapped_column(
        ForeignKey("advocacy_advocates.id", ondelete="SET NULL"), index=True
    )
    campaign: Mapped[str | None] = mapped_column(String(64))
    #: When the payment succeeded (Stripe's time); ``None`` while only a refund, a dispute or an
    #: unpaid Checkout Session has been seen.
    paid_at: Mapped[datetime | None] = mapped_column(index=True)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    dispute_status: Mapped[str | None] = mapped_column(String(16))
    dispute_id: Mapped[str | None] = mapped_column(String(255))
    #: Why this payment earns what it earns: ``rewarded``, ``unattributed``, ``currency_not_rewarded``,
    #: ``below_minimum``, ``not_rewarded_payment``, ``monthly_cap_reached``, ``flagged_referral``,
    #: ``no_amount``, ``not_paid``.
    reward_outcome: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def net_minor(self) -> int:
        """What the business kept: paid amount less refunds (0 once a dispute is lost or open)."""
        if self.amount_minor is None or self.paid_at is None:
            return 0
        if self.dispute_status in ("open", "lost"):
            return 0
        return max(0, self.amount_minor - self.refunded_minor)
