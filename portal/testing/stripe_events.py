"""Stripe-shaped webhook events, and the ``Stripe-Signature`` header that signs them.

The objects follow the API version the installed SDK pins (``stripe.api_version``): an invoice names its
subscription under ``parent.subscription_details`` and carries no ``payment_intent``/``charge`` (an invoice's
payments are ``invoice_payment`` objects, sent in ``invoice_payment.paid`` events and listed by
``GET /v1/invoice_payments?invoice=``); a promotion code's coupon is under ``promotion.coupon``.

Every builder returns the event as a dict; :func:`signed_request` turns one into the body and headers Stripe
would POST, which ``stripe.Webhook.construct_event(body, headers["Stripe-Signature"], secret)`` accepts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import stripe

from advocacy_portal.testing.ids import random_id

#: A webhook signing secret shaped like Stripe's, for tests.
WEBHOOK_SECRET = "whsec_advocacy_test_secret"


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header for ``payload``: ``t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<payload>">``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + payload
    signature = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signature}"


def signed_request(event: dict, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> tuple[bytes, dict]:
    """The body and headers of Stripe's webhook POST for ``event``."""
    body = json.dumps(event, indent=2).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": sign(body, secret, timestamp),
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    }
    return body, headers


def webhook_path(app) -> str:
    """The path of the plugin's Stripe webhook on ``app``: ``<ADVOCACY_URL_PREFIX>/webhooks/stripe``."""
    return app.config["ADVOCACY_URL_PREFIX"].rstrip("/") + "/webhooks/stripe"


def send_event(client, event: dict, secret: str | None = None):
    """POST ``event`` to the plugin's webhook through a Flask test ``client``, signed as Stripe signs
    it with ``secret`` (default: the app's first ``ADVOCACY_STRIPE_WEBHOOK_SECRETS``, else
    :data:`WEBHOOK_SECRET`). Returns the response: 200 once the event is recorded."""
    app = client.application
    secret = secret or next(iter(app.config.get("ADVOCACY_STRIPE_WEBHOOK_SECRETS") or ()), WEBHOOK_SECRET)
    body, headers = signed_request(event, secret)
    return client.post(webhook_path(app), data=body, headers=headers)


def event(event_type: str, obj: dict, *, previous_attributes: dict | None = None, request_id: str | None = None,
          idempotency_key: str | None = None, created: int | None = None) -> dict:
    """A Stripe ``event`` wrapping ``obj``; ``request_id`` is ``None`` for events Stripe raised on its own."""
    data: dict[str, Any] = {"object": obj}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    return {
        "id": random_id("evt_"),
        "object": "event",
        "api_version": stripe.api_version,
        "created": int(time.time()) if created is None else created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": request_id, "idempotency_key": idempotency_key},
        "type": event_type,
    }


def checkout_session(*, mode: str = "payment", payment_status: str = "paid", amount_total: int = 5000,
                     currency: str = "usd", customer: str | None = None, customer_email: str | None = None,
                     client_reference_id: str | None = None, metadata: dict | None = None,
                     payment_intent: str | None = None, subscription: str | None = None,
                     invoice: str | None = None, session_id: str | None = None) -> dict:
    """A completed ``checkout.session``. In ``payment`` mode a ``pi_`` id is made up unless given; in
    ``subscription`` mode a ``sub_`` and an ``in_`` id are (and ``payment_intent`` is ``None``, as in Stripe)."""
    if mode not in ("payment", "subscription"):
        raise ValueError(f"mode must be payment or subscription, not {mode!r}")
    if payment_status not in ("paid", "unpaid", "no_payment_required"):
        raise ValueError(f"unknown payment_status {payment_status!r}")
    if mode == "payment":
        payment_intent = payment_intent or random_id("pi_")
    else:
        subscription = subscription or random_id("sub_")
        invoice = invoice or random_id("in_")
    created = int(time.time())
    return {
        "id": session_id or random_id("cs_test_", 58),
        "object": "checkout.session",
        "allow_promotion_codes": None,
        "amount_subtotal": amount_total,
        "amount_total": amount_total,
        "cancel_url": None,
        "client_reference_id": client_reference_id,
        "created": created,
        "currency": currency,
        "customer": customer,
        "customer_creation": None if customer else "if_required",
        "customer_details": {"address": None, "email": customer_email, "name": None, "phone": None,
                             "tax_exempt": "none", "tax_ids": []},
        "customer_email": customer_email,
        "discounts": [],
        "expires_at": created + 24 * 3600,
        "invoice": invoice,
        "livemode": False,
        "metadata": dict(metadata or {}),
        "mode": mode,
        "payment_intent": payment_intent,
        "payment_method_types": ["card"],
        "payment_status": payment_status,
        "status": "complete",
        "subscription": subscription,
        "success_url": "https://shop.example/checkout/success",
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": None,
    }


def checkout_session_completed(**session: Any) -> dict:
    """``checkout.session.completed``; pass ``payment_status="unpaid"`` for an asynchronous payment method.

    Keyword arguments are those of :func:`checkout_session`.
    """
    return event("checkout.session.completed", checkout_session(**session))


def checkout_session_async_payment_succeeded(**session: Any) -> dict:
    """``checkout.session.async_payment_succeeded``: the delayed payment of an ``unpaid`` session arrived."""
    session["payment_status"] = "paid"
    return event("checkout.session.async_payment_succeeded", checkout_session(**session))


def checkout_session_async_payment_failed(**session: Any) -> dict:
    """``checkout.session.async_payment_failed``: the delayed payment of an ``unpaid`` session failed."""
    session["payment_status"] = "unpaid"
    return event("checkout.session.async_payment_failed", checkout_session(**session))


def invoice(*, customer: str, amount_paid: int = 2000, currency: str = "usd", subscription: str | None = None,
            subscription_metadata: dict | None = None, billing_reason: str = "subscription_create",
            metadata: dict | None = None, customer_email: str | None = None, invoice_id: str | None = None,
            price: str | None = None) -> dict:
    """A paid subscription ``invoice`` as the current API shapes it (subscription under
    ``parent.subscription_details``, no ``payment_intent``/``charge`` fields)."""
    if billing_reason not in ("subscription_create", "subscription_cycle", "subscription_update", "manual"):
        raise ValueError(f"unexpected billing_reason {billing_reason!r}")
    invoice_id = invoice_id or random_id("in_")
    subscription = subscription or random_id("sub_")
    now = int(time.time())
    period_end = now + 30 * 24 * 3600
    line = {
        "id": random_id("il_"),
        "object": "line_item",
        "amount": amount_paid,
        "currency": currency,
        "description": "1 × Plan (at {:.2f} / month)".format(amount_paid / 100),
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "invoice": invoice_id,
        "livemode": False,
        "metadata": dict(subscription_metadata or {}),
        "parent": {
            "invoice_item_details": None,
            "subscription_item_details": {"invoice_item": None, "proration": False, "proration_details": None,
                                          "subscription": subscription, "subscription_item": random_id("si_", 14)},
            "type": "subscription_item_details",
        },
        "period": {"end": period_end, "start": now},
        "pretax_credit_amounts": [],
        "pricing": {"price_details": {"price": price or random_id("price_"), "product": random_id("prod_", 14)},
                    "type": "price_details", "unit_amount_decimal": str(amount_paid)},
        "quantity": 1,
        "taxes": [],
    }
    return {
        "id": invoice_id,
        "object": "invoice",
        "account_country": "US",
        "amount_due": amount_paid,
        "amount_overpaid": 0,
        "amount_paid": amount_paid,
        "amount_remaining": 0,
        "amount_shipping": 0,
        "attempt_count": 1,
        "attempted": True,
        "billing_reason": billing_reason,
        "collection_method": "charge_automatically",
        "created": now,
        "currency": currency,
        "customer": customer,
        "customer_email": customer_email,
        "discounts": [],
        "ending_balance": 0,
        "hosted_invoice_url": f"https://invoice.stripe.com/i/{invoice_id}",
        "lines": {"object": "list", "data": [line], "has_more": False, "total_count": 1,
                  "url": f"/v1/invoices/{invoice_id}/lines"},
        "livemode": False,
        "metadata": dict(metadata or {}),
        "number": f"ADV-{now % 100000:05d}",
        "parent": {
            "quote_details": None,
            "subscription_details": {"metadata": dict(subscription_metadata or {}), "subscription": subscription},
            "type": "subscription_details",
        },
        "period_end": now,
        "period_start": now,
        "starting_balance": 0,
        "status": "paid",
        "status_transitions": {"finalized_at": now, "marked_uncollectible_at": None, "paid_at": now,
                               "voided_at": None},
        "subtotal": amount_paid,
        "total": amount_paid,
        "total_discount_amounts": [],
        "total_taxes": [],
    }


def invoice_paid(**invoice_fields: Any) -> dict:
    """``invoice.paid`` for a subscription invoice; keyword arguments are those of :func:`invoice`."""
    return event("invoice.paid", invoice(**invoice_fields))


def invoice_payment(*, invoice_id: str, amount_paid: int, currency: str = "usd",
                    payment_intent: str | None = None) -> dict:
    """An ``invoice_payment``: how the current API links an invoice to its payment intent."""
    now = int(time.time())
    return {
        "id": random_id("inpay_"),
        "object": "invoice_payment",
        "amount_paid": amount_paid,
        "amount_requested": amount_paid,
        "created": now,
        "currency": currency,
        "invoice": invoice_id,
        "is_default": True,
        "livemode": False,
        "payment": {"payment_intent": payment_intent or random_id("pi_"), "type": "payment_intent"},
        "status": "paid",
        "status_transitions": {"canceled_at": None, "paid_at": now},
    }


def invoice_payment_paid(**payment_fields: Any) -> dict:
    """``invoice_payment.paid``; keyword arguments are those of :func:`invoice_payment`."""
    return event("invoice_payment.paid", invoice_payment(**payment_fields))


def charge(*, amount: int = 5000, amount_refunded: int = 0, currency: str = "usd", customer: str | None = None,
           payment_intent: str | None = None, metadata: dict | None = None, charge_id: str | None = None,
           disputed: bool = False) -> dict:
    """A succeeded ``charge``; ``refunded`` is true once ``amount_refunded`` reaches ``amount``."""
    if not 0 <= amount_refunded <= amount:
        raise ValueError("amount_refunded must be between 0 and amount")
    return {
        "id": charge_id or random_id("ch_"),
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": amount_refunded,
        "balance_transaction": random_id("txn_"),
        "billing_details": {"address": None, "email": None, "name": None, "phone": None},
        "captured": True,
        "created": int(time.time()),
        "currency": currency,
        "customer": customer,
        "description": None,
        "disputed": disputed,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": dict(metadata or {}),
        "outcome": {"network_status": "approved_by_network", "reason": None, "risk_level": "normal",
                    "seller_message": "Payment complete.", "type": "authorized"},
        "paid": True,
        "payment_intent": payment_intent or random_id("pi_"),
        "payment_method": random_id("pm_"),
        "receipt_url": None,
        "refunded": amount_refunded == amount,
        "status": "succeeded",
    }


def charge_refunded(*, amount: int = 5000, amount_refunded: int | None = None, previous_amount_refunded: int = 0,
                    **charge_fields: Any) -> dict:
    """``charge.refunded``: a full refund by default, partial when ``amount_refunded < amount``.

    Other keyword arguments are those of :func:`charge`.
    """
    amount_refunded = amount if amount_refunded is None else amount_refunded
    refunded_charge = charge(amount=amount, amount_refunded=amount_refunded, **charge_fields)
    previous = {"amount_refunded": previous_amount_refunded}
    if refunded_charge["refunded"]:
        previous["refunded"] = False
    return event("charge.refunded", refunded_charge, previous_attributes=previous)


def dispute(*, charge: str, amount: int = 5000, currency: str = "usd", payment_intent: str | None = None,
            status: str = "needs_response", reason: str = "fraudulent", dispute_id: str | None = None) -> dict:
    """A ``dispute`` on ``charge``."""
    now = int(time.time())
    return {
        "id": dispute_id or random_id("du_"),
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [],
        "charge": charge,
        "created": now,
        "currency": currency,
        "evidence": {"customer_email_address": None, "product_description": None, "uncategorized_text": None},
        "evidence_details": {"due_by": now + 7 * 24 * 3600, "has_evidence": False, "past_due": False,
                             "submission_count": 0},
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": payment_intent,
        "reason": reason,
        "status": status,
    }


def charge_dispute_created(**dispute_fields: Any) -> dict:
    """``charge.dispute.created``; keyword arguments are those of :func:`dispute`."""
    dispute_fields.setdefault("status", "needs_response")
    return event("charge.dispute.created", dispute(**dispute_fields))


def charge_dispute_closed(*, status: str = "lost", **dispute_fields: Any) -> dict:
    """``charge.dispute.closed`` with ``status`` ``"lost"`` or ``"won"`` (or ``"warning_closed"``)."""
    if status not in ("lost", "won", "warning_closed"):
        raise ValueError(f"a closed dispute is lost, won or warning_closed, not {status!r}")
    return event("charge.dispute.closed", dispute(status=status, **dispute_fields),
                 previous_attributes={"status": "under_review"})
