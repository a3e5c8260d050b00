"""Builders for the rollup and report tests: advocates, raw clicks, referrals and payments, written as
the click flusher and the Stripe hot path write them (plain inserts, no ORM hooks)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from datetime import timedelta
from itertools import count

import sqlalchemy as sa

from advocacy_portal.models import Advocate
from advocacy_portal.models import Conversion
from advocacy_portal.models import Referral
from advocacy_portal.models import ReferralClick
from advocacy_portal.models import Reward
from advocacy_portal.models import utcnow

_serial = count(1)


def add_advocate(session, email: str | None = None) -> int:
    number = next(_serial)
    advocate = Advocate(user_id=f"rollup-{number}", email=email or f"advocate{number}@example.com",
                        email_normalized=email or f"advocate{number}@example.com", code=f"rollup{number:06d}")
    session.add(advocate)
    session.flush()
    return advocate.id


def add_clicks(connection_or_session, advocate_id: int, times: list[datetime]) -> None:
    if not times:
        return
    connection_or_session.execute(sa.insert(ReferralClick.__table__), [
        {"advocate_id": advocate_id, "clicked_at": at, "ip_hash": hashlib.sha256(f"{advocate_id}{at}{n}".encode()).hexdigest(),
         "device_class": "desktop", "source": "link"}
        for n, at in enumerate(times)
    ])


def add_referral(session, advocate_id: int, created_at: datetime, *, flagged: bool = False,
                 first_paid_at: datetime | None = None) -> int:
    number = next(_serial)
    referral = Referral(advocate_id=advocate_id, friend_user_id=f"friend-{number}",
                        friend_email_normalized=f"friend{number}@example.com",
                        status="flagged" if flagged else "signed_up",
                        flag_reason="self_referral" if flagged else None,
                        created_at=created_at, first_paid_at=first_paid_at)
    session.add(referral)
    session.flush()
    return referral.id


def add_payment(session, paid_at: datetime, amount: int, *, referral_id: int | None = None,
                advocate_id: int | None = None, customer: str | None = None, refunded: int = 0,
                reward: int | None = None, currency: str = "usd") -> int:
    number = next(_serial)
    conversion = Conversion(payment_key=f"pi_rollup_{number}", amount_minor=amount, currency=currency,
                            paid_at=paid_at, referral_id=referral_id, advocate_id=advocate_id,
                            customer_user_id=customer or f"customer-{number}", refunded_minor=refunded,
                            created_at=paid_at, updated_at=paid_at)
    session.add(conversion)
    session.flush()
    if reward is not None:
        session.add(Reward(conversion_id=conversion.id, advocate_id=advocate_id, referral_id=referral_id,
                           rule={"type": "percent", "percent": 10}, amount_minor=reward, currency=currency,
                           earned_month=paid_at.strftime("%Y-%m"), status="pending", pending_minor=reward,
                           available_minor=0, hold_until=paid_at + timedelta(days=30), created_at=paid_at))
        session.flush()
    return conversion.id


def days_ago(days: float, now: datetime | None = None) -> datetime:
    return (now or utcnow()) - timedelta(days=days)
