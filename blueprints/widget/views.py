"""``widget.js`` (stable and content-hashed URLs) and referral mode's JSON, ``api/referral``."""

from __future__ import annotations

import logging

from flask import current_app
from flask import jsonify
from flask import request

from advocacy_portal.blueprints.common import json_error
from advocacy_portal.blueprints.common import preflight
from advocacy_portal.blueprints.common import read_only_json
from advocacy_portal.blueprints.widget import bp
from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.services import widget as widget_service

log = logging.getLogger(__name__)

read_only_json(
    bp,
    ["/widget.js", "/api/referral"],
    {
        400: "The request could not be read.",
        404: "There is no such widget resource. The script is <prefix>/widget/widget.js.",
        405: "The widget's endpoints are read-only: use GET.",
        413: "The request body is too large.",
    },
)


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
        return preflight()
    try:
        view = widget_service.referral_view(
            request.args.get("token") or None, request.args.get("campaign") or None
        )
    except ValueError as error:
        return json_error(400, "bad_request", f"'campaign': {error}")
    # link_token may have reissued the link (ADVOCACY_LINK_MAX_AGE_DAYS): keep it.
    get_session().commit()
    if view.identity not in (widget_service.NO_TOKEN, widget_service.VALID):
        log.info("Advocacy widget: identity token refused (%s); showing the anonymous view", view.identity)
    response = jsonify({"identity": view.identity, **view.body})
    # Personal when a token was given; the offer alone changes with the settings only.
    response.headers["Cache-Control"] = "private, no-store" if request.args.get("token") else "no-cache"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
