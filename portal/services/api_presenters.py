"""The back-office API's JSON of advocates, referrals, payments, rewards and ledger entries.

Money is an integer of minor units with an upper-case ISO 4217 code (``{"amount_minor": 1250,
"currency": "USD"}``); times are ISO 8601 in UTC (``2026-12-02T13:45:00Z``); ids are the rows' own
integer ids, stable for the life of the record. The shapes are documented by the OpenAPI document
(:mod:`advocacy_portal.blueprints.api.spec`).
"""

from __future__ import annotations

from datetime import datetime
from datetime import timezone

from advocacy_portal.models import Conversion
from advocacy_portal.models import Referral
from advocacy_portal.models import Reward
from advocacy_portal.models import Testimonial
from advocacy_portal.services import ledger
from advocacy_portal.services.api_queries import EntryRow
from advocacy_portal.services.paging import Page


def timestamp(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, or ``None``."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def currency(code: str | None) -> str | None:
    return code.upper() if code else None


def amounts(by_currency: dict[str, int]) -> list[dict]:
    """``{"usd": 1250}`` as ``[{"amount_minor": 1250, "currency": "USD"}]``, by currency."""
    return [
        {"amount_minor": int(amount), "currency": currency(code)}
        for code, amount in sorted(by_currency.items())
    ]


def page_of(page: Page, items: list[dict]) -> dict:
    """The envelope of every list: the items and where this page is."""
    return {
        "items": items,
        "page": page.page,
        "per_page": page.per_page,
        "total": page.total,
        "pages": page.pages,
        "has_more": page.has_next,
    }


def advocate(row, balances: dict[str, dict[str, int]]) -> dict:
    """An advocate (an :class:`~advocacy_portal.services.analytics.AdvocateRow`) with results and balances."""
    found = row.advocate
    return {
        "id": found.id,
        "user_id": found.user_id,
        "email": found.email,
        "created_at": timestamp(found.created_at),
        "clicks": row.clicks,
        "signups": row.signups,
        "flagged_signups": row.flagged,
        "paying_friends": row.paying_friends,
        "balances": {kind: amounts(by_currency) for kind, by_currency in balances.items()},
    }


def referral(found: Referral) -> dict:
    return {
        "id": found.id,
        "advocate_id": found.advocate_id,
        "friend_user_id": found.friend_user_id,
        "campaign": found.campaign,
        "state": found.status,
        "flag_reason": found.flag_reason,
        "clicked_at": timestamp(found.clicked_at),
        "created_at": timestamp(found.created_at),
        "first_paid_at": timestamp(found.first_paid_at),
    }


def conversion(found: Conversion) -> dict:
    return {
        "id": found.id,
        "payment_key": found.payment_key,
        "kind": found.kind,
        "amount_minor": found.amount_minor,
        "refunded_minor": found.refunded_minor,
        "net_minor": found.net_minor,
        "currency": currency(found.currency),
        "dispute_state": found.dispute_status,
        "advocate_id": found.advocate_id,
        "referral_id": found.referral_id,
        "customer_user_id": found.customer_user_id,
        "campaign": found.campaign,
        "reward_outcome": found.reward_outcome,
        "paid_at": timestamp(found.paid_at),
        "created_at": timestamp(found.created_at),
        "stripe": {
            "checkout_session_id": found.checkout_session_id,
            "payment_intent_id": found.payment_intent_id,
            "charge_id": found.charge_id,
            "invoice_id": found.invoice_id,
            "subscription_id": found.subscription_id,
            "customer_id": found.stripe_customer_id,
        },
    }


def reward(found: Reward) -> dict:
    return {
        "id": found.id,
        "advocate_id": found.advocate_id,
        "conversion_id": found.conversion_id,
        "referral_id": found.referral_id,
        "state": found.status,
        "amount_minor": found.amount_minor,
        "pending_minor": found.pending_minor,
        "available_minor": found.available_minor,
        "currency": currency(found.currency),
        "earned_month": found.earned_month,
        "rule": found.rule,
        "hold_until": timestamp(found.hold_until),
        "released_at": timestamp(found.released_at),
        "created_at": timestamp(found.created_at),
    }


def ledger_entry(row: EntryRow) -> dict:
    entry, account, transaction = row.entry, row.account, row.transaction
    return {
        "id": entry.id,
        "transaction_id": transaction.id,
        "account": {
            "owner": "program" if account.owner == ledger.PROGRAM else "advocate",
            "advocate_id": account.advocate_id,
            "kind": account.kind,
        },
        "amount_minor": entry.amount_minor,
        "currency": currency(entry.currency),
        "reason": transaction.reason,
        "memo": transaction.memo,
        "conversion_id": transaction.conversion_id,
        "reward_id": transaction.reward_id,
        "redemption_id": transaction.redemption_id,
        "created_at": timestamp(entry.created_at),
    }


def submission(found: Testimonial) -> dict:
    """A testimonial or review in any state, with its author, as staff see it."""
    return {
        "id": found.id,
        "kind": found.kind,
        "state": found.state,
        "rating": found.rating,
        "title": found.title,
        "body": found.body,
        "display_name": found.display_name,
        "role": found.role,
        "author_user_id": found.author_user_id,
        "author_email": found.author_email,
        "product_key": found.product_key,
        "consent": found.consent,
        "featured": found.featured,
        "verified_customer": found.verified_customer,
        "incentivised": found.incentivised,
        "submitted_at": timestamp(found.submitted_at),
        "moderated_at": timestamp(found.moderated_at),
        "published_at": timestamp(found.published_at),
        "withdrawn_at": timestamp(found.withdrawn_at),
    }
