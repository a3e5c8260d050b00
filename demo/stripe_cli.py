"""Stripe in the demo: a local Stripe-compatible server. Test payments, refunds and disputes reach the
demo's webhook through the plugin's own ``flask --app wsgi advocacy stripe pay|refund|dispute|release``,
as in any host app."""

from __future__ import annotations

from flask import Flask

from advocacy_portal.testing.stripe_server import FakeStripe


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
