"""The Flask extension: settings, blueprints, CLI, templates and the host integration hooks."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Callable
from weakref import WeakKeyDictionary

from flask import Flask
from flask import after_this_request
from flask import current_app
from flask import has_app_context
from flask import has_request_context
from flask import request
from flask import url_for

from advocacy_portal import migrate
from advocacy_portal import outbox
from advocacy_portal import signals
from advocacy_portal.proxies import app_object
from advocacy_portal.blueprints.admin import bp as admin_bp
from advocacy_portal.blueprints.api import bp as api_bp
from advocacy_portal.blueprints.api_keys import bp as api_keys_bp
from advocacy_portal.blueprints.common import FORMATTERS
from advocacy_portal.blueprints.common import advocacy_head
from advocacy_portal.services.formatting import format_date
from advocacy_portal.services.formatting import format_number
from advocacy_portal.services.money import format_money
from advocacy_portal.blueprints.inputs import IdConverter
from advocacy_portal.blueprints.links import bp as links_bp
from advocacy_portal.blueprints.moderation import bp as moderation_bp
from advocacy_portal.blueprints.nps import bp as nps_bp
from advocacy_portal.blueprints.nps_admin import bp as nps_admin_bp
from advocacy_portal.blueprints.outgoing_webhooks import bp as outgoing_webhooks_bp
from advocacy_portal.blueprints.privacy import bp as privacy_bp
from advocacy_portal.blueprints.privacy import consent_bp
from advocacy_portal.blueprints.referrals import bp as referrals_bp
from advocacy_portal.blueprints.rewards import bp as rewards_bp
from advocacy_portal.blueprints.schema import install as install_schema_check
from advocacy_portal.blueprints.security import csp_nonce
from advocacy_portal.blueprints.security import host_security_headers
from advocacy_portal.blueprints.testimonials import api_bp as testimonials_api_bp
from advocacy_portal.blueprints.testimonials import bp as testimonials_bp
from advocacy_portal.blueprints.webhooks import bp as webhooks_bp
from advocacy_portal.blueprints.widget import bp as widget_bp
from advocacy_portal.cli import make_cli
from advocacy_portal.config import PREFIX
from advocacy_portal.config import apply_defaults
from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.db import listen
from advocacy_portal.identity import Customer
from advocacy_portal.migrate import hide_tables_from_host_migrations
from advocacy_portal.proxies import EXTENSION_KEY
from advocacy_portal.proxies import get_portal
from advocacy_portal.services import click_writer
from advocacy_portal.services import links as link_service
from advocacy_portal.services import mail as _mail  # noqa: F401  (registers the outbox's email handler)
from advocacy_portal.services import outgoing_webhooks as _outgoing_webhooks  # noqa: F401  (registers the webhook.* handlers)
from advocacy_portal.services import payments
from advocacy_portal.services import referrals as referral_service
from advocacy_portal.services import widget as widget_service
from advocacy_portal.services.rules import RuleError
from advocacy_portal.services.rules import parse_rules

log = logging.getLogger(__name__)

__all__ = ["AdvocacyPortal", "AppState", "Customer", "get_portal"]


@dataclass
class AppState:
    """What the extension keeps for one app it is registered on (``portal.state(app)``)."""

    #: The plugin's own Flask-Limiter (``None`` when rate limits are off); made on first use.
    limiter: Any = None
    limiter_ready: bool = False
    #: Its (before, after, teardown) request hooks, taken off the app and given only to the
    #: blueprints it limits.
    limiter_hooks: tuple = ((), (), ())
    #: The photo storage object, made on first use from the hook or ``ADVOCACY_PHOTO_STORAGE``.
    photo_storage: Any = None
    #: ``(raw setting, its repr, parsed RewardRules)``: the reward rules, parsed once per value.
    rules: tuple | None = None
    #: The staff pages' navigation: ``(order, label, endpoint)``, added by each admin blueprint.
    admin_sections: list = field(default_factory=list)
    #: The in-process counters of limits counted before they are shared (``blueprints/ratelimit.py``).
    precount_limiters: dict = field(default_factory=dict)
    #: Anything else a module of the plugin caches per app, by its own key.
    cache: dict = field(default_factory=dict)


class AdvocacyPortal:
    """The Advocacy Portal extension.

    ``AdvocacyPortal(app)`` or, in an app factory, ``portal = AdvocacyPortal()`` then
    ``portal.init_app(app)``. The plugin uses the app's Flask-SQLAlchemy session and Flask-Login's
    ``current_user``; both may be initialised before or after it, as long as they are by the first
    request.

    :param app: the Flask app, or ``None`` to call :meth:`init_app` later.
    """

    def __init__(self, app: Flask | None = None):
        self._identity_callback: Callable[[Any], Any] | None = None
        self._staff_callback: Callable[[Any], bool] | None = None
        self._verified_customer_callback: Callable[[str], bool] | None = None
        self._product_catalogue_callback: Callable[[], dict] | None = None
        self._photo_storage_callback: Callable[[Flask], Any] | None = None
        self._stripe_customer_callback: Callable[[Customer], str | None] | None = None
        self._attribution_consent_callback: Callable[[], bool] | None = None
        self._password_check_callback: Callable[[Any, str], bool] | None = None
        self._last_login_callback: Callable[[Any], Any] | None = None
        self._survey_customer_callback: Callable[[str], Any] | None = None
        self._survey_audience_callback: Callable[[], Any] | None = None
        self._states: WeakKeyDictionary[Flask, AppState] = WeakKeyDictionary()
        if app is not None:
            self.init_app(app)

    # -- setup ------------------------------------------------------------------------------------

    def init_app(self, app: Flask) -> None:
        """Register the plugin on ``app``.

        :raises RuntimeError: when the plugin is registered twice, a setting is unknown or invalid,
            or the landing page is not a safe destination.
        """
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError("Advocacy Portal is already registered on this app")
        apply_defaults(app)
        _check_service_settings(app)
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

        self._states[app] = AppState()
        app.extensions[EXTENSION_KEY] = self
        prefix = app.config["ADVOCACY_URL_PREFIX"]
        # Before the blueprints: their rules bind the converter when registered.
        app.url_map.converters.setdefault("advocacy_id", IdConverter)
        for blueprint, url_prefix in _blueprints(prefix):
            app.register_blueprint(blueprint, url_prefix=url_prefix)
        app.cli.add_command(make_cli())
        install_schema_check(app)
        # For every template, the host's own too: the stylesheets, the extension, the widget helpers.
        app.add_template_global(advocacy_head, "advocacy_head")
        # The formats too, so the plugin's macros (testimonial_wall, friend_welcome) work on host pages.
        app.add_template_global(format_date, "advocacy_date")
        app.add_template_global(format_number, "advocacy_number")
        app.add_template_global(format_money, "advocacy_money")
        app.add_template_global(self, "advocacy_portal")
        app.add_template_global(self.widget_token, "advocacy_widget_token")
        app.add_template_global(self.widget_script_url, "advocacy_widget_script_url")
        app.add_template_global(csp_nonce, "advocacy_csp_nonce")
        for name, formatter in FORMATTERS.items():
            app.add_template_global(formatter, name)
        if app.config["ADVOCACY_CSP_HOST_PAGES"]:
            app.after_request(host_security_headers)
        signals.user_signed_up.connect(self._on_user_signed_up, weak=False)
        signals.user_deleted.connect(self._on_user_deleted, weak=False)
        hide_tables_from_host_migrations(app)
        if "sqlalchemy" in app.extensions:  # else attached on first use, when the host has set it up
            listen(app.extensions["sqlalchemy"])

    def create_tables(self, app: Flask | None = None) -> None:
        """Create (or upgrade) the plugin's ``advocacy_*`` tables on the app's database: the plugin's
        own migrations, as ``flask advocacy db upgrade`` runs them. ``db.create_all()`` does not make
        them (they are not on the host's metadata); call this in a test fixture after it."""
        migrate.upgrade(app or current_app._get_current_object())

    def drop_tables(self, app: Flask | None = None) -> None:
        """Drop the plugin's tables and its version table (the host's tables are left alone)."""
        migrate.downgrade(app or current_app._get_current_object(), "base")

    def state(self, app: Flask | None = None) -> AppState:
        """The extension's state for ``app`` (``current_app`` by default).

        :raises RuntimeError: when the extension is not registered on that app.
        """
        app = app_object(app)
        try:
            return self._states[app]
        except KeyError:
            raise RuntimeError("this Advocacy Portal instance is not registered on this app") from None

    # -- host hooks ---------------------------------------------------------------------------------

    def customer_identity(self, loader: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """Decorator: tell the plugin how to read a host user's id and email.

        The function receives the host's user object and returns a :class:`Customer`, an
        ``(id, email)`` pair, or ``None`` for a user who is not a customer. Without it the plugin reads
        ``user.get_id()`` and the attribute named by ``ADVOCACY_USER_EMAIL_ATTR``.
        """
        self._identity_callback = loader
        return loader

    def stripe_customer(self, loader: Callable[[Customer], str | None]) -> Callable[[Customer], str | None]:
        """Decorator: the shop's existing Stripe customer of a user, so the plugin never makes a second one.

        The function receives a :class:`Customer` (``id``, ``email``) and returns the Stripe customer
        id (``"cus_..."``) or ``None`` (then the plugin creates one). It is asked once per user: the
        answer is mapped and kept.
        """
        self._stripe_customer_callback = loader
        return loader

    def staff_loader(self, loader: Callable[[Any], bool]) -> Callable[[Any], bool]:
        """Decorator: tell the plugin who is staff. Without it, a truthy ``ADVOCACY_STAFF_ATTR``
        attribute (``is_staff``) marks staff."""
        self._staff_callback = loader
        return loader

    # -- integration API ------------------------------------------------------------------------------

    def identify(self, user: Any) -> Customer | None:
        """The :class:`Customer` a host user is, or ``None`` for anonymous users and non-customers."""
        if user is None or not getattr(user, "is_authenticated", True):
            return None
        if self._identity_callback is not None:
            found = self._identity_callback(user)
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
        if self._staff_callback is not None:
            return bool(self._staff_callback(user))
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

    def verified_customer_check(self, check: Callable[[str], bool]) -> Callable[[str], bool]:
        """Decorator: tell the plugin who is a paying customer, for the "Verified customer" label.

        The function receives a host user id (as text) and returns a bool. The plugin also counts a
        referred friend who has paid as verified.
        """
        self._verified_customer_callback = check
        return check

    def product_catalogue(self, catalogue: Callable[[], dict]) -> Callable[[], dict]:
        """Decorator: the products customers may review, as ``{key: name}``. Without it, product
        reviews are off."""
        self._product_catalogue_callback = catalogue
        return catalogue

    def photo_storage(self, factory: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """Decorator: a function receiving the app and returning the storage of testimonial photos
        (an object with ``save(data, content_type) -> key``, ``open(key)``, ``delete(key)`` and
        ``url(key)``). It wins over ``ADVOCACY_PHOTO_STORAGE``."""
        self._photo_storage_callback = factory
        return factory

    def products(self) -> dict[str, str]:
        """The host's product catalogue (``{key: name}``), empty without a ``product_catalogue`` hook."""
        if self._product_catalogue_callback is None:
            return {}
        return {str(key): str(name) for key, name in dict(self._product_catalogue_callback()).items()}

    # The hooks as set, read-only (Flask-Login's ``user_callback``): ``None`` until a decorator sets one.

    @property
    def identity_callback(self) -> Callable[[Any], Any] | None:
        """The function given to :meth:`customer_identity`, or ``None``."""
        return self._identity_callback

    @property
    def staff_callback(self) -> Callable[[Any], bool] | None:
        """The function given to :meth:`staff_loader`, or ``None``."""
        return self._staff_callback

    @property
    def verified_customer_callback(self) -> Callable[[str], bool] | None:
        """The function given to :meth:`verified_customer_check`, or ``None``."""
        return self._verified_customer_callback

    @property
    def product_catalogue_callback(self) -> Callable[[], dict] | None:
        """The function given to :meth:`product_catalogue`, or ``None``."""
        return self._product_catalogue_callback

    @property
    def stripe_customer_callback(self) -> Callable[[Customer], str | None] | None:
        """The function given to :meth:`stripe_customer`, or ``None``."""
        return self._stripe_customer_callback

    @property
    def photo_storage_callback(self) -> Callable[[Flask], Any] | None:
        """The function given to :meth:`photo_storage`, or ``None``."""
        return self._photo_storage_callback

    def _on_user_signed_up(self, sender: Any, user: Any = None, **extra: Any) -> None:
        if isinstance(sender, Flask):
            app = sender
        elif has_app_context():
            app = current_app._get_current_object()
        else:
            return
        if app.extensions.get(EXTENSION_KEY) is not self or user is None:
            return
        if not app.config["ADVOCACY_LISTEN_FOR_SIGNUPS"]:
            return
        if has_app_context() and current_app._get_current_object() is app:
            self.attribute_signup(user, commit=extra.get("commit", True))
        else:
            with app.app_context():
                self.attribute_signup(user, commit=extra.get("commit", True))

    # -- NPS surveys: host hooks --------------------------------------------------------------------------

    def survey_customer(self, loader: Callable[[str], Any]) -> Callable[[str], Any]:
        """Decorator: find a customer by their id or email (as text), for the NPS survey's lists and
        automatic sends. Return a :class:`Customer`, an ``(id, email)`` pair or ``None``. Without it the
        plugin knows the customers it has seen (advocates, referred friends, testimonial authors)."""
        self._survey_customer_callback = loader
        return loader

    def survey_audience(self, audience: Callable[[], Any]) -> Callable[[], Any]:
        """Decorator: the customers "Send to the shop's list" surveys, as an iterable of
        :class:`Customer` or ``(id, email)`` pairs."""
        self._survey_audience_callback = audience
        return audience

    @property
    def survey_customer_callback(self) -> Callable[[str], Any] | None:
        """The function given to :meth:`survey_customer`, or ``None``."""
        return self._survey_customer_callback

    @property
    def survey_audience_callback(self) -> Callable[[], Any] | None:
        """The function given to :meth:`survey_audience`, or ``None``."""
        return self._survey_audience_callback

    # -- rewards and Stripe ---------------------------------------------------------------------------

    def checkout_params(self, user: Any, mode: str = "payment") -> dict:
        """Stripe Checkout Session parameters that tie the payment to ``user`` and their referral:
        ``client_reference_id``, the user's Stripe ``customer`` (created once and mapped), and
        ``metadata`` on the session and on ``payment_intent_data`` / ``subscription_data``. Commits the
        customer mapping. See the README's "Rewards and Stripe".

        :raises ValueError: for an anonymous user or an unknown mode.
        :raises stripe.StripeError: when Stripe cannot create the customer.
        """
        customer = self.identify(user)
        if customer is None:
            raise ValueError("checkout_params needs a logged-in customer")
        params = payments.checkout_params(customer, mode)
        get_session().commit()
        return params

    def merge_checkout_params(self, user: Any, params: dict) -> dict:
        """The shop's own Checkout Session parameters with the plugin's merged in, ready for
        ``stripe.checkout.Session.create(**...)``: the user's Stripe ``customer`` (``customer_email``
        dropped), ``metadata`` merged (the shop's keys kept) on the session and on
        ``payment_intent_data`` / ``subscription_data``, and the referred friend's discount while it
        can still be used. The mode is ``params["mode"]`` (``payment`` by default). Commits.

        :raises ValueError: for an anonymous user or an unknown mode.
        :raises stripe.StripeError: when Stripe cannot create the customer.
        """
        customer = self.identify(user)
        if customer is None:
            raise ValueError("merge_checkout_params needs a logged-in customer")
        merged = payments.merge_checkout_params(customer, params)
        get_session().commit()
        return merged

    def friend_promotion_code(self, user: Any) -> str | None:
        """The promotion code a referred friend gets for their first purchase (created at Stripe once,
        restricted to first-time customers), or ``None``, also once it was used or expired. Commits."""
        customer = self.identify(user)
        if customer is None:
            return None
        code = payments.friend_promotion_code(customer)
        get_session().commit()
        return code


    def flush_clicks(self, app: Flask | None = None) -> int:
        """Write the clicks this process still holds in memory now (they are batched off the request
        path, see ``ADVOCACY_CLICK_FLUSH_MS``); returns how many rows were stored. For tests and
        scripts that read clicks right after following a link."""
        return click_writer.flush(app or current_app._get_current_object())

    # -- privacy: consent, export, erasure ------------------------------------------------------------

    def attribution_consent(self, check: Callable[[], bool]) -> Callable[[], bool]:
        """Decorator: whether the current visitor agreed to the attribution cookie, read from the host's
        consent manager (its cookie, its session) during the request. Asked only under
        ``ADVOCACY_ATTRIBUTION_CONSENT = "required"``; without the hook no visitor has consented."""
        self._attribution_consent_callback = check
        return check

    def password_check(self, check: Callable[[Any, str], bool]) -> Callable[[Any, str], bool]:
        """Decorator: ``check(user, password) -> bool``. When set, a customer downloading their data
        export types their password again first."""
        self._password_check_callback = check
        return check

    def last_login(self, loader: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """Decorator: ``loader(user) -> datetime | None``, when the user last logged in (timezone-aware).
        Without a ``password_check`` hook, the data export needs a login within
        ``ADVOCACY_EXPORT_REAUTH_SECONDS``; without either hook, a fresh Flask-Login session."""
        self._last_login_callback = loader
        return loader

    @property
    def attribution_consent_callback(self) -> Callable[[], bool] | None:
        """The function given to :meth:`attribution_consent`, or ``None``."""
        return self._attribution_consent_callback

    @property
    def password_check_callback(self) -> Callable[[Any, str], bool] | None:
        """The function given to :meth:`password_check`, or ``None``."""
        return self._password_check_callback

    @property
    def last_login_callback(self) -> Callable[[Any], Any] | None:
        """The function given to :meth:`last_login`, or ``None``."""
        return self._last_login_callback

    def _person_of(self, user: Any) -> tuple[str, list[str], list[str]]:
        if isinstance(user, (str, int)):
            return str(user), [], []
        customer = self.identify(user)
        if customer is None:
            raise ValueError("this user has no id")
        name = getattr(user, "name", None)
        return customer.id, [customer.email] if customer.email else [], [name] if isinstance(name, str) else []

    def forget_customer(self, user: Any, *, actor: Any = None, names=(), commit: bool = True):
        """Erase a customer (a host user object, or their user id) from every plugin table in one
        transaction, and commit it unless ``commit`` is false. See
        :func:`advocacy_portal.services.privacy.erase` and the README's "Privacy".

        :param actor: the staff member acting (a :class:`Customer`), for the audit log; ``None``: the system.
        :returns: an :class:`advocacy_portal.services.privacy.ErasureReport`.
        """
        from advocacy_portal.services import privacy

        user_id, emails, host_names = self._person_of(user)
        try:
            report = privacy.erase(user_id, emails=emails, names=[*host_names, *names], actor=actor)
        except Exception:
            get_session().rollback()
            raise
        if commit:
            get_session().commit()
        return report

    def export_person(self, user: Any) -> dict:
        """Everything the plugin holds about a customer (a host user object, or their user id), as
        one JSON-ready document (schema ``advocacy-portal.person-export``, version 2; see the README)."""
        from advocacy_portal.services import privacy

        user_id, emails, names = self._person_of(user)
        return privacy.export_person(user_id, emails=emails, names=names)

    def export_archive(self, user: Any) -> tuple[bytes, dict]:
        """The export of a customer as a zip: the JSON document (``export.json``) and their photos as
        files. See :func:`advocacy_portal.services.privacy.export_archive`.

        :returns: the zip's bytes and the document.
        """
        from advocacy_portal.services import privacy

        user_id, emails, names = self._person_of(user)
        return privacy.export_archive(user_id, emails=emails, names=names)

    def _on_user_deleted(self, sender: Any, user: Any = None, user_id: Any = None, **extra: Any) -> None:
        app = sender if isinstance(sender, Flask) else (current_app._get_current_object() if has_app_context() else None)
        if app is None or app.extensions.get(EXTENSION_KEY) is not self:
            return
        target = user if user is not None else user_id
        if target is None:
            return
        if has_app_context() and current_app._get_current_object() is app:
            self.forget_customer(target, commit=extra.get("commit", True))
        else:
            with app.app_context():
                self.forget_customer(target, commit=extra.get("commit", True))

    # -- embeddable widget ------------------------------------------------------------------------------

    def widget_token(self, user: Any, commit: bool = True) -> str:
        """An identity token for the widget: put it in ``data-token`` on the pages you render for
        ``user``, and the widget shows their own referral link, share links and QR code.

        Mint it on your server for each page view (it expires after
        ``ADVOCACY_WIDGET_TOKEN_MAX_AGE_SECONDS``) and never for anyone but the user the page is for.
        Creates the user's advocate record on first use, and the first time for each link draws and
        keeps its QR code (a few milliseconds, once), and commits them, unless ``commit`` is false.

        :raises ValueError: for an anonymous user or one who is not a customer.
        """
        advocate = self.advocate_for(user)
        token = widget_service.make_token(advocate.user_id)
        # Drawn here, once per link, so the widget's first view answers without drawing it.
        widget_service.prepare_qr(advocate)
        if commit:
            get_session().commit()
        return token

    def widget_script_url(self, external: bool = True) -> str:
        """The widget script's content-hashed URL, cached by browsers for a year (the stable
        ``<prefix>/widget/widget.js`` is revalidated every few minutes instead)."""
        return url_for(
            "advocacy_widget.hashed_script", digest=widget_service.script().digest, _external=external
        )


def _blueprints(prefix: str) -> list:
    """Every blueprint the plugin registers, with its URL prefix (``None``: at the site's root)."""
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
        # Back-office JSON API (beside the testimonials API) and its keys' staff page
        (api_bp, prefix.rstrip("/") + "/api"),
        (api_keys_bp, f"{prefix.rstrip('/')}/admin/api-keys"),
        # Outgoing webhooks' staff pages
        (outgoing_webhooks_bp, f"{prefix.rstrip('/')}/admin/webhooks"),
        # Privacy: the customer's data export, and the attribution consent endpoint
        (privacy_bp, f"{prefix.rstrip('/')}/privacy"),
        (consent_bp, f"{prefix.rstrip('/')}/privacy"),
        # NPS surveys and follow-up cases: the customer's pages and the staff's
        (nps_bp, f"{prefix.rstrip('/')}/nps"),
        (nps_admin_bp, f"{prefix.rstrip('/')}/admin/nps"),
    ]


def _check_service_settings(app: Flask) -> None:
    """Refuse settings that the services parse (reward rules, widget origins, campaign slugs), with
    those services' own parsers; store the origins as browsers send them (lower case, no slash)."""
    try:
        outbox.check_executor(app)
    except ValueError as error:
        raise RuntimeError(str(error)) from None

    try:
        parse_rules(app.config[PREFIX + "REWARD_RULES"])
    except RuleError as error:
        raise RuntimeError(f"{PREFIX}REWARD_RULES: {error}") from None

    key = PREFIX + "WIDGET_ORIGINS"
    origins = app.config[key]
    if isinstance(origins, str) or not all(isinstance(origin, str) for origin in origins):
        raise RuntimeError(f"{key} must be a list of origins such as ['https://www.shop.example']")
    normalized = tuple(origin.strip().rstrip("/").lower() for origin in origins)
    for origin in normalized:
        if origin == "*" or not widget_service.valid_origin(origin):
            raise RuntimeError(
                f"{key}: {origin!r} is not an origin; write scheme, host and port only, e.g. "
                "'https://www.shop.example' or 'http://localhost:8000' (no '*', no path)"
            )
    app.config[key] = normalized

    offers = app.config[PREFIX + "CAMPAIGN_OFFERS"]
    if not isinstance(offers, dict):
        raise RuntimeError(f"{PREFIX}CAMPAIGN_OFFERS must be a dict of campaign slug to offer text")
    for campaign, text in offers.items():
        try:
            link_service.validate_campaign(campaign)
        except ValueError as error:
            raise RuntimeError(f"{PREFIX}CAMPAIGN_OFFERS: {campaign!r}: {error}") from None
        if not isinstance(text, str) or not text.strip():
            raise RuntimeError(f"{PREFIX}CAMPAIGN_OFFERS: the offer of {campaign!r} must be text")
