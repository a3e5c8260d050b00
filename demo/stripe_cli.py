"""Stripe in the demo: a local Stripe-compatible server and ``flask --app wsgi advocacy demo-stripe``, which
sends signed Stripe test events to the demo's own webhook."""

from __future__ import annotations

from datetime import timedelta

import click
from flask import Flask
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from advocacy_portal.models import Conversion
from advocacy_portal.models import utcnow
from advocacy_portal.services import rewards
from advocacy_portal.testing import stripe_events
from advocacy_portal.testing.stripe_events import signed_request
from advocacy_portal.testing.stripe_server import FakeStripe
from demo.extensions import db
from demo.models import User


#: The demo's own webhook secret; a real shop uses the one its Stripe dashboard shows.
DEMO_WEBHOOK_SECRET = "whsec_demo_only_not_a_secret"
_demo_fake_stripe = None


def demo_stripe_defaults(app: Flask) -> None:
    app.config.update(
        ADVOCACY_STRIPE_WEBHOOK_SECRETS=[DEMO_WEBHOOK_SECRET],
        ADVOCACY_REWARD_RULES={
            "default": {"type": "percent", "percent": 10, "currency": "usd", "recurring_months": 0,
                        "min_purchase_minor": 0, "monthly_cap_minor": None,
                        "friend_reward": {"percent_off": 10}},
            "campaigns": {},
        },
    )


def demo_stripe_setup(app: Flask) -> None:
    """With ``DEMO_FAKE_STRIPE`` on (the default outside tests), the demo's Stripe calls go to a local
    Stripe-compatible server started on first use in this process: real Stripe is not reachable here."""
    app.cli.commands["advocacy"].add_command(demo_stripe)
    if not app.config.get("FAKE_STRIPE", not app.testing):
        return

    @app.before_request
    def _use_fake_stripe():
        use_fake_stripe(app)


def use_fake_stripe(app: Flask) -> str:
    """Start the demo's local Stripe server (once per process) and point the app at it."""
    global _demo_fake_stripe

    if _demo_fake_stripe is None:
        _demo_fake_stripe = FakeStripe().start()
    app.config["ADVOCACY_STRIPE_SECRET_KEY"] = _demo_fake_stripe.api_key
    app.config["ADVOCACY_STRIPE_API_BASE"] = _demo_fake_stripe.base_url
    return _demo_fake_stripe.base_url


@click.group("demo-stripe")
def demo_stripe() -> None:
    """Demo host only: send signed Stripe test events to the demo's own webhook."""


def _send_demo_event(event: dict, url: str | None) -> None:
    secret = current_app.config["ADVOCACY_STRIPE_WEBHOOK_SECRETS"][0]
    body, headers = signed_request(event, secret)
    if url:
        import requests

        response = requests.post(url.rstrip("/") + "/advocacy/webhooks/stripe", data=body, headers=headers,
                                 timeout=10)
        status, answer = response.status_code, response.text
    else:
        response = current_app.test_client().post(
            current_app.config["ADVOCACY_URL_PREFIX"] + "/webhooks/stripe", data=body, headers=headers
        )
        status, answer = response.status_code, response.get_data(as_text=True)
    click.echo(f"{event['type']} {event['id']}: {status} {answer.strip()}")
    if status != 200:
        raise click.ClickException("the webhook refused the event")


def _demo_user(email: str) -> User:
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise click.BadParameter(f"no demo user {email}", param_hint="--friend")
    return user


def _latest_payment(user: User):
    conversion = db.session.scalar(
        select(Conversion)
        .where(Conversion.customer_user_id == str(user.id), Conversion.paid_at.is_not(None))
        .order_by(Conversion.id.desc())
    )
    if conversion is None:
        raise click.ClickException(f"{user.email} has not paid yet: run `demo-stripe pay` first")
    return conversion


_URL_OPTION = click.option("--url", default=None,
                           help="Base URL of a running demo (e.g. http://127.0.0.1:5000); default: in-process.")


@demo_stripe.command("pay")
@click.option("--friend", default="dave@example.com", show_default=True, help="Demo user who pays.")
@click.option("--amount", default=9900, show_default=True, type=int, help="Minor units (cents).")
@click.option("--currency", default="usd", show_default=True)
@_URL_OPTION
@with_appcontext
def demo_stripe_pay(friend: str, amount: int, currency: str, url: str | None) -> None:
    """A completed Checkout payment by FRIEND (as ``portal.checkout_params`` would tag it)."""
    user = _demo_user(friend)
    event = stripe_events.checkout_session_completed(
        amount_total=amount, currency=currency, client_reference_id=str(user.id),
        customer_email=user.email, metadata={"advocacy_user_id": str(user.id)},
    )
    _send_demo_event(event, url)


@demo_stripe.command("refund")
@click.option("--friend", default="dave@example.com", show_default=True)
@click.option("--amount", default=None, type=int, help="Refunded so far, in minor units; default: all of it.")
@_URL_OPTION
@with_appcontext
def demo_stripe_refund(friend: str, amount: int | None, url: str | None) -> None:
    """A refund (full, or partial with --amount) of FRIEND's latest payment."""
    payment = _latest_payment(_demo_user(friend))
    refunded = payment.amount_minor if amount is None else amount
    event = stripe_events.charge_refunded(
        amount=payment.amount_minor, amount_refunded=min(refunded, payment.amount_minor),
        currency=payment.currency, payment_intent=payment.payment_intent_id,
        charge_id=payment.charge_id or f"ch_demo_{payment.id}",
    )
    _send_demo_event(event, url)


@demo_stripe.command("dispute")
@click.option("--friend", default="dave@example.com", show_default=True)
@click.option("--outcome", type=click.Choice(["open", "won", "lost"]), default="open", show_default=True)
@_URL_OPTION
@with_appcontext
def demo_stripe_dispute(friend: str, outcome: str, url: str | None) -> None:
    """A dispute on FRIEND's latest payment: opened, or closed as won or lost."""
    payment = _latest_payment(_demo_user(friend))
    fields = dict(charge=payment.charge_id or f"ch_demo_{payment.id}", payment_intent=payment.payment_intent_id,
                  amount=payment.amount_minor, currency=payment.currency)
    if outcome == "open":
        event = stripe_events.charge_dispute_created(**fields)
    else:
        event = stripe_events.charge_dispute_closed(status=outcome, **fields)
    _send_demo_event(event, url)


@demo_stripe.command("release")
@with_appcontext
def demo_stripe_release() -> None:
    """Demo only: end the hold of every pending reward now, so it can be redeemed at once."""
    summary = rewards.release_due(now=utcnow() + timedelta(days=36500))
    click.echo(f"Released {summary.released} reward(s) early (demo only).")
