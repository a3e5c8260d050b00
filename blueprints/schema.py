"""A missing or out-of-date schema, answered clearly: 503 with the command to run, never a traceback.

Two checks, both cheap. Before a request to one of the plugin's blueprints, the database's revision
is compared with the plugin's (read once per ``ADVOCACY_SCHEMA_CHECK_SECONDS`` per process). And a
database error naming an ``advocacy_`` table (``no such table``, ``relation ... does not exist``,
an unknown column) raised anywhere in a request, in the plugin's pages or the host's own views that
call it, is answered the same way. JSON blueprints (webhook, widget, APIs) answer JSON; a 503 makes
Stripe retry the webhook later.
"""

from __future__ import annotations

import logging
import time

from flask import Flask
from flask import current_app
from flask import request
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import ProgrammingError

from advocacy_portal import migrate
from advocacy_portal.blueprints.common import json_error
from advocacy_portal.blueprints.common import render_error
from advocacy_portal.db import get_session
from advocacy_portal.proxies import app_object
from advocacy_portal.proxies import get_portal

log = logging.getLogger(__name__)

#: The command that fixes it, as the error pages say.
UPGRADE_COMMAND = "flask advocacy db upgrade"

#: The plugin's blueprints that answer JSON (any other blueprint whose name ends in ``_api`` too).
JSON_BLUEPRINTS = {"advocacy_webhooks", "advocacy_widget", "advocacy_testimonials_api"}

_CACHE_KEY = "schema-check"


class SchemaOutOfDate(Exception):
    """The database lacks revisions of the plugin's schema."""


def install(app: Flask) -> None:
    """Check the schema before the plugin's requests and answer schema errors with 503 (``init_app``)."""
    app.before_request(_check_revision)
    app.register_error_handler(SchemaOutOfDate, _answer)
    app.register_error_handler(OperationalError, _database_error)
    app.register_error_handler(ProgrammingError, _database_error)


def _ours() -> bool:
    return bool(request.blueprint and request.blueprint.startswith("advocacy_"))


def _check_revision():
    if not _ours():
        return None
    app = app_object()
    if "sqlalchemy" not in app.extensions:
        return None  # without Flask-SQLAlchemy the view's own clear error comes first
    cache = get_portal(app).state(app).cache
    seconds = app.config["ADVOCACY_SCHEMA_CHECK_SECONDS"]
    checked = cache.get(_CACHE_KEY)
    if checked is None or time.monotonic() - checked[0] >= seconds:
        try:
            up_to_date = migrate.current_revision(app) == migrate.head_revision(app)
        except (OperationalError, ProgrammingError):
            up_to_date = False
        checked = cache[_CACHE_KEY] = (time.monotonic(), up_to_date)
    if not checked[1]:
        raise SchemaOutOfDate("the database is not at the plugin's schema revision")
    return None


def _database_error(error: Exception):
    text = str(getattr(error, "orig", error))
    if "advocacy_" not in text:
        raise error  # the host's own database error: not ours to answer
    get_portal().state().cache.pop(_CACHE_KEY, None)  # look again on the next request
    return _answer(SchemaOutOfDate(text))


def _answer(error: SchemaOutOfDate):
    try:
        get_session().rollback()  # PostgreSQL refuses every statement after a failed one
    except Exception:  # noqa: BLE001 - the answer matters more than a rollback that cannot run
        log.debug("rollback after a schema error failed", exc_info=True)
    log.error("Advocacy Portal: the database schema is missing or out of date (%s); run `%s`",
              error, UPGRADE_COMMAND)
    message = (f"The referral program's database tables are missing or out of date. An administrator "
               f"needs to run `{UPGRADE_COMMAND}`; then reload this page.")
    blueprint = request.blueprint or ""
    if blueprint in JSON_BLUEPRINTS or blueprint.endswith("_api") or not _ours() and request.is_json:
        response = json_error(503, "schema_out_of_date", message)
    else:
        body, status = render_error(503, message)
        response = current_app.make_response((body, status))
    response.headers["Retry-After"] = "60"
    response.headers["Cache-Control"] = "no-store"
    return response
