"""Demo host app: a tiny shop with its own users, login and signup, and Advocacy Portal added.

Run it (see README)::

    flask --app wsgi advocacy seed-demo
    flask --app wsgi run

Every setting can be given as an environment variable prefixed ``DEMO_``, e.g.
``DEMO_SQLALCHEMY_DATABASE_URI=postgresql://...`` or ``DEMO_ADVOCACY_CLICK_DEDUPE_SECONDS=0``.
"""

from __future__ import annotations

import os
import random
import secrets
from datetime import timedelta

import click
from flask import Flask
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask.cli import with_appcontext
from flask_login import LoginManager
from flask_login import current_user
from flask_login import UserMixin
from flask_login import login_required
from flask_login import login_user
from flask_login import logout_user
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from flask_wtf import FlaskForm
from jinja2 import DictLoader
from sqlalchemy import String
from sqlalchemy import event
from sqlalchemy import select
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash
from wtforms import EmailField
from wtforms import PasswordField
from wtforms import StringField
from wtforms import SubmitField
from wtforms.validators import DataRequired
from wtforms.validators import Email
from wtforms.validators import Length

from advocacy_portal import AdvocacyPortal
from advocacy_portal.services.links import safe_destination

DEMO_PASSWORD = "demo-password"
_UNKNOWN_USER_HASH = generate_password_hash("no account has this password")


class HostBase(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=HostBase)
login_manager = LoginManager()
csrf = CSRFProtect()
portal = AdvocacyPortal()


class User(UserMixin, db.Model):
    """The host's own user model: the plugin never owns users."""

    __tablename__ = "demo_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_staff: Mapped[bool] = mapped_column(default=False)


@login_manager.user_loader
def load_user(user_id: str):
    return db.session.get(User, int(user_id)) if user_id.isdigit() else None


def _sqlite_pragmas(dbapi_connection, connection_record):
    # The demo's embedded database: write-ahead logging lets readers and the writer work side by side.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email()], render_kw={"autocomplete": "email"})
    password = PasswordField(
        "Password", validators=[DataRequired()], render_kw={"autocomplete": "current-password"}
    )
    submit = SubmitField("Log in")


class SignupForm(FlaskForm):
    name = StringField(
        "Your name", validators=[DataRequired(), Length(max=100)], render_kw={"autocomplete": "name"}
    )
    email = EmailField(
        "Email",
        validators=[DataRequired(), Email(), Length(max=320)],
        render_kw={"autocomplete": "email"},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired(), Length(min=8, max=200)],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField("Create account")


class LogoutForm(FlaskForm):
    submit = SubmitField("Log out")


DEMO_TEMPLATES = {
    # A page of "another website" (a partner blog) embedding both widget modes. The demo serves it on
    # the shop's twin host name (localhost <-> 127.0.0.1): same server, another origin.
    "demo/partner.html": """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Partner blog · embeds Demo Shop's widget</title>
  <style nonce="{{ nonce }}">
    body { font: 17px/1.6 Georgia, serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
    .partner-note { background: #f4f1e8; border-left: 4px solid #b08d2a; padding: .5rem 1rem; font-size: .9rem; }
    code { font-size: .85em; }
  </style>
</head>
<body>
  <header><p><strong>The Partner Blog</strong>: another website, at <code>{{ partner_origin }}</code></p></header>
  <main>
    <h1>Tools we love</h1>
    <p class="partner-note">This page stands in for a site that is not the shop: it is served from
      <code>{{ partner_origin }}</code> and loads Demo Shop's widget from <code>{{ shop_origin }}</code>, under a
      strict Content-Security-Policy. {% if signed_in %}The shop vouched for you with an identity token, so the
      widget shows your own link.{% else %}You are not signed in at the shop, so the widget invites you to sign in.
      <a href="{{ shop_origin }}/login">Log in at the shop</a> and come back through its "Widget on another site" link.{% endif %}
      {% if not listed %}<br><strong>This origin is not in ADVOCACY_WIDGET_ORIGINS</strong>: the widget cannot
      read the shop's data here. Start the demo with
      <code>DEMO_ADVOCACY_WIDGET_ORIGINS='["{{ partner_origin }}"]'</code>.{% endif %}</p>
    <p>We have been using Demo Shop for a year. If you want to try it, here is a referral offer:</p>
    <script src="{{ shop_origin }}/advocacy/widget/widget.js" data-mode="referral"
            {% if token %}data-token="{{ token }}"{% endif %}></script>
    <h2>What other customers say</h2>
    <div data-advocacy-widget data-mode="testimonials" data-layout="carousel"></div>
    <p>And a few more, side by side:</p>
    <div data-advocacy-widget data-mode="testimonials" data-limit="3"
         data-text-heading="More reviews"></div>
    <p>Thanks for reading.</p>
  </main>
</body>
</html>""",
    "demo/layout.html": """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{% block title %}Demo Shop{% endblock %}</title>
  <link rel="stylesheet" href="{{ url_for('advocacy_referrals.static', filename='advocacy.css') }}">
  <style>
    .demo-nav { display: flex; gap: 1rem; align-items: center; padding: .75rem 1rem; background: #10243e; }
    .demo-nav, .demo-nav a, .demo-nav button { color: #fff; font: inherit; }
    .demo-nav button { background: none; border: 1px solid #fff; border-radius: .25rem; cursor: pointer; }
    .demo-nav .demo-brand { font-weight: 700; text-decoration: none; margin-right: auto; }
    .demo-field { margin-bottom: .75rem; }
    .demo-field label { display: block; font-weight: 600; }
    .demo-error { color: #b3261e; margin: .25rem 0 0; }
  </style>
  {% block head %}{% endblock %}
</head>
<body class="advocacy">
  <a class="advocacy-skip" href="#advocacy-main">Skip to content</a>
  <nav class="demo-nav" aria-label="Demo shop">
    <a class="demo-brand" href="{{ url_for('home') }}">Demo Shop</a>
    {% if current_user.is_authenticated %}
      <a href="{{ url_for('advocacy_referrals.page') }}">Refer a friend</a>
      <a href="{{ url_for('advocacy_rewards.ledger') }}">Rewards</a>
      <a href="{{ url_for('advocacy_testimonials.new') }}">Write a testimonial</a>
      <a href="{{ url_for('widget_demo') }}">Widget on another site</a>
      {% if current_user.is_staff %}<a href="{{ url_for('advocacy_admin.overview') }}">Admin</a>{% endif %}
      <span>{{ current_user.email }}</span>
      <form method="post" action="{{ url_for('logout') }}">{{ logout_form.csrf_token }}<button type="submit">Log out</button></form>
    {% else %}
      <a href="{{ url_for('advocacy_testimonials.wall') }}">Testimonials</a>
      <a href="{{ url_for('widget_demo') }}">Widget on another site</a>
      <a href="{{ url_for('login') }}">Log in</a>
      <a href="{{ url_for('signup') }}">Sign up</a>
    {% endif %}
  </nav>
  <main id="advocacy-main" class="advocacy-main" tabindex="-1">
    {% with messages = get_flashed_messages(with_categories=true) %}
      {% if messages %}<ul class="advocacy-flashes" role="status">
        {% for category, message in messages %}<li class="advocacy-flash advocacy-flash--{{ category }}">{{ message }}</li>{% endfor %}
      </ul>{% endif %}
    {% endwith %}
    {% block content %}{% endblock %}
  </main>
  {% block scripts %}{% endblock %}
</body>
</html>""",
    "demo/field.html": """{% macro field(f) %}
<div class="demo-field">
  {{ f.label }}
  {{ f(class_="advocacy-input", **({"aria-invalid": "true", "aria-describedby": f.id ~ "-error"} if f.errors else {})) }}
  {% for error in f.errors %}<p class="demo-error" id="{{ f.id }}-error">{{ error }}</p>{% endfor %}
</div>
{% endmacro %}""",
    "demo/home.html": """{% extends "demo/layout.html" %}
{% block content %}
<h1>Demo Shop</h1>
{% if current_user.is_authenticated %}
  <p>Hello {{ current_user.name }}. Tell your friends: <a href="{{ url_for('advocacy_referrals.page') }}">get your referral link</a>.</p>
{% else %}
  <p>This is the demo host of Advocacy Portal. <a href="{{ url_for('signup') }}">Sign up</a> or
  <a href="{{ url_for('login') }}">log in</a> as <code>alice@example.com</code> (password <code>demo-password</code>),
  or as <code>staff@example.com</code> for the admin pages.</p>
{% endif %}
{% from "advocacy/testimonials/macros.html" import testimonial_wall %}
<h2>What our customers say</h2>
{{ testimonial_wall(advocacy_testimonials(limit=3)) }}
<p><a href="{{ url_for('advocacy_testimonials.wall') }}">Read them all</a></p>
{% endblock %}""",
    "demo/login.html": """{% extends "demo/layout.html" %}
{% from "demo/field.html" import field %}
{% block title %}Log in · Demo Shop{% endblock %}
{% block content %}
<h1>Log in</h1>
<form method="post" novalidate>
  {{ form.csrf_token }}
  {{ field(form.email) }}
  {{ field(form.password) }}
  {{ form.submit(class_="advocacy-button") }}
</form>
<p>New here? <a href="{{ url_for('signup') }}">Create an account</a>.</p>
{% endblock %}""",
    "demo/signup.html": """{% extends "demo/layout.html" %}
{% from "demo/field.html" import field %}
{% block title %}Sign up · Demo Shop{% endblock %}
{% block content %}
<h1>Create your account</h1>
{% if referred %}<p class="advocacy-offer">A friend invited you: welcome!</p>{% endif %}
<form method="post" novalidate>
  {{ form.csrf_token }}
  {{ field(form.name) }}
  {{ field(form.email) }}
  {{ field(form.password) }}
  {{ form.submit(class_="advocacy-button") }}
</form>
{% endblock %}""",
}


def create_app(config: dict | None = None) -> Flask:
    """Build the demo shop. ``config`` overrides the defaults and ``DEMO_*`` environment variables."""
    app = Flask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(
        SECRET_KEY="demo-secret-key-change-me",
        SQLALCHEMY_DATABASE_URI="sqlite:///" + os.path.join(app.instance_path, "demo.sqlite"),
        ADVOCACY_LANDING_URL="/signup",
        ADVOCACY_BASE_TEMPLATE="demo/layout.html",
        ADVOCACY_PROGRAM_NAME="Demo Shop referrals",
        ADVOCACY_OFFER_TEXT="Give friends a warm welcome to Demo Shop: share your link.",
        # The demo's "other website" is the same server under its twin host name (see /widget-demo).
        ADVOCACY_WIDGET_ORIGINS=("http://localhost:5000", "http://127.0.0.1:5000"),
    )
    _demo_stripe_defaults(app)
    app.config.from_prefixed_env("DEMO")
    app.config.update(config or {})
    app.jinja_loader = DictLoader(dict(DEMO_TEMPLATES))

    db.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "login"
    csrf.init_app(app)
    portal.init_app(app)
    with app.app_context():
        event.listen(db.engine, "connect", _sqlite_pragmas)

    @app.context_processor
    def _demo_globals():
        # formdata=None: the nav form never reads the request body (which may be refused as too large).
        return {"logout_form": LogoutForm(formdata=None)}

    @app.get("/favicon.ico")
    def favicon():
        return "", 204  # the demo has no icon; say so instead of a 404 in every browser console

    @app.get("/")
    def home():
        return render_template("demo/home.html")

    @app.route("/login", methods=["GET", "POST"])
    def login():
        form = LoginForm()
        if form.validate_on_submit():
            email = form.email.data.strip().lower()
            user = db.session.scalar(select(User).where(User.email == email))
            # Hash even for unknown emails, so response time does not tell which accounts exist.
            password_hash = user.password_hash if user is not None else _UNKNOWN_USER_HASH
            if check_password_hash(password_hash, form.password.data) and user is not None:
                login_user(user)
                target = safe_destination(request.args.get("next"), None)
                return redirect(target or url_for("home"))
            form.password.errors.append("That email and password do not match.")
        return render_template("demo/login.html", form=form), 400 if form.errors else 200

    @app.route("/signup", methods=["GET", "POST"])
    def signup():
        form = SignupForm()
        if form.validate_on_submit():
            email = form.email.data.strip().lower()
            if db.session.scalar(select(User).where(User.email == email)) is not None:
                form.email.errors.append("An account with this email exists already: log in.")
            else:
                user = User(
                    email=email,
                    name=form.name.data.strip(),
                    password_hash=generate_password_hash(form.password.data),
                )
                db.session.add(user)
                db.session.flush()
                portal.attribute_signup(user)  # credits the referral link they followed, commits
                login_user(user)
                flash("Welcome to Demo Shop!", "success")
                return redirect(url_for("home"))
        referred = app.config["ADVOCACY_COOKIE_NAME"] in request.cookies
        status = 400 if form.errors else 200
        return render_template("demo/signup.html", form=form, referred=referred), status

    @app.post("/logout")
    @login_required
    def logout():
        if LogoutForm().validate_on_submit():
            logout_user()
        return redirect(url_for("home"))

    @app.get("/widget-demo")
    def widget_demo():
        # The shop mints the identity token on its own server, for the signed-in user only, and hands
        # the page of "another website" to the browser. A real partner page would get it the same way
        # from its own backend (single sign-on); the demo passes it in the URL.
        token = portal.widget_token(current_user) if current_user.is_authenticated else None
        partner = _twin_origin(request.host_url)
        return redirect(f"{partner}/partner" + (f"?token={token}" if token else ""))

    @app.get("/partner")
    def partner_site():
        nonce = secrets.token_urlsafe(16)
        partner_origin = request.host_url.rstrip("/")
        shop_origin = _twin_origin(request.host_url)
        token = request.args.get("token")
        html = render_template(
            "demo/partner.html",
            nonce=nonce,
            token=token,
            signed_in=bool(token),
            partner_origin=partner_origin,
            shop_origin=shop_origin,
            listed=partner_origin in app.config["ADVOCACY_WIDGET_ORIGINS"] or partner_origin == shop_origin,
        )
        # Exactly the directives the README lists for the widget, plus this page's own inline style.
        csp = (f"default-src 'none'; script-src {shop_origin}; connect-src {shop_origin}; "
               f"img-src {shop_origin}; style-src 'nonce-{nonce}'; frame-ancestors 'none'")
        return html, 200, {"Content-Security-Policy": csp, "Referrer-Policy": "no-referrer",
                           "Cache-Control": "private, no-store"}

    app.cli.commands["advocacy"].add_command(seed_demo)
    _demo_stripe_setup(app)
    return app


def _twin_origin(host_url: str) -> str:
    """The same server under its other loopback name (``localhost`` <-> ``127.0.0.1``): another origin,
    so the demo can show the widget embedded on "another website" without a second server."""
    origin = host_url.rstrip("/")
    for name, twin in (("//localhost", "//127.0.0.1"), ("//127.0.0.1", "//localhost")):
        if name + ":" in origin or origin.endswith(name):
            return origin.replace(name, twin, 1)
    return origin  # another host name: the partner page is served same-origin


@click.command("seed-demo")
@click.option("--force", is_flag=True, help="Seed again even if demo users exist.")
@with_appcontext
def seed_demo(force: bool) -> None:
    """Demo host only: create the tables, demo users (password 'demo-password') and activity."""
    from flask import current_app

    from advocacy_portal import migrate
    from advocacy_portal.models import utcnow
    from advocacy_portal.services import referrals
    from advocacy_portal.services.links import AttributionClaim

    app = current_app._get_current_object()
    db.create_all()
    migrate.upgrade(app)
    if not force and db.session.scalar(select(User).limit(1)) is not None:
        click.echo("Demo data exists already (use --force to add more).")
        return

    rng = random.Random(7)
    password_hash = generate_password_hash(DEMO_PASSWORD)

    def user(email: str, name: str, staff: bool = False) -> User:
        found = db.session.scalar(select(User).where(User.email == email))
        if found is None:
            found = User(email=email, name=name, password_hash=password_hash, is_staff=staff)
            db.session.add(found)
            db.session.flush()
        return found

    user("staff@example.com", "Sam Staff", staff=True)
    alice = user("alice@example.com", "Alice Advocate")
    bob = user("bob@example.com", "Bob Builder")
    user("carol@example.com", "Carol Newcomer")

    agents = [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
        "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36",
    ]
    referrers = ["https://x.com/", "https://www.linkedin.com/feed/", None, "https://mail.example/"]
    now = utcnow()
    for advocate_user, clicks in ((alice, 24), (bob, 7)):
        advocate = referrals.ensure_advocate(advocate_user.id, advocate_user.email)
        for n in range(clicks):
            visit = referrals.Visit(
                ip=f"198.51.100.{rng.randrange(1, 250)}",
                user_agent=rng.choice(agents),
                referrer=rng.choice(referrers),
            )
            referrals.record_click(
                advocate, None, visit, now=now - timedelta(days=rng.randrange(0, 20), minutes=n)
            )
    alice_advocate = referrals.get_advocate(alice.id)
    for email, name, paid in (
        ("dave@example.com", "Dave Friend", True),
        ("erin@example.com", "Erin Friend", False),
        ("frank@example.com", "Frank Friend", True),
    ):
        friend = user(email, name)
        claim = AttributionClaim(alice_advocate.code, None, None, now - timedelta(days=3))
        referrals.attribute_signup(friend.id, friend.email, claim)
        if paid:
            referrals.mark_friend_paid(friend.id, now - timedelta(days=1))
    # Bob tried to refer himself with a second address: refused and flagged.
    bob_advocate = referrals.get_advocate(bob.id)
    sneaky = user("bob+second@example.com", "Bob Again")
    referrals.attribute_signup(
        sneaky.id, sneaky.email, AttributionClaim(bob_advocate.code, None, None, now)
    )
    seed_demo_testimonials(now)
    db.session.commit()
    click.echo(
        "Seeded demo users (password 'demo-password'): staff@example.com, alice@example.com, "
        "bob@example.com, carol@example.com and three of Alice's friends."
    )


# -- Testimonials and reviews in the demo ---------------------------------------------------------------

#: The demo shop's products, for product reviews (``DEMO_PRODUCTS`` config replaces them; ``{}`` turns
#: reviews off).
DEMO_PRODUCTS = {"starter": "Starter plan", "pro": "Pro plan", "team": "Team plan"}


@portal.product_catalogue
def demo_products() -> dict:
    from flask import current_app

    return current_app.config.get("DEMO_PRODUCTS", DEMO_PRODUCTS)


def seed_demo_testimonials(now) -> None:
    """Testimonials and reviews in every state, with their audit history and referral clicks."""
    import secrets

    from advocacy_portal.extension import Customer
    from advocacy_portal.services import referrals
    from advocacy_portal.services import testimonials

    def customer(email: str) -> Customer:
        found = db.session.scalar(select(User).where(User.email == email))
        return Customer(id=str(found.id), email=found.email)

    staff = customer("staff@example.com")
    entries = [
        # author, kind, product, rating, title, body, name, role, consent, outcome
        ("alice@example.com", "testimonial", None, 5, None,
         "Demo Shop changed how our team buys supplies. Ordering takes minutes, and support answers "
         "within the hour. I recommend it to every small business I meet.",
         "Alice A.", "Owner, Alice's Bakery", "publish_named", "featured"),
        ("dave@example.com", "review", "pro", 4, "Worth the upgrade",
         "The Pro plan pays for itself: the reports alone save me an afternoon every month.",
         "Dave", "Freelance designer", "publish_named", "approve"),
        ("frank@example.com", "review", "pro", 5, "Solid and simple",
         "Setup took ten minutes and nothing has broken since. Exactly what I wanted.",
         "Frank", None, "publish_anonymous", "approve"),
        ("bob@example.com", "testimonial", None, 4, None,
         "Good prices and a friendly team. Delivery could be faster, but they keep you informed.",
         "Bob B.", "Builder", "publish_named", "pending"),
        ("carol@example.com", "review", "starter", 2, "Not for me",
         "Buy now!!! Visit my site for cheap watches and more great deals every day.",
         "Carol", None, "publish_named", "reject"),
        ("erin@example.com", "testimonial", None, 5, None,
         "I told three friends about Demo Shop already. Thank you for the great service!",
         "Erin", None, "publish_named", "withdraw"),
        ("dave@example.com", "testimonial", None, 3, None,
         "Private feedback: the checkout page is slow on my phone, please have a look at it.",
         "Dave", None, "do_not_publish", "approve"),
        ("frank@example.com", "testimonial", None, 5, None,
         "Great product, but the old landing page promised features you no longer offer.",
         "Frank", None, "publish_named", "unpublish"),
    ]
    for email, kind, product, rating, title, body, name, role, consent, outcome in entries:
        author = customer(email)
        submitted = testimonials.submit(
            author, nonce=secrets.token_urlsafe(24), kind=kind, product_key=product, rating=rating,
            title=title, body=body, display_name=name, role=role, consent=consent,
        ).testimonial
        if outcome in ("approve", "featured", "unpublish"):
            testimonials.moderate(submitted.id, "approve", staff)
        if outcome == "featured":
            testimonials.moderate(submitted.id, "feature", staff)
            start = submitted.body.index("Ordering")
            testimonials.set_highlight(submitted.id, staff, start, submitted.body.index(",", start))
        elif outcome == "reject":
            testimonials.moderate(submitted.id, "reject", staff, reason="Advertising, not a review.")
        elif outcome == "unpublish":
            testimonials.moderate(submitted.id, "unpublish", staff, reason="Mentions an old offer.")
        elif outcome == "withdraw":
            testimonials.withdraw(submitted, author)
    # Visitors who followed the featured testimonial's link.
    featured = db.session.scalar(
        select(testimonials.Testimonial).where(testimonials.Testimonial.featured.is_(True))
    )
    advocate = referrals.get_advocate(featured.author_user_id)
    for n in range(5):
        visit = referrals.Visit(
            ip=f"192.0.2.{10 + n}",
            user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0",
            referrer="https://shop.example/",
        )
        referrals.record_click(advocate, featured.campaign, visit, now=now - timedelta(hours=n))
# -- Stripe in the demo: a local Stripe-compatible server and signed test events ---------------------------

#: The demo's own webhook secret; a real shop uses the one its Stripe dashboard shows.
DEMO_WEBHOOK_SECRET = "whsec_demo_only_not_a_secret"
_demo_fake_stripe = None


def _demo_stripe_defaults(app: Flask) -> None:
    app.config.update(
        ADVOCACY_STRIPE_WEBHOOK_SECRETS=[DEMO_WEBHOOK_SECRET],
        ADVOCACY_REWARD_RULES={
            "default": {"type": "percent", "percent": 10, "currency": "usd", "recurring_months": 0,
                        "min_purchase_minor": 0, "monthly_cap_minor": None,
                        "friend_reward": {"percent_off": 10}},
            "campaigns": {},
        },
    )


def _demo_stripe_setup(app: Flask) -> None:
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
    from advocacy_portal.testing.stripe_server import FakeStripe

    if _demo_fake_stripe is None:
        _demo_fake_stripe = FakeStripe().start()
    app.config["ADVOCACY_STRIPE_SECRET_KEY"] = _demo_fake_stripe.api_key
    app.config["ADVOCACY_STRIPE_API_BASE"] = _demo_fake_stripe.base_url
    return _demo_fake_stripe.base_url


@click.group("demo-stripe")
def demo_stripe() -> None:
    """Demo host only: send signed Stripe test events to the demo's own webhook."""


def _send_demo_event(event: dict, url: str | None) -> None:
    from flask import current_app

    from advocacy_portal.testing.stripe_events import signed_request

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
    from advocacy_portal.models import Conversion

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
    from advocacy_portal.testing import stripe_events

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
    from advocacy_portal.testing import stripe_events

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
    from advocacy_portal.testing import stripe_events

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
    from advocacy_portal.models import utcnow
    from advocacy_portal.services import rewards

    summary = rewards.release_due(now=utcnow() + timedelta(days=36500))
    click.echo(f"Released {summary.released} reward(s) early (demo only).")


app = create_app()
