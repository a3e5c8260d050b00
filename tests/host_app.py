"""The suite's own host app: a small shop with its own users, Flask-Login, CSRFProtect, login and signup,
and Advocacy Portal added the way the README tells a host to (flaskr and Flask-Security style).

Not the demo (``wsgi.py``): tests that need the demo itself say so with ``@pytest.mark.demo``.
Its pages are in :data:`SHOP_TEMPLATES`; a test adds its own with :func:`add_templates`, which win over the
plugin's as a host's ``templates/`` folder does.
"""

from __future__ import annotations

import time

from flask import Flask
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import LoginManager
from flask_login import UserMixin
from flask_login import current_user
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
from advocacy_portal import outbox
from advocacy_portal.services import payments
from advocacy_portal.services.links import safe_destination
from advocacy_portal.testing.stripe_events import WEBHOOK_SECRET

_UNKNOWN_USER_HASH = generate_password_hash("no account has this password", method="pbkdf2:sha256:1000")

#: The shop's products, for product reviews (``SHOP_PRODUCTS`` config replaces them; ``{}`` turns reviews off).
SHOP_PRODUCTS = {"starter": "Starter plan", "pro": "Pro plan", "team": "Team plan"}


class ShopBase(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=ShopBase)
login_manager = LoginManager()
csrf = CSRFProtect()
portal = AdvocacyPortal()


class User(UserMixin, db.Model):
    __tablename__ = "shop_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_staff: Mapped[bool] = mapped_column(default=False)


class Note(db.Model):
    """A row the shop's own outbox task writes (``shop.note``): the fault tests count them."""

    __tablename__ = "shop_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(200))
    task_id: Mapped[int] = mapped_column()


@outbox.handler("shop.note")
def write_note(task: outbox.Task) -> None:
    """The shop's own side effect through the plugin's outbox: sleep ``sleep`` seconds (a slow call),
    fail the first ``fail`` attempts, then write a :class:`Note`."""
    time.sleep(float(task.payload.get("sleep", 0)))
    if task.attempts <= int(task.payload.get("fail", 0)):
        raise RuntimeError(f"shop.note failed on purpose (attempt {task.attempts})")
    db.session.add(Note(text=task.payload["text"], task_id=task.id))


@login_manager.user_loader
def load_user(user_id: str):
    return db.session.get(User, int(user_id)) if user_id.isdigit() else None


@portal.product_catalogue
def shop_products() -> dict:
    return current_app.config.get("SHOP_PRODUCTS", SHOP_PRODUCTS)


def _sqlite_pragmas(dbapi_connection, connection_record):
    # As the demo does: readers beside the writer (the browser tests' server threads), foreign keys checked.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email()], render_kw={"autocomplete": "email"})
    password = PasswordField("Password", validators=[DataRequired()],
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField("Log in")


class SignupForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired(), Length(max=100)],
                       render_kw={"autocomplete": "name"})
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=320)],
                       render_kw={"autocomplete": "email"})
    password = PasswordField("Password", validators=[DataRequired(), Length(min=8, max=200)],
                             render_kw={"autocomplete": "new-password"})
    submit = SubmitField("Create account")


class BuyForm(FlaskForm):
    pass


class LogoutForm(FlaskForm):
    submit = SubmitField("Log out")


SHOP_TEMPLATES = {
    "shop/layout.html": """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{% block title %}Test Shop{% endblock %}</title>
  {{ advocacy_head() }}
  <style nonce="{{ advocacy_csp_nonce() }}">
    .shop-nav { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; padding: .75rem 1rem; background: #10243e; }
    .shop-nav span { overflow-wrap: anywhere; min-width: 0; }
    .shop-nav, .shop-nav a, .shop-nav button { color: #fff; font: inherit; }
    .shop-nav button { background: none; border: 1px solid #fff; border-radius: .25rem; cursor: pointer; }
    .shop-nav .shop-brand { font-weight: 700; text-decoration: none; margin-right: auto; }
    .shop-field { margin-bottom: .75rem; }
    .shop-field label { display: block; font-weight: 600; }
    .shop-error { color: #b3261e; margin: .25rem 0 0; }
  </style>
  {% block head %}{% endblock %}
</head>
<body class="advocacy">
  <a class="advocacy-skip" href="#advocacy-main">Skip to content</a>
  <nav class="shop-nav" aria-label="Test shop">
    <a class="shop-brand" href="{{ url_for('home') }}">Test Shop</a>
    {% if current_user.is_authenticated %}
      <a href="{{ url_for('advocacy_referrals.page') }}">Refer a friend</a>
      <a href="{{ url_for('advocacy_rewards.ledger') }}">Rewards</a>
      <a href="{{ url_for('advocacy_testimonials.new') }}">Write a testimonial</a>
      {% if current_user.is_staff %}<a href="{{ url_for('advocacy_admin.overview') }}">Admin</a>{% endif %}
      <span>{{ current_user.email }}</span>
      <form method="post" action="{{ url_for('logout') }}">{{ logout_form.csrf_token }}<button type="submit">Log out</button></form>
    {% else %}
      <a href="{{ url_for('advocacy_testimonials.wall') }}">Testimonials</a>
      <a href="{{ url_for('login') }}">Log in</a>
      <a href="{{ url_for('signup') }}">Sign up</a>
    {% endif %}
  </nav>
  <main id="advocacy-main" class="advocacy-main" tabindex="-1">
    {% with messages = get_flashed_messages(with_categories=true) %}
      {# role="status" on a wrapper: a <ul> keeps its list role, so its items stay list items (axe). #}
      {% if messages %}<div role="status"><ul class="advocacy-flashes">
        {% for category, message in messages %}<li class="advocacy-flash advocacy-flash--{{ category }}">{{ message }}</li>{% endfor %}
      </ul></div>{% endif %}
    {% endwith %}
    {% block content %}{% endblock %}
  </main>
  {% block scripts %}{% endblock %}
</body>
</html>""",
    "shop/field.html": """{% macro field(f) %}
<div class="shop-field">
  {{ f.label }}
  {{ f(class_="advocacy-input", **({"aria-invalid": "true", "aria-describedby": f.id ~ "-error"} if f.errors else {})) }}
  {% for error in f.errors %}<p class="shop-error" id="{{ f.id }}-error">{{ error }}</p>{% endfor %}
</div>
{% endmacro %}""",
    "shop/home.html": """{% extends "shop/layout.html" %}
{% block content %}
<h1>Test Shop</h1>
{% if current_user.is_authenticated %}<p>Hello {{ current_user.name }}.</p>{% endif %}
{% from "advocacy/testimonials/macros.html" import testimonial_wall %}
<h2>What our customers say</h2>
{{ testimonial_wall(advocacy_testimonials(limit=3)) }}
{% endblock %}""",
    "shop/login.html": """{% extends "shop/layout.html" %}
{% from "shop/field.html" import field %}
{% block title %}Log in · Test Shop{% endblock %}
{% block content %}
<h1>Log in</h1>
<form method="post" novalidate>
  {{ form.csrf_token }}
  {{ field(form.email) }}
  {{ field(form.password) }}
  {{ form.submit(class_="advocacy-button") }}
</form>
{% endblock %}""",
    "shop/buy.html": """{% extends "shop/layout.html" %}
{% block title %}Buy · Test Shop{% endblock %}
{% block content %}
<h1>Pro plan</h1>
<p>One year of the Pro plan: $99.00, paid once.</p>
<form method="post">{{ form.csrf_token }}<button type="submit" class="advocacy-button">Buy the Pro plan</button></form>
{% endblock %}""",
    "shop/signup.html": """{% extends "shop/layout.html" %}
{% from "shop/field.html" import field %}
{% block title %}Sign up · Test Shop{% endblock %}
{% block content %}
<h1>Create your account</h1>
{% from "advocacy/referrals/welcome.html" import friend_welcome %}
{{ friend_welcome(advocacy_friend_welcome()) }}
<form method="post" novalidate>
  {{ form.csrf_token }}
  {{ field(form.name) }}
  {{ field(form.email) }}
  {{ field(form.password) }}
  {{ form.submit(class_="advocacy-button") }}
</form>
{% endblock %}""",
}


def add_templates(app: Flask, templates: dict) -> None:
    """Give ``app`` more templates of its own (``{"path": "source"}``), found before the shop's and the plugin's."""
    app.jinja_loader.mapping.update(templates)


def create_app(config: dict | None = None) -> Flask:
    """Build the test shop; ``config`` overrides its defaults."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="test-shop-secret-key",
        ADVOCACY_LANDING_URL="/signup",
        ADVOCACY_BASE_TEMPLATE="shop/layout.html",
        ADVOCACY_PROGRAM_NAME="Test Shop referrals",
        ADVOCACY_OFFER_TEXT="Give friends a warm welcome to Test Shop: share your link.",
        ADVOCACY_WIDGET_ORIGINS=("http://localhost:5000", "http://127.0.0.1:5000"),
        ADVOCACY_STRIPE_WEBHOOK_SECRETS=[WEBHOOK_SECRET],
        ADVOCACY_REWARD_RULES={
            "default": {"type": "percent", "percent": 10, "currency": "usd", "recurring_months": 0,
                        "min_purchase_minor": 0, "monthly_cap_minor": None,
                        "friend_reward": {"percent_off": 10}},
            "campaigns": {},
        },
    )
    app.config.update(config or {})
    app.jinja_loader = DictLoader(dict(SHOP_TEMPLATES))  # the shop's own templates/, in memory

    db.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "login"
    csrf.init_app(app)
    portal.init_app(app)
    with app.app_context():
        event.listen(db.engine, "connect", _sqlite_pragmas)

    @app.context_processor
    def _shop_globals():
        # formdata=None: the nav form never reads the request body (which may be refused as too large).
        return {"logout_form": LogoutForm(formdata=None)}

    @app.get("/favicon.ico")
    def favicon():
        return "", 204  # no icon; a 404 would show up in every browser test's console

    @app.get("/")
    def home():
        return render_template("shop/home.html")

    @app.route("/login", methods=["GET", "POST"])
    def login():
        form = LoginForm()
        if form.validate_on_submit():
            email = form.email.data.strip().lower()
            user = db.session.scalar(select(User).where(User.email == email))
            password_hash = user.password_hash if user is not None else _UNKNOWN_USER_HASH
            if check_password_hash(password_hash, form.password.data) and user is not None:
                login_user(user)
                return redirect(safe_destination(request.args.get("next"), None) or url_for("home"))
            form.password.errors.append("That email and password do not match.")
        return render_template("shop/login.html", form=form), 400 if form.errors else 200

    @app.route("/signup", methods=["GET", "POST"])
    def signup():
        form = SignupForm()
        if form.validate_on_submit():
            email = form.email.data.strip().lower()
            if db.session.scalar(select(User).where(User.email == email)) is not None:
                form.email.errors.append("An account with this email exists already: log in.")
            else:
                user = User(email=email, name=form.name.data.strip(),
                            password_hash=generate_password_hash(form.password.data, method="pbkdf2:sha256:1000"))
                db.session.add(user)
                db.session.flush()
                portal.attribute_signup(user)  # credits the referral link they followed, commits
                login_user(user)
                flash("Welcome to Test Shop!", "success")
                return redirect(url_for("home"))
        referred = app.config["ADVOCACY_COOKIE_NAME"] in request.cookies
        return render_template("shop/signup.html", form=form, referred=referred), 400 if form.errors else 200

    @app.route("/buy", methods=["GET", "POST"])
    @login_required
    def buy():
        # The shop's own one-off Checkout, merged with the plugin's parameters as the README shows.
        form = BuyForm()
        if not form.validate_on_submit():
            return render_template("shop/buy.html", form=form)
        params = {
            "mode": "payment",
            "customer_email": current_user.email,
            "metadata": {"order": "pro-plan"},
            "line_items": [{"quantity": 1, "price_data": {"currency": "usd", "unit_amount": 9900,
                                                          "product_data": {"name": "Pro plan"}}}],
            "allow_promotion_codes": True,
            "success_url": url_for("home", _external=True) + "?paid={CHECKOUT_SESSION_ID}",
        }
        session = payments.stripe_client().v1.checkout.sessions.create(
            portal.merge_checkout_params(current_user, params)
        )
        return redirect(session.url, code=303)

    @app.post("/logout")
    @login_required
    def logout():
        if LogoutForm().validate_on_submit():
            logout_user()
        return redirect(url_for("home"))

    return app
