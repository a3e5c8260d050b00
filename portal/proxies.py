"""``current_portal``: the Advocacy Portal extension of the current app (Flask-Security ``proxies.py``).

Modules that need the extension (its hooks, its per-app state) import this proxy instead of the
extension module, so the extension may import every service and blueprint without an import cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app
from werkzeug.local import LocalProxy

if TYPE_CHECKING:
    from flask import Flask

    from advocacy_portal.extension import AdvocacyPortal

#: The key under which the extension stores itself in ``app.extensions``: its only key there.
EXTENSION_KEY = "advocacy"


def get_portal(app: Flask | None = None) -> AdvocacyPortal:
    """The extension registered on ``app`` (``current_app`` by default).

    :raises RuntimeError: when Advocacy Portal is not registered on the app.
    """
    app = app or current_app
    try:
        return app.extensions[EXTENSION_KEY]
    except KeyError:
        raise RuntimeError("Advocacy Portal is not registered on this app") from None


#: The extension of the current app, e.g. ``current_portal.identify(user)``.
current_portal: AdvocacyPortal = LocalProxy(get_portal)  # type: ignore[assignment]
