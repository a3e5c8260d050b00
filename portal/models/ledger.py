"""The rewards ledger: double-entry, append-only, in integer minor units.

Every change of money is a :class:`LedgerTransaction` whose :class:`LedgerEntry` rows sum to zero per
currency. Entries and transactions are never updated or deleted (a PostgreSQL trigger refuses it);
mistakes are corrected by new, reversing transactions. The one exception is retention: an erased
person's transactions past ADVOCACY_FINANCIAL_RETENTION_DAYS are deleted whole and replaced by one
``balance.carried_forward`` transaction of the same net amounts (``ledger.carry_forward``). Each account keeps its ``balance_minor``
alongside the entries, updated in the same database transaction, so balances cost one row read;
``flask advocacy ledger verify`` recomputes them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import BigInteger
from sqlalchemy import CheckConstraint
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from advocacy_portal.models.base import Base
from advocacy_portal.models.base import utcnow

#: Account kinds of an advocate: rewards on hold, rewards they may redeem, rewards being paid out,
#: and rewards paid out.
ADVOCATE_ACCOUNT_KINDS = ("pending", "available", "reserved", "redeemed")
#: Account kinds of the program: what rewards cost, what refunds and disputes took back, and staff
#: adjustments.
PROGRAM_ACCOUNT_KINDS = ("reward_expense", "clawbacks", "adjustments")

#: States of a reward: on hold, released (available), or voided before release.
REWARD_STATES = ("pending", "available", "void")
#: States of a redemption. ``reserved``: funds set aside, Stripe not (yet) asked; ``unknown``: Stripe
#: did not answer (timeout, 5xx), retried with the same key; ``completed``; ``failed``: Stripe refused,
#: funds returned.
REDEMPTION_STATES = ("reserved", "unknown", "completed", "failed")


class LedgerAccount(Base):
    """One balance: of an advocate (``owner`` = ``advocate:<id>``) or of the program (``program``)."""

    __tablename__ = "advocacy_ledger_accounts"
    __table_args__ = (
        UniqueConstraint("owner", "kind", "currency", name="uq_advocacy_ledger_accounts_owner_kind"),
        CheckConstraint(
            "kind IN ('pending', 'available', 'reserved', 'redeemed', 'reward_expense', 'clawbacks', "
            "'adjustments')",
            name="kind",
        ),
        # Money set aside for a payout can never be spent twice.
        CheckConstraint("kind != 'reserved' OR balance_minor >= 0", name="reserved_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    advocate_id: Mapped[int | None] = mapped_column(
        ForeignKey("advocacy_advocates.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    balance_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerTransaction(Base):
    """One balanced set of entries. ``idempotency_key`` makes posting it again return this row;
    ``content_hash`` tells a true retry from a different posting under the same key."""

    __tablename__ = "advocacy_ledger_transactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    #: What happened, dotted: ``reward.accrue``, ``reward.void``, ``reward.release``,
    #: ``reward.clawback``, ``reward.restore``, ``redemption.reserve``, ``redemption.confirm``,
    #: ``redemption.release``, ``redemption.code`` (issued as a promotion code), ``redemption.expire``
    #: (an unused code expired), ``redemption.return`` (the order that used a code was refunded),
    #: ``adjustment``, ``balance.carried_forward`` (stands for deleted transactions of an erased
    #: person past their retention, with the same net amount per account).
    reason: Mapped[str] = mapped_column(String(64), index=True)
    memo: Mapped[str | None] = mapped_column(Text)
    conversion_id: Mapped[int | None] = mapped_column(
        ForeignKey("advocacy_conversions.id", ondelete="RESTRICT"), index=True
    )
    reward_id: Mapped[int | None] = mapped_column(
        ForeignKey("advocacy_rewards.id", ondelete="RESTRICT"), index=True
    )
    redemption_id: Mapped[int | None] = mapped_column(
        ForeignKey("advocacy_redemptions.id", ondelete="RESTRICT"), index=True
    )
    #: The host user id of the staff member behind a manual adjustment.
    actor_user_id: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class LedgerEntry(Base):
    """One signed amount on one account. Positive on an advocate account means owed to the advocate."""

    __tablename__ = "advocacy_ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(
        ForeignKey("advocacy_ledger_transactions.id", ondelete="RESTRICT"), index=True
    )
    account_id: Mapped[int] = mapped_column(
        ForeignKey("advocacy_ledger_accounts.id", ondelete="RESTRICT"), index=True
    )
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Reward(Base):
    """What one payment earns its friend's advocate, with the rule it was computed with.

    ``amount_minor`` is fixed when the reward is created; ``pending_minor`` and ``available_minor``
    say how much of it currently sits in the advocate's pending and available accounts (refunds and
    disputes lower them, a won dispute restores them). ``version`` counts the postings, which gives
    each adjustment a deterministic idempotency key.
    """

    __tablename__ = "advocacy_rewards"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'available', 'void')", name="status"),
        CheckConstraint("amount_minor >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversion_id: Mapped[int] = mapped_column(
        ForeignKey("advocacy_conversions.id", ondelete="RESTRICT"), unique=True
    )
    advocate_id: Mapped[int] = mapped_column(
        ForeignKey("advocacy_advocates.id", ondelete="RESTRICT"), index=True
    )
    referral_id: Mapped[int | None] = mapped_column(
        ForeignKey("advocacy_referrals.id", ondelete="SET NULL")
    )
    rule: Mapped[dict[str, Any]] = mapped_column(JSON)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    #: The calendar month (``YYYY-MM``, UTC) of the payment, for the per-advocate monthly cap.
    earned_month: Mapped[str] = mapped_column(String(7))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    pending_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    available_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    version: Mapped[int] = mapped_column(default=0)
    hold_until: Mapped[datetime] = mapped_column(index=True)
    released_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Redemption(Base):
    """An advocate turning available rewards into a credit on their Stripe customer balance, or into
    a single-use Stripe promotion code."""

    __tablename__ = "advocacy_redemptions"
    __table_args__ = (
        CheckConstraint(
            "state IN ('reserved', 'unknown', 'completed', 'failed')", name="state"
        ),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    advocate_id: Mapped[int] = mapped_column(
        ForeignKey("advocacy_advocates.id", ondelete="RESTRICT"), index=True
    )
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    state: Mapped[str] = mapped_column(String(16), default="reserved", index=True)
    #: Sent to Stripe as the Idempotency-Key of the balance credit, on every attempt.
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    stripe_balance_transaction_id: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    requested_by_user_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column()
    #: How the amount is paid out: ``balance_credit`` (the Stripe customer balance, used by invoices)
    #: or ``promotion_code`` (a single-use code for one-off Checkout payments).
    method: Mapped[str] = mapped_column(String(16), default="balance_credit", server_default="balance_credit")
    stripe_coupon_id: Mapped[str | None] = mapped_column(String(255))
    stripe_promotion_code_id: Mapped[str | None] = mapped_column(String(255), index=True)
    #: The code the customer types at checkout (``promotion_code`` redemptions).
    promotion_code: Mapped[str | None] = mapped_column(String(255))
    #: When the code stops working; fixed at reservation, so every retry sends the same request.
    expires_at: Mapped[datetime | None] = mapped_column()
    #: ``issued``, ``used`` (on :attr:`used_conversion_id`) or ``expired`` (amount returned).
    code_state: Mapped[str | None] = mapped_column(String(16), index=True)
    used_conversion_id: Mapped[int | None] = mapped_column(
        ForeignKey("advocacy_conversions.id", ondelete="SET NULL"), index=True
    )
    #: How much went back to *available*: all of it for an unused expired code, the refunded share
    #: of a payment that used the code.
    returned_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class FriendPromotionCode(Base):
    """The Stripe promotion code a referred friend gets, created once per referral."""

    __tablename__ = "advocacy_friend_promotion_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(
        ForeignKey("advocacy_referrals.id", ondelete="CASCADE"), unique=True
    )
    stripe_promotion_code_id: Mapped[str] = mapped_column(String(255))
    code: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
