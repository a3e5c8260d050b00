"""The plugin's rate limits (Flask-Limiter), kept away from the host's routes and the host's limiter.

Each app gets a limiter of its own, created when the first limited blueprint is registered. It reads
only ``ADVOCACY_*`` settings (storage, key prefix, limits): the host's ``RATELIMIT_*`` defaults and
application limits never apply through it, and it ignores every request outside the plugin's
blueprints. A storage outage (Redis down) falls back to in-memory counting instead of failing requests.
"""

from __future__ import annotations

import hashlib

from flask import current_app
from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from flask_login import current_user

from advocacy_portal.config import config_value
from advocacy_portal.proxies import current_portal
from advocacy_portal.proxies import get_portal


def _key_prefix(app) -> str:
    configured = app.config["ADVOCACY_RATELIMIT_KEY_PREFIX"]
    if configured:
        return configured
    # One deployment = one database: two sites (or two test databases) sharing a Redis never share
    # counters, while every worker of one site does.
    database = str(app.config.get("SQLALCHEMY_DATABASE_URI", ""))
    return "advocacy-" + hashlib.sha256(database.encode()).hexdigest()[:12]


def customer_or_ip() -> str:
    """Rate-limit key: the logged-in customer, else the client IP."""
    if getattr(current_app, "login_manager", None) is not None and current_user.is_authenticated:
        customer = current_portal.identify(current_user._get_current_object())
        if customer is not None:
            return f"user:{customer.id}"
    return f"ip:{get_remote_address()}"


def get_limiter(app) -> Limiter | None:
    """The app's plugin limiter, created on first use; ``None`` when ``ADVOCACY_RATELIMIT_ENABLED``
    is off."""
    state = get_portal(app).state(app)
    if state.limiter_ready:
        return state.limiter
    limiter = None
    if app.config["ADVOCACY_RATELIMIT_ENABLED"]:
        limiter = Limiter(
            get_remote_address,
            storage_uri=app.config["ADVOCACY_RATELIMIT_STORAGE_URI"],
            key_prefix=_key_prefix(app),
            strategy="moving-window",
            headers_enabled=True,
            swallow_errors=True,
            in_memory_fallback_enabled=True,
            # The host's RATELIMIT_DEFAULT / RATELIMIT_APPLICATION are the host's limiter's business.
            default_limits_exempt_when=lambda: True,
            application_limits_exempt_when=lambda: True,
        )
        limiter.request_filter(_outside_the_plugin)
        # Flask-Limiter reads RATELIMIT_ENABLED from the app; keep a host's own switch as it is.
        had_switch = "RATELIMIT_ENABLED" in app.config
        limiter.init_app(app)
        if not had_switch:
            app.config.pop("RATELIMIT_ENABLED", None)
    state.limiter, state.limiter_ready = limiter, True
    return limiter


def _outside_the_plugin() -> bool:
    return not (request.blueprint or "").startswith("advocacy_")


def limit_blueprint(bp, setting: str, *, methods: list[str], key_func=None, message: str) -> None:
    """Limit the ``methods`` requests of ``bp`` to the rate in setting ``setting``, per ``key_func``
    (IP address by default); a breach answers 429 with ``message``."""

    def _register(state):
        limiter = get_limiter(state.app)
        if limiter is None:
            return
        limiter.limit(
            lambda: config_value(setting),
            methods=methods,
            key_func=key_func or get_remote_address,
            error_message=message,
        )(bp)

    bp.record_once(_register)
