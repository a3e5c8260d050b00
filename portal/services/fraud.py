"""Fraud review of referral rewards: rules with two outcomes, staff decisions, the household allow-list.

*Block* rules (the reward is never posted; the payment's outcome is ``fraud_blocked``): the friend's
normalised email is the advocate's, the friend pays with the advocate's Stripe customer or with a card
(fingerprint) the advocate paid with, or the friend was a paying customer before the referral.

*Hold* rules (the reward accrues as pending but is never released until staff approve it): the
friend's email looks like the advocate's, more than ``ADVOCACY_FRAUD_MAX_PURCHASES_PER_IP`` referred
purchases of one advocate came from one hashed IP address or more than
``ADVOCACY_FRAUD_MAX_PURCHASES_PER_DEVICE`` from one device cluster (the same browser on one /24
network: :func:`advocacy_portal.services.visitors.hash_device`), a burst of referred purchases
(``ADVOCACY_FRAUD_VELOCITY_COUNT`` within ``ADVOCACY_FRAUD_VELOCITY_MINUTES``), or a disposable email
domain. The allow-list (an advocate and friend pair, or a hashed IP address) switches the hold rules
off for a household.

Staff approve or void a held reward with a reason (audited); both can be undone until the reward is
released. A reward still held at its deadline gets ``ADVOCACY_FRAUD_DEADLINE_ACTION`` (by default it
stays held: nothing is ever paid without a decision).

:func:`settle` is called by :func:`advocacy_portal.services.rewards.reconcile` for every reward it
brings in line; every function flushes, the caller commits.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select

from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.db import insert_or_ignore
from advocacy_portal.models import Advocate
from advocacy_portal.models import Conversion
from advocacy_portal.models import FraudAllowance
from advocacy_portal.models import FraudReview
from advocacy_portal.models import Referral
from advocacy_portal.models import ReferralClick
from advocacy_portal.models import Reward
from advocacy_portal.models import StripeCustomer
from advocacy_portal.models import utcnow
from advocacy_portal.services import audit

#: ``Conversion.reward_outcome`` of a payment a block rule matched.
FRAUD_BLOCKED = "fraud_blocked"
#: ``Conversion.reward_outcome`` of a payment whose reward staff voided.
FRAUD_VOIDED = "fraud_voided"
#: ``Conversion.reward_outcome`` of a payment whose reward waits for staff.
HELD_FOR_REVIEW = "held_for_review"

#: Every rule, in words.
RULE_LABELS = {
    "same_email": "The friend's email is the advocate's",
    "same_stripe_customer": "The friend paid as the advocate's Stripe customer",
    "same_card": "The friend paid with a card the advocate uses",
    "existing_customer": "The friend was already a paying customer",
    "similar_email": "The friend's email looks like the advocate's",
    "shared_ip": "Many referred purchases from one IP address",
    "shared_device": "Many referred purchases from one device (same browser on one network)",
    "velocity": "A burst of referred purchases",
    "disposable_email": "A disposable email address",
}
BLOCK_RULES = ("same_email", "same_stripe_customer", "same_card", "existing_customer")
HOLD_RULES = ("similar_email", "shared_ip", "shared_device", "velocity", "disposable_email")

#: States of a review, in words.
STATE_LABELS = {"held": "Held for review", "approved": "Approved", "voided": "Voided", "blocked": "Blocked"}

#: A short list of throwaway-address domains; ``ADVOCACY_FRAUD_DISPOSABLE_DOMAINS`` adds more.
DISPOSABLE_DOMAINS = frozenset("""
    10minutemail.com 20minutemail.com dispostable.com discard.email emailondeck.com fakeinbox.com
    getnada.com guerrillamail.com guerrillamail.net guerrillamailblock.com mailcatch.com maildrop.cc
    mailinator.com mailnesia.com mintemail.com moakt.com mohmal.com mytemp.email sharklasers.com
    spamgourmet.com temp-mail.org tempmail.com tempmail.net tempmailo.com throwawaymail.com trashmail.com
    yopmail.com yopmail.net
""".split())

#: What a staff member may do with a review, and the state it leads to.
DECISIONS = {"approve": "approved", "void": "voided", "reopen": "held"}


class DecisionError(ValueError):
    """A decision that cannot be made (the reward is released, the review is blocked, no reason)."""


# -- the rules --------------------------------------------------------------------------------------


def _advocate(referral: Referral) -> Advocate:
    return get_session().get(Advocate, referral.advocate_id)


def block_rule(conversion: Conversion, referral: Referral) -> str | None:
    """The first block rule the payment matches, or ``None``."""
    session = get_session()
    advocate = _advocate(referral)
    if referral.friend_email_normalized and referral.friend_email_normalized == advocate.email_normalized:
        return "same_email"
    if conversion.customer_user_id is not None and conversion.customer_user_id == advocate.user_id:
        return "same_stripe_customer"
    if conversion.stripe_customer_id:
        own = session.scalar(
            select(StripeCustomer.id).where(
                StripeCustomer.user_id == advocate.user_id,
                StripeCustomer.stripe_customer_id == conversion.stripe_customer_id,
            )
        )
        if own is not None:
            return "same_stripe_customer"
    if conversion.card_fingerprint:
        shared = session.scalar(
            select(Conversion.id).where(
                Conversion.card_fingerprint == conversion.card_fingerprint,
                Conversion.customer_user_id == advocate.user_id,
            ).limit(1)
        )
        if shared is not None:
            return "same_card"
    earlier = session.scalar(
        select(Conversion.id).where(
            Conversion.customer_user_id == referral.friend_user_id,
            Conversion.paid_at.is_not(None),
            Conversion.paid_at < referral.created_at,
            Conversion.id != conversion.id,
            # Payments of the referral itself (a subscription's earlier invoices) do not count.
            or_(Conversion.referral_id.is_(None), Conversion.referral_id != referral.id),
        ).limit(1)
    )
    if earlier is not None:
        return "existing_customer"
    return None


def _letters(email: str) -> str:
    """The local part of an address without digits and separators: ``john.smith2`` → ``johnsmith``."""
    return re.sub(r"[^a-z]", "", email.rpartition("@")[0].lower())


def similar_emails(first: str, second: str, ratio: float) -> bool:
    """Whether two (normalised) addresses look like one person's: the same letters in the local part
    (``john.smith@x`` and ``johnsmith2@y``), or letters alike at ``ratio`` or more (difflib)."""
    one, other = _letters(first), _letters(second)
    if len(one) < 3 or len(other) < 3:
        return False
    return one == other or difflib.SequenceMatcher(None, one, other).ratio() >= ratio


def _domain(email: str | None) -> str | None:
    return email.rpartition("@")[2] if email and "@" in email else None


def hold_rules(conversion: Conversion, referral: Referral) -> tuple[list[str], str | None]:
    """The hold rules the payment matches, and the hashed IP address of the friend's click."""
    session = get_session()
    advocate = _advocate(referral)
    matched = []
    friend, own = referral.friend_email_normalized, advocate.email_normalized
    ratio = config_value("FRAUD_SIMILAR_EMAIL_RATIO")
    if friend and own and friend != own and ratio is not None and similar_emails(friend, own, float(ratio)):
        matched.append("similar_email")
    ip_hash = device_hash = None
    if referral.click_id is not None:
        row = session.execute(
            select(ReferralClick.ip_hash, ReferralClick.device_hash).where(ReferralClick.id == referral.click_id)
        ).first()
        if row is not None:
            ip_hash, device_hash = row
    for rule, column, value, setting in (
        ("shared_ip", ReferralClick.ip_hash, ip_hash, "FRAUD_MAX_PURCHASES_PER_IP"),
        ("shared_device", ReferralClick.device_hash, device_hash, "FRAUD_MAX_PURCHASES_PER_DEVICE"),
    ):
        if not value:  # no click, a click without identifiers, or its hashes blanked
            continue
        purchases = session.scalar(
            select(func.count(Conversion.id))
            .join(Referral, Referral.id == Conversion.referral_id)
            .join(ReferralClick, ReferralClick.id == Referral.click_id)
            .where(
                Referral.advocate_id == referral.advocate_id,
                column == value,
                Conversion.paid_at.is_not(None),
            )
        ) or 0
        if purchases > int(config_value(setting)):
            matched.append(rule)
    if conversion.paid_at is not None:
        window = timedelta(minutes=int(config_value("FRAUD_VELOCITY_MINUTES")))
        burst = session.scalar(
            select(func.count(Conversion.id)).where(
                Conversion.advocate_id == referral.advocate_id,
                Conversion.paid_at.is_not(None),
                Conversion.paid_at > conversion.paid_at - window,
                Conversion.paid_at <= conversion.paid_at,
            )
        ) or 0
        if burst > int(config_value("FRAUD_VELOCITY_COUNT")):
            matched.append("velocity")
    domain = _domain(friend)
    extra = {str(name).lower() for name in config_value("FRAUD_DISPOSABLE_DOMAINS") or ()}
    if domain and (domain in DISPOSABLE_DOMAINS or domain in extra):
        matched.append("disposable_email")
    return matched, ip_hash


def is_allowed(referral: Referral, ip_hash: str | None) -> bool:
    """Whether the allow-list covers this advocate and friend, or this hashed IP address."""
    conditions = [
        (FraudAllowance.kind == "pair")
        & (FraudAllowance.advocate_id == referral.advocate_id)
        & (FraudAllowance.friend_user_id == referral.friend_user_id)
    ]
    if ip_hash:
        conditions.append((FraudAllowance.kind == "ip") & (FraudAllowance.ip_hash == ip_hash))
    return get_session().scalar(select(FraudAllowance.id).where(or_(*conditions)).limit(1)) is not None


def _describe(rules: list[str]) -> str:
    return "; ".join(RULE_LABELS.get(rule, rule) for rule in rules)[:500]


def _open_review(conversion, referral, reward, state: str, rules: list[str], ip_hash: str | None):
    now = utcnow()
    insert_or_ignore(
        FraudReview,
        {
            "conversion_id": conversion.id,
            "reward_id": reward.id if reward is not None else None,
            "advocate_id": referral.advocate_id,
            "referral_id": referral.id,
            "state": state,
            "rules": rules,
            "detail": _describe(rules),
            "ip_hash": ip_hash,
            "amount_minor": reward.amount_minor if reward is not None else 0,
            "currency": reward.currency if reward is not None else conversion.currency,
            "deadline_at": now + timedelta(days=int(config_value("FRAUD_DEADLINE_DAYS"))) if state == "held" else None,
            "created_at": now,
            "updated_at": now,
        },
        ["conversion_id"],
    )
    return get_session().scalar(select(FraudReview).where(FraudReview.conversion_id == conversion.id))


def settle(reward: Reward, conversion: Conversion, referral: Referral, target: int) -> int:
    """What ``reward`` may hold given the fraud rules and staff decisions: ``target`` (what the payment
    earns), or 0 when a block rule matches or staff voided it. Opens a review (blocked or held) the
    first time a rule matches; sets the payment's outcome to ``fraud_blocked`` or ``held_for_review``.
    A released reward is never touched here (refunds claw it back as before)."""
    session = get_session()
    review = session.scalar(select(FraudReview).where(FraudReview.conversion_id == conversion.id))
    if review is not None and review.state == "blocked":
        conversion.reward_outcome = FRAUD_BLOCKED
        return 0
    if reward.released_at is not None:
        return target
    advocate = None
    if review is None or review.state == "held":
        # Held here, so the session's identity map keeps it (it holds unchanged rows only weakly) and
        # the block and hold rules below read the advocate's row once, not once each.
        advocate = _advocate(referral)
        rule = block_rule(conversion, referral)
        if rule is not None:
            if review is None:
                review = _open_review(conversion, referral, reward, "blocked", [rule], None)
            else:
                review.state, review.rules, review.detail = "blocked", [*review.rules, rule], _describe([*review.rules, rule])
            if reward.pending_minor == 0:
                reward.status = "void"
            conversion.reward_outcome = FRAUD_BLOCKED
            session.flush()
            return 0
    if review is None and target > 0 and reward.version == 0 and config_value("FRAUD_REVIEW"):
        # Hold rules look at a reward once, before its first posting: later events never hold it.
        rules, ip_hash = hold_rules(conversion, referral)
        if rules and not is_allowed(referral, ip_hash):
            review = _open_review(conversion, referral, reward, "held", rules, ip_hash)
    del advocate
    if review is None:
        return target
    if review.state == "voided":
        conversion.reward_outcome = FRAUD_VOIDED
        return 0
    if review.state == "held":
        conversion.reward_outcome = HELD_FOR_REVIEW
    return target


def release_refused(reward_id: int) -> bool:
    """Whether a review keeps the reward from being released (held, voided or blocked)."""
    return get_session().scalar(
        select(FraudReview.id).where(
            FraudReview.reward_id == reward_id, FraudReview.state.in_(("held", "voided", "blocked"))
        )
    ) is not None


def release_allowed():
    """A condition on :class:`Reward` rows: no review keeps them from release (for the release query)."""
    return ~exists().where(
        FraudReview.reward_id == Reward.id, FraudReview.state.in_(("held", "voided", "blocked"))
    )


# -- staff decisions ----------------------------------------------------------------------------------


def decide(review_id: int, decision: str, reason: str, actor: Any, *, now: datetime | None = None) -> FraudReview:
    """Approve, void or reopen one review, with the reason, audited; the reward's ledger follows at once
    (voiding takes the pending reward back, reopening or approving a voided one restores it).

    :raises DecisionError: for an unknown decision, no reason, a blocked review, or a released reward.
    :raises LookupError: when there is no such review.
    """
    from advocacy_portal.services import rewards

    if decision not in DECISIONS:
        raise DecisionError("Choose approve, void or reopen.")
    if not reason or not reason.strip():
        raise DecisionError("Say why: the reason is kept in the audit log.")
    session = get_session()
    review = session.scalar(select(FraudReview).where(FraudReview.id == review_id).with_for_update())
    if review is None:
        raise LookupError(review_id)
    if review.state == "blocked":
        raise DecisionError("A blocked payment is never rewarded; allow-list the household for later ones.")
    reward = session.get(Reward, review.reward_id) if review.reward_id else None
    if reward is None or reward.released_at is not None:
        raise DecisionError("The reward was released already: decisions can only change before release.")
    state = DECISIONS[decision]
    if state == review.state:
        raise DecisionError(f"This reward is {STATE_LABELS[state].lower()} already.")
    before = {"state": review.state, "decision_reason": review.decision_reason}
    review.state = state
    review.decision_reason = reason.strip()
    review.decided_by_user_id = None if actor is None else str(actor.id)
    review.decided_by_email = None if actor is None else getattr(actor, "email", None)
    review.decided_at = now or utcnow()
    session.flush()
    audit.record_action(
        actor, f"fraud.{decision}", "fraud_review", review.id,
        before=before, after={"state": state, "decision_reason": review.decision_reason},
        reason=review.decision_reason,
    )
    conversion = session.get(Conversion, review.conversion_id)
    rewards.reconcile(conversion, ranking_changed=False)
    return review


def apply_deadline(now: datetime | None = None) -> int:
    """Apply ``ADVOCACY_FRAUD_DEADLINE_ACTION`` to every review still held past its deadline; returns how
    many were decided (0 with the default ``"keep"``: a held reward is never paid without staff)."""
    action = config_value("FRAUD_DEADLINE_ACTION")
    if action == "keep":
        return 0
    decision = {"void": "void", "approve": "approve"}[action]
    session = get_session()
    due = list(session.scalars(
        select(FraudReview.id).where(FraudReview.state == "held", FraudReview.deadline_at <= (now or utcnow()))
    ))
    for review_id in due:
        decide(review_id, decision, f"Deadline passed: {decision} (ADVOCACY_FRAUD_DEADLINE_ACTION)", None, now=now)
    return len(due)


def allow(kind: str, reason: str, actor: Any, *, advocate_id: int | None = None,
          friend_user_id: str | None = None, ip_hash: str | None = None) -> FraudAllowance:
    """Add a household to the allow-list: ``kind="pair"`` with ``advocate_id`` and ``friend_user_id``,
    or ``kind="ip"`` with ``ip_hash``; audited. The hold rules skip it from now on.

    :raises DecisionError: without a reason or the fields of the kind.
    """
    if not reason or not reason.strip():
        raise DecisionError("Say why this household is allowed.")
    if kind == "pair" and not (advocate_id and friend_user_id):
        raise DecisionError("An allowed pair needs the advocate and the friend.")
    if kind == "ip" and not ip_hash:
        raise DecisionError("No IP address is known for this referral.")
    if kind not in ("pair", "ip"):
        raise DecisionError("Allow a pair or an IP address.")
    entry = FraudAllowance(
        kind=kind, advocate_id=advocate_id if kind == "pair" else None,
        friend_user_id=friend_user_id if kind == "pair" else None, ip_hash=ip_hash if kind == "ip" else None,
        reason=reason.strip(), created_by_user_id=None if actor is None else str(actor.id),
        created_by_email=None if actor is None else getattr(actor, "email", None),
    )
    session = get_session()
    session.add(entry)
    session.flush()
    audit.record_action(actor, "fraud.allow", "fraud_allowance", entry.id,
                        after={"kind": kind, "advocate_id": entry.advocate_id,
                               "friend_user_id": entry.friend_user_id}, reason=entry.reason)
    return entry


def remove_allowance(allowance_id: int, actor: Any) -> bool:
    """Take a household off the allow-list (audited); ``False`` if there is no such entry."""
    session = get_session()
    entry = session.get(FraudAllowance, allowance_id)
    if entry is None:
        return False
    audit.record_action(actor, "fraud.disallow", "fraud_allowance", entry.id,
                        before={"kind": entry.kind, "advocate_id": entry.advocate_id,
                                "friend_user_id": entry.friend_user_id}, reason=None)
    session.delete(entry)
    session.flush()
    return True


# -- reads --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewRow:
    """One line of the queue: the review, its advocate's and friend's emails, whether it can change."""

    review: FraudReview
    advocate_email: str | None
    friend_email: str | None
    friend_user_id: str | None
    released: bool

    @property
    def state_label(self) -> str:
        return STATE_LABELS.get(self.review.state, self.review.state)


def queue(state: str | None = "held", page: int = 1, per_page: int = 25):
    """Reviews, newest first, optionally of one state, as :class:`ReviewRow` in a page."""
    from advocacy_portal.services.paging import Page
    from advocacy_portal.services.paging import clamp_page

    page, per_page = clamp_page(page, per_page, default_per_page=25)
    session = get_session()
    query = (
        select(FraudReview, Advocate.email, Referral.friend_email_normalized, Referral.friend_user_id,
               Reward.released_at)
        .join(Advocate, Advocate.id == FraudReview.advocate_id)
        .outerjoin(Referral, Referral.id == FraudReview.referral_id)
        .outerjoin(Reward, Reward.id == FraudReview.reward_id)
    )
    counted = select(func.count(FraudReview.id))
    if state:
        query = query.where(FraudReview.state == state)
        counted = counted.where(FraudReview.state == state)
    total = session.scalar(counted) or 0
    rows = session.execute(
        query.order_by(FraudReview.created_at.desc(), FraudReview.id.desc())
        .offset((page - 1) * per_page).limit(per_page)
    ).all()
    items = [ReviewRow(review, advocate_email, friend_email, friend_user_id, released is not None)
             for review, advocate_email, friend_email, friend_user_id, released in rows]
    return Page(items, page, per_page, total)


def allowances() -> list[FraudAllowance]:
    """The allow-list, newest first."""
    return list(get_session().scalars(select(FraudAllowance).order_by(FraudAllowance.id.desc())))


def review_figures() -> dict[str, dict[str, Any]]:
    """For the overview: ``{state: {"count": n, "amounts": {currency: minor}}}`` for every state
    (``held``, ``approved``, ``voided``, ``blocked``), zero when none."""
    figures: dict[str, dict[str, Any]] = {state: {"count": 0, "amounts": {}} for state in STATE_LABELS}
    rows = get_session().execute(
        select(FraudReview.state, FraudReview.currency, func.count(FraudReview.id), func.sum(FraudReview.amount_minor))
        .group_by(FraudReview.state, FraudReview.currency)
    ).all()
    for state, currency, count, amount in rows:
        figure = figures.setdefault(state, {"count": 0, "amounts": {}})
        figure["count"] += int(count)
        if currency:
            figure["amounts"][currency] = figure["amounts"].get(currency, 0) + int(amount or 0)
    return figures
