"""The public referral link, ``ADVOCACY_REDIRECT_PATH`` (``/r/<token>``), mounted at the site root.

Registering it also makes the site's configured origin (``ADVOCACY_SITE_URL``) the one every absolute
URL of a request is built on (``url_for(..., _external=True)``: referral links, widget script URLs,
emails), whatever Host header the request came with.
"""

import logging

from flask import Blueprint
from flask import appcontext_pushed
from flask import current_app
from flask import request
from flask.globals import app_ctx
from flask.globals import request_ctx

from advocacy_portal.blueprints.common import setup_blueprint
from advocacy_portal.blueprints.ratelimit import precount_blueprint
from advocacy_portal.proxies import app_object
from advocacy_portal.services import click_writer as click_service
from advocacy_portal.services import links as link_service

log = logging.getLogger(__name__)

bp = Blueprint("advocacy_links", __name__)
setup_blueprint(bp)
# A generous per-IP limit: it only blunts click spam (repeat clicks are not counted anyway).
# Counted in the process and shared through the storage in the background: the redirect never waits
# on Redis (see precount_blueprint).
precount_blueprint(
    bp,
    "LINK_FOLLOW_LIMIT",
    methods=["GET"],
    message="This link was opened too many times from your network. Please wait a minute and try again.",
)

from advocacy_portal.blueprints.links import views  # noqa: E402,F401


@bp.record
def _add_follow_rule(state):
    # The path is a per-app setting, so the rule is added when the blueprint is registered.
    state.add_url_rule(
        state.app.config["ADVOCACY_REDIRECT_PATH"], "follow", views.follow, methods=["GET", "HEAD"]
    )


@bp.teardown_request
def _flush_clicks_in_tests(exception=None):
    # Tests read the clicks of a request right after it: write them before the request ends.
    app = app_object()
    if app.testing:
        click_service.flush(app)


@bp.record_once
def _site_origin(state):
    app = state.app
    try:
        origin = link_service.site_origin(app)
    except ValueError as error:
        raise RuntimeError(f"ADVOCACY_SITE_URL {app.config['ADVOCACY_SITE_URL']!r}: {error}") from None
    if origin is None and not (app.debug or app.testing):
        log.warning(
            "Advocacy Portal: none of ADVOCACY_SITE_URL, SERVER_NAME or TRUSTED_HOSTS is set, so absolute "
            "URLs follow each request's Host header and redirects accept only paths and "
            "ADVOCACY_REDIRECT_ALLOWED_HOSTS; set ADVOCACY_SITE_URL to the site's origin in production"
        )
    app.before_request(_build_urls_on_site_origin)
    appcontext_pushed.connect(_app_context_urls_on_site_origin, app)


def _app_context_urls_on_site_origin(app, **extra):
    # Outside a request (the worker, a command) Flask builds external URLs only with SERVER_NAME; with
    # ADVOCACY_SITE_URL alone they are built on it too (emails queued by a command, say).
    if not app.config.get("ADVOCACY_SITE_URL") or app_ctx.url_adapter is not None:
        return
    origin = link_service.site_origin(app)
    app_ctx.url_adapter = app.url_map.bind(
        origin.netloc, script_name=app.config["APPLICATION_ROOT"], url_scheme=origin.scheme
    )


def _build_urls_on_site_origin():
    # Matching is done by now; from here on the adapter only builds URLs, so binding it to the
    # configured origin makes every external URL of this request point there, not at the Host header.
    # SERVER_NAME needs nothing (Flask builds on it) and TRUSTED_HOSTS lets no other host in.
    app = current_app
    if not app.config.get("ADVOCACY_SITE_URL") or app.url_map.host_matching:
        return None
    origin = link_service.site_origin(app)
    request_ctx.url_adapter = app.url_map.bind(
        origin.netloc,
        script_name=request.script_root or "/",
        url_scheme=origin.scheme,
        subdomain=app.url_map.default_subdomain or "",
        default_method=request.method,
    )
    return None
