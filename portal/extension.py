"""The Flask extension: settings, blueprints, CLI, templates and the host integration hooks."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from typing import Callable

from flask import Flask
from flask import after_this_request
from flask import current_app
from flask import has_app_context
from flask import has_request_context
from flask import request
from flask import url_for

from advocacy_portal import signals
from advocacy_portal.config import apply_defaults
from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.migrate import hide_tables_from_host_migrations
from advocacy_portal.services import links as link_service
from advocacy_portal.services import referrals as referral_service

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Customer:
    """Who a host user is to the plugin: the host's user id (as text) and email."""

    id: str
    email: str | None


class AdvocacyPortal:
    """The Advocacy Portal extension.

    ``AdvocacyPortal(app)`` or, in an app factory, ``portal = AdvocacyPortal()`` then
    ``portal.init_app(app)``. The plugin uses the app's Flask-SQLAlchemy session and Flask-Login's
    ``current_user``; both may be initialised before or after it, as long as they are by the first
    request.

    :param app: the Flask app, or ``None`` to call :meth:`init_app` later.
    """

    def __init__(self, app: Flask | None = None):
        self._identity_loader: Callable[[Any], Any] | None = None
        self._staff_loader: Callable[[Any], bool] | None = None
        if app is not None:
            self.init_app(app)

    # -- setup ------------------------------------------------------------------------------------

    def init_app(self, app: Flask) -> None:
        """Register the plugin on ``app``.

        :raises RuntimeError: when the plugin is registered twice, a setting is unknown or invalid,
            or the landing page is not a safe destination.
        """
        if "advocacy" in app.extensions:
            raise RuntimeError("Advocacy Portal is already registered on this app")
        apply_defaults(app)
        landing = app.config["ADVOCACY_LANDING_URL"]
        if link_service.safe_destination(
            landing, None, app.config["ADVOCACY_REDIRECT_ALLOWED_HOSTS"]
        ) is None:
            raise RuntimeError(
                f"ADVOCACY_LANDING_URL {landing!r} is neither a path on this site nor a URL on a host "
                "listed in ADVOCACY_REDIRECT_ALLOWED_HOSTS"
            )
        if not app.config.get("SECRET_KEY"):
            log.warning("Advocacy Portal: set SECRET_KEY before the first request; links are signed with it")

        from advocacy_portal.cli import make_cli

        prefix = app.config["ADVOCACY_URL_PREFIX"]
        for blueprint, url_prefix in _blueprints(prefix):
            app.register_blueprint(blueprint, url_prefix=url_prefix)
        app.cli.add_command(make_cli())
        signals.user_signed_up.connect(self._on_user_signed_up, weak=False)
        app.extensions["advocacy"] = self
        hide_tables_from_host_migrations(app)

    # -- host hooks ---------------------------------------------------------------------------------

    def customer_identity(self, loader: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """Decorator: tell the plugin how to read a host user's id and email.

        The function receives the host's user object and returns a :class:`Customer`, an
        ``(id, email)`` pair, or ``None`` for a user who is not a customer. Without it the plugin reads
        ``user.get_id()`` and the attribute named by ``ADVOCACY_USER_EMAIL_ATTR``.
        """
        self._identity_loader = loader
        return loader

    def staff_loader(self, loader: Callable[[Any], bool]) -> Callable[[Any], bool]:
        """Decorator: tell the plugin who is staff. Without it, a truthy ``ADVOCACY_STAFF_ATTR``
        attribute (``is_staff``) marks staff."""
        self._staff_loader = loader
        return loader

    # -- integration API ------------------------------------------------------------------------------

    def identify(self, user: Any) -> Customer | None:
        """The :class:`Customer` a host user is, or ``None`` for anonymous users and non-customers."""
        if user is None or not getattr(user, "is_authenticated", True):
            return None
        if self._identity_loader is not None:
            found = self._identity_loader(user)
            if found is None or isinstance(found, Customer):
                return found
            user_id, email = found
        else:
            get_id = getattr(user, "get_id", None)
            user_id = get_id() if callable(get_id) else getattr(user, "id", None)
            email = getattr(user, config_value("USER_EMAIL_ATTR"), None)
        if user_id is None:
            return None
        return Customer(id=str(user_id), email=email)

    def is_staff(self, user: Any) -> bool:
        """Whether a host user may use the staff pages."""
        if user is None or not getattr(user, "is_authenticated", False):
            return False
        if self._staff_loader is not None:
            return bool(self._staff_loader(user))
        return bool(getattr(user, config_value("STAFF_ATTR"), False))

    def advocate_for(self, user: Any):
        """The :class:`advocacy_portal.models.Advocate` of a host user, created on first use (flushed).

        :raises ValueError: when the user is anonymous or has no id yet.
        """
        customer = self.identify(user)
        if customer is None:
            raise ValueError("this user is not a customer (anonymous, or without an id)")
        return referral_service.ensure_advocate(customer.id, customer.email)

    def referral_link(
        self, user: Any, campaign: str | None = None, external: bool = True, commit: bool = True
    ) -> str:
        """The user's stable referral link, e.g. ``https://shop.example/r/<token>``.

        Needs an app context (and a request or ``SERVER_NAME`` for an external URL). Commits the
        session, so a link handed out works at once, unless ``commit`` is false (then commit it
        yourself, or the link of a first-time advocate answers 404).

        :raises ValueError: for an anonymous user or an invalid campaign slug.
        """
        advocate = self.advocate_for(user)
        token = referral_service.link_token(advocate, campaign)
        if commit:
            get_session().commit()
        return url_for("advocacy_links.follow", token=token, _external=external)

    def attribute_signup(self, user: Any, commit: bool = True):
        """Credit a just-created user to the referral link they followed, from the attribution cookie.

        Call it in the signup request after the user has an id (after ``flush`` or ``commit``). It
        credits each friend at most once, refuses and flags self-referrals, clears the cookie, and
        commits the session unless ``commit`` is false. Outside a request there is no cookie, and the
        outcome is ``no_claim``.

        :returns: a :class:`advocacy_portal.AttributionResult`.
        :raises ValueError: when the user has no id yet.
        """
        customer = self.identify(user)
        if customer is None:
            raise ValueError("attribute_signup needs a user with an id: flush the new user first")
        claim = None
        if has_request_context():
            cookie_name = config_value("COOKIE_NAME")
            claim = link_service.read_attribution(request.cookies.get(cookie_name))
            if cookie_name in request.cookies:

                @after_this_request
                def _forget_claim(response):
                    response.delete_cookie(
                        cookie_name, **link_service.cookie_options(request.is_secure)
                    )
                    return response

        result = referral_service.attribute_signup(customer.id, customer.email, claim)
        if commit:
            get_session().commit()
        return result

    # -- testimonials and reviews: host hooks ----------------------------------------------------------

    #: Set by the decorators below; class defaults so an instance needs no extra setup.
    _verified_customer_check: Callable[[str], bool] | None = None
    _product_catalogue: Callable[[], dict] | None = None
    _photo_storage: Any = None

    def verified_customer_check(self, check: Callable[[str], bool]) -> Callable[[str], bool]:
        """Decorator: tell the plugin who is a paying customer, for the "Verified customer" label.

        The function receives a host user id (as text) and returns a bool. The plugin also counts a
        referred friend who has paid as verified.
        """
        self._verified_customer_check = check
        return check

    def product_catalogue(self, catalogue: Callable[[], dict]) -> Callable[[], dict]:
        """Decorator: the products customers may review, as ``{key: name}``. Without it, product
        reviews are off."""
        self._product_catalogue = catalogue
        return catalogue

    def photo_storage(self, factory: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """Decorator: a function receiving the app and returning the storage of testimonial photos
        (an object with ``save(data, content_type) -> key``, ``open(key)``, ``delete(key)`` and
        ``url(key)``). It wins over ``ADVOCACY_PHOTO_STORAGE``."""
        self._photo_storage = factory
        return factory

    def products(self) -> dict[str, str]:
        """The host's product catalogue (``{key: name}``), empty without a ``product_catalogue`` hook."""
        if self._product_catalogue is None:
            return {}
        return {str(key): str(name) for key, name in dict(self._product_catalogue()).items()}

    def _on_user_signed_up(self, sender: Any, user: Any = None, **extra: Any) -> None:
        if isinstance(sender, Flask):
            app = sender
        elif has_app_context():
            app = current_app._get_current_object()
        else:
            return
        if app.extensions.get("advocacy") is not self or user is None:
            return
        if not app.config["ADVOCACY_LISTEN_FOR_SIGNUPS"]:
            return
        if has_app_context() and current_app._get_current_object() is app:
            self.attribute_signup(user, commit=extra.get("commit", True))
        else:
            with app.app_context():
                self.attribute_signup(user, commit=extra.get("commit", True))

    # -- rewards and Stripe ---------------------------------------------------------------------------

    def checkout_params(self, user: Any, mode: str = "payment") -> dict:
        """Stripe Checkout Session parameters that tie the payment to ``user`` and their referral:
        ``client_reference_id``, the user's Stripe ``customer`` (created once and mapped), and
        ``metadata`` on the session and on ``payment_intent_data`` / ``subscription_data``. Commits the
        customer mapping. See the README's "Rewards and Stripe".

        :raises ValueError: for an anonymous user or an unknown mode.
        :raises stripe.StripeError: when Stripe cannot create the customer.
        """
        from advocacy_portal.services import payments

        customer = self.identify(user)
        if customer is None:
            raise ValueError("checkout_params needs a logged-in customer")
        params = payments.checkout_params(customer, mode)
        get_session().commit()
        return params

    def friend_promotion_code(self, user: Any) -> str | None:
        """The promotion code a referred friend gets for their first purchase (created at Stripe once,
        restricted to first-time customers), or ``None``. Commits."""
        from advocacy_portal.services import payments

        customer = self.identify(user)
        if customer is None:
            return None
        code = payments.friend_promotion_code(customer)
        get_session().commit()
        return code


    # -- embeddable widget ------------------------------------------------------------------------------

    def widget_token(self, user: Any, commit: bool = True) -> str:
        """An identity token for the widget: put it in ``data-token`` on the pages you render for
        ``user``, and the widget shows their own referral link, share links and QR code.

        Mint it on your server for each page view (it expires after
        ``ADVOCACY_WIDGET_TOKEN_MAX_AGE_SECONDS``) and never for anyone but the user the page is for.
        Creates the user's advocate record on first use and commits it, unless ``commit`` is false.

        :raises ValueError: for an anonymous user or one who is not a customer.
        """
        from advocacy_portal.services import widget as widget_service

        advocate = self.advocate_for(user)
        token = widget_service.make_token(advocate.user_id)
        if commit:
            get_session().commit()
        return token

    def widget_script_url(self, external: bool = True) -> str:
        """The widget script's content-hashed URL, cached by browsers for a year (the stable
        ``<prefix>/widget/widget.js`` is revalidated every few minutes instead)."""
        from advocacy_portal.services import widget as widget_service

        return url_for(
            "advocacy_widget.hashed_script", digest=widget_service.script().digest, _external=external
        )


def _blueprints(prefix: str) -> list:
    """Every blueprint the plugin registers, with its URL prefix (``None``: at the site's root)."""
    from advocacy_portal.blueprints.admin import bp as admin_bp
    from advocacy_portal.blueprints.links import bp as links_bp
    from advocacy_portal.blueprints.moderation import bp as moderation_bp
    from advocacy_portal.blueprints.referrals import bp as referrals_bp
    from advocacy_portal.blueprints.testimonials import api_bp as testimonials_api_bp
    from advocacy_portal.blueprints.testimonials import bp as testimonials_bp
    from advocacy_portal.blueprints.rewards import bp as rewards_bp
    from advocacy_portal.blueprints.webhooks import bp as webhooks_bp
    from advocacy_portal.blueprints.widget import bp as widget_bp

    return [
        (links_bp, None),
        (referrals_bp, prefix),
        # Testimonials and reviews
        (testimonials_bp, prefix),
        (testimonials_api_bp, prefix.rstrip("/") + "/api"),
        (moderation_bp, prefix.rstrip("/") + "/admin/testimonials"),
        (admin_bp, f"{prefix.rstrip('/')}/admin"),
        (rewards_bp, f"{prefix.rstrip('/')}/rewards"),
        (webhooks_bp, prefix),
        (widget_bp, f"{prefix.rstrip('/')}/widget"),
    ]


def get_portal(app: Flask | None = None) -> AdvocacyPortal:
    """The extension registered on ``app`` (``current_app`` by default)."""
    app = app or current_app
    try:
        return app.extensions["advocacy"]
    except KeyError:
        raise RuntimeError("Advocacy Portal is not registered on this app") from None
