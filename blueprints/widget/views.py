"""``widget.js`` (stable and content-hashed URLs) and referral mode's JSON, ``api/referral``."""

from __future__ import annotations

import logging

from flask import abort
from flask import current_app
from flask import jsonify
from flask import request
from werkzeug.exceptions import HTTPException

from blueprints.widget import bp
from portal.config import config_value
from portal.db import get_session
from portal.services import widget as widget_service

log = logging.getLogger(__name__)

ALLOWED_METHODS = ["GET", "HEAD", "OPTIONS"]
_OTHER_METHODS = ["POST", "PUT", "PATCH", "DELETE"]
_ANY_METHOD = ALLOWED_METHODS + _OTHER_METHODS

_MESSAGES = {
    400: "The request could not be read.",
    404: "There is no such widget resource. The script is <prefix>/widget/widget.js.",
    405: "The widget's endpoints are read-only: use GET.",
    413: "The request body is too large.",
}
_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large",
          429: "rate_limited"}


@bp.url_value_preprocessor
def _refuse_unknown(endpoint, values):
    # Werkzeug's own 404 and 405 would get the host's HTML error page: answer them in JSON, here,
    # before any before_request function (the host's CSRF check, the rate limit) runs.
    if endpoint == f"{bp.name}.method_not_allowed":
        abort(405, valid_methods=ALLOWED_METHODS)
    if endpoint == f"{bp.name}.not_found":
        abort(404)


@bp.route("/widget.js", methods=_OTHER_METHODS, endpoint="method_not_allowed",
          provide_automatic_options=False)
@bp.route("/api/referral", methods=_OTHER_METHODS, endpoint="method_not_allowed",
          provide_automatic_options=False)
@bp.route("/", methods=_ANY_METHOD, endpoint="not_found", provide_automatic_options=False)
@bp.route("/<path:rest>", methods=_ANY_METHOD, endpoint="not_found", provide_automatic_options=False)
def _refused(rest: str | None = None):  # pragma: no cover - _refuse_unknown answers first
    abort(404)


@bp.errorhandler(HTTPException)
def _json_error(error: HTTPException):
    status = error.code or 500
    message = error.description if status == 429 else _MESSAGES.get(status, error.name)
    return _error(status, _CODES.get(status, "error"), message, error.get_headers())


def _error(status: int, code: str, message: str, headers=()):
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    for name, value in headers:
        if name.lower() in ("allow", "retry-after"):
            response.headers[name] = value
    response.headers["Cache-Control"] = "no-store"
    return response


def _preflight():
    response = current_app.response_class(status=204)
    response.headers["Allow"] = ", ".join(ALLOWED_METHODS)
    return response


# -- the script ----------------------------------------------------------------------------------------


@bp.route("/widget.js", methods=["GET", "HEAD"])
def script():
    """The widget script at its stable URL: kept ``WIDGET_SCRIPT_MAX_AGE_SECONDS``, then revalidated
    with its ETag."""
    seconds = config_value("WIDGET_SCRIPT_MAX_AGE_SECONDS")
    return _script_response(f"public, max-age={seconds}")


@bp.route("/widget.<digest>.js", methods=["GET", "HEAD"])
def hashed_script(digest: str):
    """The widget script at its content-hashed URL (``portal.widget_script_url()``): cached for a year.
    An outdated hash (a page cached across an upgrade) gets today's script, cached briefly."""
    if digest != widget_service.script().digest:
        return script()
    return _script_response("public, max-age=31536000, immutable")


def _script_response(cache_control: str):
    asset = widget_service.script()
    gzipped = "gzip" in request.accept_encodings
    response = current_app.response_class(
        asset.gzipped if gzipped else asset.body, mimetype="text/javascript"
    )
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    response.set_etag(asset.digest + ("-gz" if gzipped else ""))
    response.vary.add("Accept-Encoding")
    response.headers["Cache-Control"] = cache_control
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Any page may load the script (a <script> tag is not CORS); the data it reads is what is guarded.
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response.make_conditional(request)


# -- referral mode -------------------------------------------------------------------------------------


@bp.route("/api/referral", methods=["GET", "OPTIONS"], provide_automatic_options=False)
def referral():
    """Referral mode's data: the offer, the sign-in link and, for a valid identity ``token``, the
    customer's link, share links and QR code. Query: ``token``, ``campaign``."""
    if request.method == "OPTIONS":
        return _preflight()
    try:
        view = widget_service.referral_view(
            request.args.get("token") or None, request.args.get("campaign") or None
        )
    except ValueError as error:
        return _error(400, "bad_request", f"'campaign': {error}")
    # link_token may have reissued the link (ADVOCACY_LINK_MAX_AGE_DAYS): keep it.
    get_session().commit()
    if view.identity not in (widget_service.NO_TOKEN, widget_service.VALID):
        log.info("Advocacy widget: identity token refused (%s); showing the anonymous view", view.identity)
    response = jsonify({"identity": view.identity, **view.body})
    # Personal when a token was given; the offer alone changes with the settings only.
    response.headers["Cache-Control"] = "private, no-store" if request.args.get("token") else "no-cache"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
