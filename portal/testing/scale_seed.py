"""Realistic data at scale for the staff pages' benchmark: ``flask advocacy seed-scale``.

Twelve months of a program: advocates (a few bring most friends), referred friends, paid conversions
(first payments, repeat payments, unattributed payments, some refunds), the rewards of first payments
with their balanced ledger postings, testimonials with their campaign clicks, and any number of clicks.
Rows are written with bulk ``INSERT``s; on PostgreSQL clicks come from ``generate_series`` in the
database, so ten million take minutes. Everything it writes is marked ``scale-`` (user ids, payment keys).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa

from advocacy_portal.db import get_engine
from advocacy_portal.models import Advocate
from advocacy_portal.models import Conversion
from advocacy_portal.models import LedgerAccount
from advocacy_portal.models import LedgerEntry
from advocacy_portal.models import LedgerTransaction
from advocacy_portal.models import Referral
from advocacy_portal.models import ReferralClick
from advocacy_portal.models import Reward
from advocacy_portal.models import Testimonial
from advocacy_portal.models import utcnow

#: Rows per bulk statement.
BATCH = 5_000


class AlreadySeeded(Exception):
    """The database holds scale data already (seed more clicks with ``clicks_only``)."""


@dataclass(frozen=True)
class ScalePlan:
    advocates: int = 5_000
    referrals: int = 100_000
    payments: int = 30_000
    testimonials: int = 200
    days: int = 365
    currency: str = "usd"
    seed: int = 14


def _chunks(rows: list[dict], size: int = BATCH):
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _insert(connection, model, rows: list[dict], progress: Callable[[int], None] | None = None) -> None:
    for chunk in _chunks(rows):
        connection.execute(sa.insert(model.__table__), chunk)
        if progress is not None:
            progress(len(chunk))


def _next_id(connection, model) -> int:
    return int(connection.execute(sa.select(sa.func.coalesce(sa.func.max(model.id), 0))).scalar()) + 1


def seed_program(plan: ScalePlan, engine=None, progress: Callable[[int], None] | None = None,
                 now: datetime | None = None) -> dict[str, int]:
    """Advocates, referrals, payments, rewards with their ledger, and testimonials.

    :raises AlreadySeeded: when scale advocates exist already.
    :returns: how many rows of each kind were written.
    """
    engine = engine if engine is not None else get_engine()
    rng = random.Random(plan.seed)
    now = now or utcnow()
    begin = now - timedelta(days=plan.days)

    def moment(after: datetime | None = None) -> datetime:
        if after is not None:  # a few weeks later, on average; never in the future
            later = after + timedelta(days=rng.expovariate(1 / 21))
            return min(later, now - timedelta(seconds=1))
        return begin + timedelta(seconds=rng.random() * max(1.0, (now - begin).total_seconds() - 1))

    with engine.begin() as connection:
        if connection.execute(
            sa.select(sa.func.count()).select_from(Advocate).where(Advocate.user_id.like("scale-%"))
        ).scalar():
            raise AlreadySeeded("This database holds scale data already.")
        advocate_id = _next_id(connection, Advocate)
        advocates = []
        for number in range(plan.advocates):
            created = moment()
            advocates.append({
                "id": advocate_id + number, "user_id": f"scale-advocate-{number}",
                "email": f"advocate{number}@scale.example", "email_normalized": f"advocate{number}@scale.example",
                "code": f"scale{number:010d}", "link_issued_at": created, "created_at": created,
            })
        _insert(connection, Advocate, advocates, progress)
        ids = [row["id"] for row in advocates]
        # A few advocates bring most friends: pick with a squared uniform draw.
        weight = lambda: ids[min(len(ids) - 1, int(len(ids) * rng.random() ** 2.2))]  # noqa: E731

        referral_id = _next_id(connection, Referral)
        referrals = []
        for number in range(plan.referrals):
            owner = weight()
            created = moment()
            flagged = rng.random() < 0.02
            referrals.append({
                "id": referral_id + number, "advocate_id": owner, "friend_user_id": f"scale-friend-{number}",
                "friend_email_normalized": f"friend{number}@scale.example", "campaign": None,
                "status": "flagged" if flagged else "signed_up", "flag_reason": "self_referral" if flagged else None,
                "clicked_at": created - timedelta(minutes=rng.randint(1, 600)), "created_at": created,
                "first_paid_at": None,
            })

        # Payments: 40 % first payments of referred friends, 27 % their repeat payments, the rest
        # unattributed customers (a third of whom pay again).
        first_count = int(plan.payments * 0.40)
        repeat_count = int(plan.payments * 0.27)
        other_count = plan.payments - first_count - repeat_count
        eligible = [row for row in referrals if row["status"] == "signed_up"]
        payers = rng.sample(eligible, min(first_count, len(eligible)))
        conversion_id = _next_id(connection, Conversion)
        conversions: list[dict] = []

        def payment(paid_at, customer, referral=None, refund=False):
            amount = rng.choice((1900, 2900, 4900, 9900, 14900, 19900))
            refunded = amount // 2 if refund else 0
            row = {
                "id": conversion_id + len(conversions), "payment_key": f"pi_scale_{len(conversions)}",
                "kind": "payment", "amount_minor": amount, "currency": plan.currency,
                "customer_user_id": customer, "referral_id": referral["id"] if referral else None,
                "advocate_id": referral["advocate_id"] if referral else None, "campaign": None,
                "paid_at": paid_at, "refunded_minor": refunded, "dispute_status": None,
                "reward_outcome": ("rewarded" if referral else "unattributed"),
                "created_at": paid_at, "updated_at": paid_at,
            }
            conversions.append(row)
            return row

        firsts = []
        for referral in payers:
            paid_at = moment(referral["created_at"])
            referral["first_paid_at"] = paid_at
            firsts.append((referral, payment(paid_at, referral["friend_user_id"], referral, rng.random() < 0.03)))
        for _ in range(repeat_count if firsts else 0):
            referral, first = rng.choice(firsts)
            conversion = payment(moment(referral["first_paid_at"]), referral["friend_user_id"], referral)
            conversion["reward_outcome"] = "not_rewarded_payment"
        others = []
        for number in range(other_count):
            if others and rng.random() < 0.33:
                customer, after = rng.choice(others)
                payment(moment(after), customer)
            else:
                paid_at = moment()
                others.append((f"scale-customer-{number}", paid_at))
                payment(paid_at, others[-1][0])
        _insert(connection, Referral, referrals, progress)
        _insert(connection, Conversion, conversions, progress)

        # Rewards of first payments (10 %), pending for 30 days then available, each with its ledger
        # posting: the program's expense against the advocate's pending or available balance.
        reward_id = _next_id(connection, Reward)
        transaction_id = _next_id(connection, LedgerTransaction)
        account_id = _next_id(connection, LedgerAccount)
        accounts: dict[tuple[str, str], dict] = {}

        def account(owner: str, kind: str, advocate: int | None) -> dict:
            key = (owner, kind)
            if key not in accounts:
                accounts[key] = {
                    "id": account_id + len(accounts), "owner": owner, "advocate_id": advocate, "kind": kind,
                    "currency": plan.currency, "balance_minor": 0, "created_at": begin,
                }
            return accounts[key]

        expense = account("program", "reward_expense", None)
        rewards, transactions, entries = [], [], []
        for number, (referral, conversion) in enumerate(firsts):
            kept = conversion["amount_minor"] - conversion["refunded_minor"]
            amount = conversion["amount_minor"] // 10
            value = kept // 10
            released = conversion["paid_at"] + timedelta(days=30) <= now
            kind = "available" if released else "pending"
            rewards.append({
                "id": reward_id + number, "conversion_id": conversion["id"], "advocate_id": referral["advocate_id"],
                "referral_id": referral["id"], "rule": {"type": "percent", "percent": 10, "recurring_months": 0},
                "amount_minor": amount, "currency": plan.currency, "earned_month": conversion["paid_at"].strftime("%Y-%m"),
                "status": kind, "pending_minor": 0 if released else value, "available_minor": value if released else 0,
                "version": 1, "hold_until": conversion["paid_at"] + timedelta(days=30),
                "released_at": conversion["paid_at"] + timedelta(days=30) if released else None,
                "created_at": conversion["paid_at"],
            })
            target = account(f"advocate:{referral['advocate_id']}", kind, referral["advocate_id"])
            transaction = transaction_id + number
            transactions.append({
                "id": transaction, "idempotency_key": f"scale-reward-{number}",
                "content_hash": hashlib.sha256(f"scale-reward-{number}".encode()).hexdigest(),
                "reason": "reward.accrue", "memo": None, "conversion_id": conversion["id"],
                "reward_id": reward_id + number, "redemption_id": None, "actor_user_id": None, "details": None,
                "created_at": conversion["paid_at"],
            })
            for target_account, signed in ((target, value), (expense, -value)):
                target_account["balance_minor"] += signed
                entries.append({
                    "transaction_id": transaction, "account_id": target_account["id"], "amount_minor": signed,
                    "currency": plan.currency, "created_at": conversion["paid_at"],
                })
        _insert(connection, LedgerAccount, list(accounts.values()), progress)
        _insert(connection, Reward, rewards, progress)
        _insert(connection, LedgerTransaction, transactions, progress)
        _insert(connection, LedgerEntry, entries, progress)

        testimonials = []
        testimonial_id = _next_id(connection, Testimonial)
        for number in range(plan.testimonials):
            submitted = moment()
            state = rng.choice(("pending", "pending", "approved", "approved", "rejected"))
            testimonials.append({
                "id": testimonial_id + number, "kind": "testimonial", "author_user_id": f"scale-advocate-{number}",
                "author_email": f"advocate{number}@scale.example", "rating": rng.randint(3, 5), "title": None,
                "body": f"Scale testimonial {number}: the product saved our team hours every single week.",
                "display_name": f"Advocate {number}", "role": None, "photo_key": None, "product_key": None,
                "consent": "publish_named", "consent_text": "You may publish my testimonial with my name, role and photo.",
                "consent_at": submitted, "state": state, "featured": False,
                "rejection_reason": "Not specific" if state == "rejected" else None,
                "highlight_start": None, "highlight_end": None, "verified_customer": True, "incentivised": False,
                "incentive_reason": None, "submitted_at": submitted, "updated_at": submitted,
                "moderated_at": None if state == "pending" else submitted,
                "published_at": submitted if state == "approved" else None, "withdrawn_at": None,
                "moderated_by_user_id": None, "moderated_by_email": None,
                "submission_nonce": f"scale-{number}-{plan.seed}", "version": 1,
            })
        _insert(connection, Testimonial, testimonials, progress)
    return {
        "advocates": len(advocates), "referrals": len(referrals), "payments": len(conversions),
        "first_payments": len(firsts), "rewards": len(rewards), "ledger_entries": len(entries),
        "testimonials": len(testimonials),
    }


def seed_clicks(count: int, engine=None, *, days: int = 365, progress: Callable[[int], None] | None = None,
                now: datetime | None = None, chunk: int = 500_000, seed: int = 14) -> int:
    """``count`` clicks spread over the last ``days`` days on the scale advocates (the busiest get the
    most; 1 in 50 carries a testimonial's campaign ``t<id>``), in ``chunk``-sized statements.

    :returns: the number of clicks written.
    """
    engine = engine if engine is not None else get_engine()
    now = now or utcnow()
    begin = now - timedelta(days=days)
    with engine.connect() as connection:
        advocate_ids = [
            row[0] for row in connection.execute(
                sa.select(Advocate.id).where(Advocate.user_id.like("scale-%")).order_by(Advocate.id)
            )
        ]
        testimonial_ids = [row[0] for row in connection.execute(sa.select(Testimonial.id).limit(200))]
        connection.rollback()
    if not advocate_ids:
        raise ValueError("Seed the program first (no scale advocates).")
    low, high = advocate_ids[0], advocate_ids[-1]
    span = high - low + 1
    written = 0
    with engine.connect() as connection:
        postgres = connection.dialect.name == "postgresql"
        rng = random.Random(seed)
        while written < count:
            size = min(chunk if postgres else BATCH, count - written)
            with connection.begin():
                if postgres:
                    connection.execute(
                        sa.text(
                            "INSERT INTO advocacy_referral_clicks "
                            "(advocate_id, campaign, clicked_at, referrer_host, device_class, ip_hash, source) "
                            "SELECT :low + floor(:span * power(random(), 2.2))::int, "
                            "CASE WHEN random() < 0.02 AND :tcount > 0 "
                            "THEN 't' || (:tlow + floor(random() * :tcount)::int) END, "
                            ":begin + (random() * :seconds) * interval '1 second', "
                            "(ARRAY['news.example', 'mail.example', NULL, NULL])[1 + floor(random() * 4)::int], "
                            "(ARRAY['desktop', 'mobile', 'mobile', 'tablet'])[1 + floor(random() * 4)::int], "
                            "md5((:offset + g)::text), 'link' FROM generate_series(1, :size) AS g"
                        ),
                        {
                            "low": low, "span": span, "begin": begin, "seconds": days * 86400.0,
                            "offset": written + seed * 1_000_000_000, "size": size,
                            "tcount": len(testimonial_ids), "tlow": testimonial_ids[0] if testimonial_ids else 0,
                        },
                    )
                else:
                    rows = []
                    for number in range(size):
                        campaign = None
                        if testimonial_ids and rng.random() < 0.02:
                            campaign = f"t{rng.choice(testimonial_ids)}"
                        rows.append({
                            "advocate_id": low + min(span - 1, int(span * rng.random() ** 2.2)),
                            "campaign": campaign,
                            "clicked_at": begin + timedelta(seconds=rng.random() * days * 86400),
                            "referrer_host": None, "device_class": rng.choice(("desktop", "mobile")),
                            "ip_hash": hashlib.md5(f"{written + number}".encode()).hexdigest(), "source": "link",
                        })
                    connection.execute(sa.insert(ReferralClick.__table__), rows)
            written += size
            if progress is not None:
                progress(size)
    return written
