"""What every plugin blueprint shares: the customer check, error pages and security headers."""

from __future__ import annotations

import logging
from functools import wraps

from flask import abort
from flask import current_app
from flask import g
from flask import has_request_context
from flask import jsonify
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from advocacy_portal.blueprints.inputs import guard_input
from advocacy_portal.blueprints.security import security_headers
from advocacy_portal.config import config_value
from advocacy_portal.proxies import get_portal
from advocacy_portal.services import links as link_service
from advocacy_portal.services import audit_presenters
from advocacy_portal.services import referrals as referral_service
from advocacy_portal.services.formatting import format_date
from advocacy_portal.services.formatting import format_datetime
from advocacy_portal.services.formatting import format_number
from advocacy_portal.services.money import format_money

log = logging.getLogger(__name__)


def customer_required(view):
    """Send anonymous visitors to the host's login view; give the view ``g.advocacy_customer``."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        login_manager = getattr(current_app, "login_manager", None)
        if login_manager is None:
            raise RuntimeError("Advocacy Portal's customer pages need Flask-Login on the app")
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        customer = get_portal().identify(current_user._get_current_object())
        if customer is None:
            return render_error(403, "Only customers have a referral page.")
        g.advocacy_customer = customer
        return view(*args, **kwargs)

    return wrapper


def staff_required(view):
    """Staff only: anonymous visitors go to the host's login view, everyone else who is not staff
    gets a 403 page. Gives the view ``g.advocacy_staff`` (a :class:`advocacy_portal.Customer`)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        login_manager = getattr(current_app, "login_manager", None)
        if login_manager is None:
            raise RuntimeError("Advocacy Portal's staff pages need Flask-Login on the app")
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        user = current_user._get_current_object()
        portal = get_portal()
        staff = portal.identify(user) if portal.is_staff(user) else None
        if staff is None:
            return render_error(403, "This page is for staff only.")
        g.advocacy_staff = staff
        return view(*args, **kwargs)

    return wrapper


def admin_section(bp, endpoint: str, label: str, order: int = 50) -> None:
    """List a staff page in the admin navigation (``advocacy/admin/base.html``) once ``bp`` is
    registered. Each admin blueprint calls this for its own pages, so none edits another's nav."""

    def _record(state):
        sections = get_portal(state.app).state(state.app).admin_sections
        sections.append((order, label, endpoint))
        sections.sort()

    bp.record_once(_record)


def private_page(body, status: int = 200):
    """A view's answer for a page showing someone's own or staff-only data: never kept by shared
    caches, nor shown from history to the next user of the computer."""
    return body, status, {"Cache-Control": "private, no-store"}


def current_advocate():
    """The :class:`advocacy_portal.models.Advocate` of ``g.advocacy_customer`` (created on first use; flushed)."""
    customer = g.advocacy_customer
    return referral_service.ensure_advocate(customer.id, customer.email)


def render_error(status: int, message: str | None = None):
    """The plugin's HTML error page (``ADVOCACY_ERROR_TEMPLATE``) with ``status``."""
    return (
        render_template(config_value("ERROR_TEMPLATE"), status=status, message=message),
        status,
    )


#: Shown when a form comes back without a valid CSRF token (expired session, or another site posted it).
CSRF_MESSAGE = (
    "This form expired or was not sent from this site. Go back, reload the page and try again."
)


def handle_http_error(error: HTTPException):
    return render_error(error.code or 500, error.description)


def csrf_failed(form) -> bool:
    """Whether ``form`` failed because of its CSRF token (missing, expired, forged). ``False`` when the
    host turned CSRF off (``WTF_CSRF_ENABLED = False``): the form has no ``csrf_token`` field then."""
    field = getattr(form, "csrf_token", None)
    return bool(field is not None and field.errors)


def handle_csrf_error(error: CSRFError):
    return render_error(400, CSRF_MESSAGE)


def limit_request_size(endpoint, values):
    # A URL value preprocessor runs before every before_request function, so the limit is in place
    # before anything (the host's CSRF check included) reads the body.
    request.max_content_length = config_value("MAX_REQUEST_BYTES")


#: Blueprints whose pages use the NPS stylesheet (the customer pages show the in-app question).
NPS_BLUEPRINTS = ("advocacy_nps", "advocacy_nps_admin", "advocacy_referrals", "advocacy_rewards",
                  "advocacy_testimonials")

#: Blueprints whose pages use the testimonials stylesheet.
TESTIMONIAL_BLUEPRINTS = ("advocacy_testimonials", "advocacy_moderation")


def advocacy_head() -> Markup:
    """``{{ advocacy_head() }}``: the ``<link>`` tags of the stylesheets the current plugin page needs:
    ``advocacy.css``, ``advocacy-admin.css`` on staff pages (every blueprint with an admin section),
    ``advocacy-testimonials.css`` on testimonial pages, ``advocacy-nps.css`` on NPS pages and the customer
    pages that may show the survey question. Put it in the ``<head>`` of a host layout set as
    ``ADVOCACY_BASE_TEMPLATE``; the plugin's own ``advocacy/base.html`` uses it."""
    blueprint = request.blueprint if has_request_context() else None
    names = ["advocacy.css"]
    staff = {endpoint.split(".", 1)[0] for _order, _label, endpoint in get_portal().state().admin_sections}
    if blueprint in staff:
        names.append("advocacy-admin.css")
    if blueprint in TESTIMONIAL_BLUEPRINTS:
        names.append("advocacy-testimonials.css")
    if blueprint in NPS_BLUEPRINTS:
        names.append("advocacy-nps.css")
    return Markup("\n".join(
        f'<link rel="stylesheet" href="{escape(url_for("advocacy_referrals.static", filename=name))}">'
        for name in names
    ))


#: The formatters every template gets (the host's too): one date, number and money format.
FORMATTERS = {
    "advocacy_money": format_money,
    "advocacy_date": format_date,
    "advocacy_datetime": format_datetime,
    "advocacy_number": format_number,
}


def template_globals():
    return {
        "advocacy_base": config_value("BASE_TEMPLATE"),
        "advocacy_program_name": config_value("PROGRAM_NAME"),
        **FORMATTERS,
        "advocacy_audit_changes": audit_presenters.changes,
        "advocacy_action_label": audit_presenters.action_label,
        "advocacy_admin_nav": [
            (label, endpoint)
            for _order, label, endpoint in get_portal().state().admin_sections
        ],
    }


def setup_blueprint(bp) -> None:
    """Attach the shared error handler, headers and template globals to a plugin blueprint."""
    bp.url_value_preprocessor(limit_request_size)
    guard_input(bp)
    bp.register_error_handler(CSRFError, handle_csrf_error)
    bp.register_error_handler(HTTPException, handle_http_error)
    bp.after_request(security_headers)
    bp.context_processor(template_globals)


def site_root() -> str:
    """The site's origin (``https://shop.example``, no trailing slash) for an absolute URL or a "same
    site" decision: the configured one (``ADVOCACY_SITE_URL``, ``SERVER_NAME`` or ``TRUSTED_HOSTS``),
    and only when none is configured (development; the app warns at start-up) this request's host."""
    origin = link_service.site_origin()
    if origin is not None:
        return origin.url
    return request.host_url.rstrip("/")


# -- cross-origin reads of the public JSON (the widget and the testimonials API) -----------------------

#: Origins already reported as refused by this process, so the log says it once, not on every request.
_refused_origins: set[str] = set()


def _foreign_origin() -> str | None:
    """The request's ``Origin`` when it is another site's (``None`` for same-origin and non-browser
    requests)."""
    origin = request.headers.get("Origin")
    if not origin or origin.lower() == site_root().lower():
        return None
    return origin


def _listed(origin: str) -> bool:
    return origin.lower() in config_value("WIDGET_ORIGINS")


def _refuse_unlisted_origin():
    if request.endpoint in _OPEN_ENDPOINTS:
        return None
    origin = _foreign_origin()
    if origin is None or _listed(origin):
        return None
    if origin not in _refused_origins and len(_refused_origins) < 1000:
        _refused_origins.add(origin)
        log.warning(
            "Advocacy Portal: refused a browser request from %s to %s; add the origin to "
            "ADVOCACY_WIDGET_ORIGINS if that site embeds the widget", origin[:200], request.path
        )
    return json_error(
        403,
        "origin_not_allowed",
        "This website is not allowed to read this data: its origin is not in ADVOCACY_WIDGET_ORIGINS.",
    )


def _cors_headers(response):
    response.vary.add("Origin")
    origin = _foreign_origin()
    if origin is not None and _listed(origin):
        # Public data only: never Access-Control-Allow-Credentials, so no cookie ever rides along.
        response.headers["Access-Control-Allow-Origin"] = origin
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
            response.headers["Access-Control-Max-Age"] = "600"
    return response


#: Endpoints any site may load even under an ``allow_listed_origins`` blueprint (the widget script).
_OPEN_ENDPOINTS: set[str] = set()


def allow_listed_origins(bp, open_endpoints: tuple[str, ...] = ()) -> None:
    """Let browsers on ``ADVOCACY_WIDGET_ORIGINS`` read ``bp``'s public JSON (CORS, no credentials);
    a browser request from any other site gets a JSON 403 ``origin_not_allowed``, except to
    ``open_endpoints`` (names within ``bp``)."""
    _OPEN_ENDPOINTS.update(f"{bp.name}.{endpoint}" for endpoint in open_endpoints)
    bp.before_request(_refuse_unlisted_origin)
    bp.after_request(_cors_headers)


# -- JSON blueprints (the testimonials API, the widget) ---------------------------------------------

#: Methods a read-only JSON blueprint answers; any other gets a JSON 405.
READ_METHODS = ["GET", "HEAD", "OPTIONS"]
_WRITE_METHODS = ["POST", "PUT", "PATCH", "DELETE"]
_ERROR_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large",
                429: "rate_limited"}


def json_error(status: int, code: str, message: str, headers=()):
    """A JSON error answer: ``{"error": {"code": ..., "message": ...}}``, never cached."""
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    for name, value in headers:
        if name.lower() in ("allow", "retry-after"):
            response.headers[name] = value
    response.headers["Cache-Control"] = "no-store"
    return response


def preflight():
    """The answer to an ``OPTIONS`` request of a read-only JSON endpoint (CORS headers are added by
    :func:`allow_listed_origins`)."""
    response = current_app.response_class(status=204)
    response.headers["Allow"] = ", ".join(READ_METHODS)
    return response


def read_only_json(bp, paths: list[str], messages: dict[int, str], catch_all: bool = True) -> None:
    """Make ``bp`` answer every error in JSON, including Werkzeug's own 404 (an unknown path under the
    blueprint) and 405 (a write method on one of ``paths``), with ``messages`` per status.

    ``catch_all=False`` leaves unknown paths to another blueprint mounted at the same prefix (the
    back-office API shares ``<prefix>/api`` with the testimonials API, which answers them)."""
    not_found = f"{bp.name}.not_found"
    method_not_allowed = f"{bp.name}.method_not_allowed"

    def refuse_unknown(endpoint, values):
        # Werkzeug's own 404 and 405 happen before a blueprint is known, so they would get the host's
        # HTML error page. The catch-all routes below turn them into JSON errors, here, before any
        # before_request function (the host's CSRF check, the rate limit) runs.
        if endpoint == method_not_allowed:
            abort(405, valid_methods=READ_METHODS)
        if endpoint == not_found:
            abort(404)

    def refused(rest: str | None = None):  # pragma: no cover - refuse_unknown answers first
        abort(404)

    def handle(error: HTTPException):
        status = error.code or 500
        # Werkzeug's default descriptions speak of "the requested URL" and "your browser"; say what
        # the blueprint means. A 429 keeps the limit's own message.
        message = error.description if status == 429 else messages.get(status, error.name)
        return json_error(status, _ERROR_CODES.get(status, "error"), message, error.get_headers())

    bp.url_value_preprocessor(refuse_unknown)
    for path in paths:
        bp.add_url_rule(path, "method_not_allowed", refused, methods=_WRITE_METHODS,
                        provide_automatic_options=False)
    for path in ("/", "/<path:rest>") if catch_all else ():
        bp.add_url_rule(path, "not_found", refused, methods=READ_METHODS + _WRITE_METHODS,
                        provide_automatic_options=False)
    bp.register_error_handler(HTTPException, handle)
