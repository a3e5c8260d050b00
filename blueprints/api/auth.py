"""API-key authentication of the back-office API: ``Authorization: Bearer <key>`` and scopes.

401 (with ``WWW-Authenticate: Bearer``, RFC 6750) for a missing, malformed, unknown or revoked key;
403 ``insufficient_scope`` for a key without the endpoint's scope.
"""

from __future__ import annotations

from functools import wraps

from flask import g
from flask import request
from flask_limiter.util import get_remote_address

from advocacy_portal.blueprints.common import json_error
from advocacy_portal.db import get_session
from advocacy_portal.services import api_keys

REALM = "Advocacy Portal API"


def presented_secret() -> str | None:
    """The key of the ``Authorization: Bearer`` header, ``None`` without the header.

    :raises api_keys.ApiKeyError: for another scheme or an empty token.
    """
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise api_keys.ApiKeyError("malformed", "Send the key as Authorization: Bearer <key>.")
    return token.strip()


def api_key_or_ip() -> str:
    """Rate-limit key: the presented key (its hash) when it is shaped like one, else the client IP, so
    requests without a real key share their address's budget."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and api_keys.looks_like_key(token):
        return "api-key:" + api_keys.hash_secret(token)[:32]
    return f"ip:{get_remote_address()}"


def _unauthorized(error: api_keys.ApiKeyError):
    response = json_error(401, f"{error.code}_api_key", error.message)
    if error.code == "missing":
        response.headers["WWW-Authenticate"] = f'Bearer realm="{REALM}"'
    else:
        response.headers["WWW-Authenticate"] = (
            f'Bearer realm="{REALM}", error="invalid_token", error_description="{error.message}"'
        )
    return response


def requires_scope(scope: str):
    """Only for a request with an active key that has ``scope``; gives the view ``g.advocacy_api_key``.
    Records the key's use (at most once a minute)."""
    if scope not in api_keys.SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            try:
                key = api_keys.authenticate(presented_secret())
            except api_keys.ApiKeyError as error:
                return _unauthorized(error)
            if api_keys.mark_used(key):
                get_session().commit()
            if scope not in key.scopes:
                response = json_error(
                    403, "insufficient_scope", f"This API key does not have the scope {scope}."
                )
                response.headers["WWW-Authenticate"] = (
                    f'Bearer realm="{REALM}", error="insufficient_scope", scope="{scope}"'
                )
                return response
            g.advocacy_api_key = key
            return view(*args, **kwargs)

        wrapper.advocacy_scope = scope
        return wrapper

    return decorate
