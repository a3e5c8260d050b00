"""``current_portal``: the Advocacy Portal extension of the current app (Flask-Security ``proxies.py``).

Modules that need the extension (its hooks, its per-app state) import this proxy instead of the
extension module, so the extension may import every service and blueprint without an import cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app
from werkzeug.local import LocalProxy

try:  # the context variable behind ``current_app``: read directly on the hot paths (no proxy)
    from flask.globals import _cv_app
except ImportError:  # pragma: no cover - a Flask without it
    _cv_app = None

if TYPE_CHECKING:
    from flask import Flask

    from advocacy_portal.extension import AdvocacyPortal

#: The key under which the extension stores itself in ``app.extensions``: its only key there.
EXTENSION_KEY = "advocacy"


def app_object(app: Flask | None = None) -> Flask:
    """``app``, or the current app itself (not its proxy): ``current_app._get_current_object()``
    without the proxy's look-ups, for code that runs on every request.

    :raises RuntimeError: outside an application context, as ``current_app`` does.
    """
    if app is not None:
        return app
    context = _cv_app.get(None) if _cv_app is not None else None
    if context is None:
        return current_app._get_current_object()  # Flask's own "outside of application context"
    return context.app


def get_portal(app: Flask | None = None) -> AdvocacyPortal:
    """The extension registered on ``app`` (``current_app`` by default).

    :raises RuntimeError: when Advocacy Portal is not registered on the app.
    """
    app = app_object(app)
    try:
        return app.extensions[EXTENSION_KEY]
    except KeyError:
        raise RuntimeError("Advocacy Portal is not registered on this app") from None


#: The extension of the current app, e.g. ``current_portal.identify(user)``.
current_portal: AdvocacyPortal = LocalProxy(get_portal)  # type: ignore[assignment]
