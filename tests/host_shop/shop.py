"""A small shop that sells one-off plans through its own Stripe Checkout call, with Advocacy Portal added.

The lines ending in ``# advocacy`` are the whole integration; tests/test_host_shop.py counts them.
"""

import os

import stripe
from flask import Flask
from flask import redirect
from flask import request
from flask_login import LoginManager
from flask_login import UserMixin
from flask_login import current_user
from flask_login import login_required
from flask_login import login_user
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from jinja2 import DictLoader
from sqlalchemy import select
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from advocacy_portal import AdvocacyPortal  # advocacy

db = SQLAlchemy()
login_manager = LoginManager()
csrf = CSRFProtect()
portal = AdvocacyPortal()  # advocacy

LAYOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{% block title %}Plant Shop{% endblock %}</title>
{{ advocacy_head() }}{% block head %}{% endblock %}</head>
<body><nav><a href="/">Plant Shop</a> <a href="{{ url_for('advocacy_referrals.page') }}">Refer a friend</a>
<a href="{{ url_for('advocacy_rewards.ledger') }}">Rewards</a></nav>
<main class="advocacy">{% for message in get_flashed_messages() %}<p>{{ message }}</p>{% endfor %}
{% block content %}{% endblock %}</main>{% block scripts %}{% endblock %}</body></html>"""


class User(UserMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(unique=True)
    stripe_customer_id: Mapped[str | None]


@login_manager.user_loader
def load_user(user_id):
    return db.session.get(User, int(user_id))


@portal.stripe_customer  # advocacy
def shop_stripe_customer(customer):  # advocacy
    return db.session.get(User, int(customer.id)).stripe_customer_id  # advocacy


def create_app(config=None):
    app = Flask(__name__)
    app.config.update(SECRET_KEY="plant-shop", SQLALCHEMY_DATABASE_URI="sqlite:///shop.sqlite")
    app.config.update(ADVOCACY_BASE_TEMPLATE="layout.html", ADVOCACY_REDEMPTION_METHOD="promotion_code")  # advocacy
    app.config.update(ADVOCACY_STRIPE_SECRET_KEY=os.environ.get("STRIPE_SECRET_KEY"),  # advocacy
                      ADVOCACY_STRIPE_WEBHOOK_SECRETS=[os.environ.get("STRIPE_WEBHOOK_SECRET", "whsec_x")])  # advocacy
    app.config.update(config or {})
    app.jinja_loader = DictLoader({"layout.html": LAYOUT})
    db.init_app(app)
    login_manager.init_app(app)
    csrf.init_app(app)
    portal.init_app(app)  # advocacy

    @app.get("/")
    def home():
        return "Plants for every window sill."

    @app.post("/signup")
    def signup():
        user = User(email=request.form["email"])
        db.session.add(user)
        db.session.commit()
        login_user(user)
        portal.attribute_signup(user)  # advocacy
        return redirect("/")

    @app.post("/login")
    def log_in():
        login_user(db.session.scalar(select(User).where(User.email == request.form["email"])))
        return redirect("/")

    @app.post("/buy")
    @login_required
    def buy():
        params = {
            "mode": "payment",
            "customer_email": current_user.email,
            "metadata": {"order": "monstera-xl"},
            "line_items": [{"quantity": 1, "price_data": {"currency": "usd", "unit_amount": 9900,
                                                          "product_data": {"name": "Monstera XL"}}}],
            "allow_promotion_codes": True,
            "success_url": request.host_url + "thanks",
        }
        params = portal.merge_checkout_params(current_user, params)  # advocacy
        session = stripe.checkout.Session.create(**params)
        return redirect(session.url, code=303)

    return app
