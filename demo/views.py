"""The demo host's own pages: home, login, signup, logout, and the widget on "another website"."""

from __future__ import annotations

import secrets

from flask import Flask
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from flask_login import login_required
from flask_login import login_user
from flask_login import logout_user
from sqlalchemy import select
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash

from advocacy_portal.services.links import same_site_destination
from advocacy_portal.services.links import site_origin
from demo.extensions import db
from demo.extensions import portal
from demo.forms import LoginForm
from demo.forms import LogoutForm
from demo.forms import SignupForm
from demo.models import User

_UNKNOWN_USER_HASH = generate_password_hash("no account has this password")


def register_views(app: Flask) -> None:
    """Add the demo's pages to ``app`` (endpoints ``home``, ``login``, ``signup``, ``logout``...)."""
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        # Flask sends the session cookie with no SameSite; Lax keeps it off other sites' POSTs and frames.
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.context_processor(_demo_globals)
    app.add_url_rule("/favicon.ico", view_func=favicon, methods=["GET"])
    app.add_url_rule("/", view_func=home, methods=["GET"])
    app.add_url_rule("/login", view_func=login, methods=["GET", "POST"])
    app.add_url_rule("/signup", view_func=signup, methods=["GET", "POST"])
    app.add_url_rule("/logout", view_func=logout, methods=["POST"])
    app.add_url_rule("/widget-demo", view_func=widget_demo, methods=["GET"])
    app.add_url_rule("/partner", view_func=partner_site, methods=["GET"])
    # The shop's own error pages, in its layout (the plugin's pages have theirs: ADVOCACY_ERROR_TEMPLATE).
    app.register_error_handler(CSRFError, csrf_failed)
    app.register_error_handler(HTTPException, http_error)


def _demo_globals():
    # formdata=None: the nav form never reads the request body (which may be refused as too large).
    return {"logout_form": LogoutForm(formdata=None)}


#: Titles of the shop's error pages, by status.
ERROR_TITLES = {400: "Something was wrong with that request", 403: "Not allowed", 404: "Page not found",
                405: "That action isn't available here", 413: "That was too large", 429: "Too many requests"}


def http_error(error: HTTPException):
    status = error.code or 500
    message = {404: "There is no page at this address. Check the link, or start again from the home page."}.get(
        status, error.description)
    return render_template("demo/error.html", title=ERROR_TITLES.get(status, "Something went wrong"),
                           message=message, retry_url=None), status


def csrf_failed(error: CSRFError):
    # The form expired (the session ended) or another site sent it: say so, and offer the form again.
    # Logging out needs no second link: this page's own header carries a fresh "Log out" button.
    retry = {"login": (url_for("login"), "Log in again"),
             "signup": (url_for("signup"), "Back to sign up")}.get(request.endpoint, (None, None))
    if request.endpoint == "logout":
        message = ("You were not logged out: the page you used had expired. Press Log out at the top of "
                   "this page to log out now.")
    else:
        message = "This form expired or was not sent from this site, so nothing was done. Open it again and retry."
    return render_template("demo/error.html", title="This form expired", message=message,
                           retry_url=retry[0], retry_label=retry[1]), 400


def favicon():
    return "", 204  # the demo has no icon; say so instead of a 404 in every browser console


def home():
    return render_template("demo/home.html")


def login():
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db.session.scalar(select(User).where(User.email == email))
        # Hash even for unknown emails, so response time does not tell which accounts exist.
        password_hash = user.password_hash if user is not None else _UNKNOWN_USER_HASH
        if check_password_hash(password_hash, form.password.data) and user is not None:
            login_user(user)
            target = same_site_destination(request.args.get("next"))
            return redirect(target or url_for("home"))
        form.password.errors.append("That email and password do not match.")
    return render_template("demo/login.html", form=form), 400 if form.errors else 200


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
    referred = current_app.config["ADVOCACY_COOKIE_NAME"] in request.cookies
    status = 400 if form.errors else 200
    return render_template("demo/signup.html", form=form, referred=referred), status


@login_required
def logout():
    if LogoutForm().validate_on_submit():
        logout_user()
    return redirect(url_for("home"))


def widget_demo():
    # The shop mints the identity token on its own server, for the signed-in user only, and hands
    # the page of "another website" to the browser. A real partner page would get it the same way
    # from its own backend (single sign-on); the demo passes it in the URL.
    token = portal.widget_token(current_user) if current_user.is_authenticated else None
    # The configured origin, not the Host header: a forged Host must not pick where this redirects.
    origin = site_origin()
    own = origin.url if origin is not None else request.host_url.rstrip("/")
    partner = twin_origin(own)
    if origin is None and not _is_loopback(request.host):
        partner = ""  # no configured site: stay on this host (a relative redirect)
    elif partner == own:
        partner = ""
    return redirect(f"{partner}/partner" + (f"?token={token}" if token else ""))


def _is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name in ("localhost", "127.0.0.1")


def partner_site():
    nonce = secrets.token_urlsafe(16)
    partner_origin = request.host_url.rstrip("/")
    # The shop is the configured site when there is one: a forged Host must not choose the scripts.
    site = site_origin()
    shop_origin = site.url if site is not None else twin_origin(request.host_url)
    token = request.args.get("token")
    html = render_template(
        "demo/partner.html",
        nonce=nonce,
        token=token,
        signed_in=bool(token),
        partner_origin=partner_origin,
        shop_origin=shop_origin,
        listed=(partner_origin in current_app.config["ADVOCACY_WIDGET_ORIGINS"]
                or partner_origin == shop_origin),
    )
    # Exactly the directives the README lists for the widget, plus this page's own inline style.
    csp = (f"default-src 'none'; script-src {shop_origin}; connect-src {shop_origin}; "
           f"img-src {shop_origin}; style-src 'nonce-{nonce}'; frame-ancestors 'none'")
    return html, 200, {"Content-Security-Policy": csp, "Referrer-Policy": "no-referrer",
                       "Cache-Control": "private, no-store"}


def twin_origin(host_url: str) -> str:
    """The same server under its other loopback name (``localhost`` <-> ``127.0.0.1``): another origin,
    so the demo can show the widget embedded on "another website" without a second server."""
    origin = host_url.rstrip("/")
    for name, twin in (("//localhost", "//127.0.0.1"), ("//127.0.0.1", "//localhost")):
        if name + ":" in origin or origin.endswith(name):
            return origin.replace(name, twin, 1)
    return origin  # another host name: the partner page is served same-origin
