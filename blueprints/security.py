"""Security headers of the plugin's pages: no framing, and a strict Content-Security-Policy.

Every HTML page of the plugin is sent with ``ADVOCACY_CONTENT_SECURITY_POLICY``: by default
``default-src 'self'``, scripts and styles only from the site's own files or with the request's nonce,
no plugins, no ``<base>`` tricks, forms posting only to the site. The plugin's own templates need no
nonce (no inline script, style or handler); a host layout set as ``ADVOCACY_BASE_TEMPLATE`` that has an
inline ``<style>`` or ``<script>`` writes ``nonce="{{ advocacy_csp_nonce() }}"`` on it. With
``ADVOCACY_CSP_HOST_PAGES`` the host's own HTML pages get the same header (unless they set their own).
"""

from __future__ import annotations

import copy
import secrets

from flask import g
from flask import has_request_context

from advocacy_portal.proxies import app_object
from advocacy_portal.proxies import get_portal

#: The placeholder in a directive's sources that becomes ``'nonce-<the request's nonce>'``.
NONCE = "'nonce'"


def csp_nonce() -> str:
    """``{{ advocacy_csp_nonce() }}``: this request's nonce for an inline ``<script>`` or ``<style>``."""
    if not has_request_context():
        return ""
    nonce = g.get("_advocacy_csp_nonce")
    if nonce is None:
        nonce = g._advocacy_csp_nonce = secrets.token_urlsafe(18)
    return nonce


def content_security_policy(policy: dict | None, deny_framing: bool) -> str | None:
    """The header's value: ``policy`` (directive → sources) with the nonce placeholder replaced by this
    request's nonce when one was handed out, and dropped when none was; ``frame-ancestors`` only when
    framing is denied."""
    if not policy:
        return "frame-ancestors 'none'" if deny_framing else None
    nonce = g.get("_advocacy_csp_nonce") if has_request_context() else None
    directives = []
    for directive, sources in policy.items():
        if directive == "frame-ancestors" and not deny_framing:
            continue
        if isinstance(sources, str):
            sources = sources.split()
        values = [f"'nonce-{nonce}'" if source == NONCE else source for source in sources
                  if source != NONCE or nonce]
        directives.append(" ".join([directive, *values]) if values else directive)
    return "; ".join(directives) or None


_CACHE_KEY = "security-headers"


def _header_values(app) -> tuple:
    """``(deny framing, CSP of HTML pages, CSP of other answers, policy has a nonce placeholder)``,
    built once per value of the two settings (compared with a copy, so a policy changed in place is
    seen too) instead of on every response."""
    deny = app.config["ADVOCACY_DENY_FRAMING"]
    policy = app.config["ADVOCACY_CONTENT_SECURITY_POLICY"]
    cache = get_portal(app).state(app).cache
    cached = cache.get(_CACHE_KEY)
    if cached is not None and cached[0] == deny and cached[1] == policy:
        return cached[2]
    uses_nonce = bool(policy) and any(
        NONCE in (sources.split() if isinstance(sources, str) else sources) for sources in policy.values()
    )
    values = (
        deny,
        _policy_without_nonce(policy, deny),
        content_security_policy(None, deny),
        uses_nonce,
    )
    cache[_CACHE_KEY] = (deny, copy.deepcopy(policy), values)
    return values


def _policy_without_nonce(policy: dict | None, deny: bool) -> str | None:
    # Built outside any request's nonce: the value of a page that handed out none.
    if not policy:
        return "frame-ancestors 'none'" if deny else None
    directives = []
    for directive, sources in policy.items():
        if directive == "frame-ancestors" and not deny:
            continue
        if isinstance(sources, str):
            sources = sources.split()
        values = [source for source in sources if source != NONCE]
        directives.append(" ".join([directive, *values]) if values else directive)
    return "; ".join(directives) or None


def security_headers(response):
    """After every plugin request: ``X-Frame-Options`` and the Content-Security-Policy, unless the view
    set its own (the testimonial photos and the partner demo do)."""
    app = app_object()
    deny, html_policy, other_policy, uses_nonce = _header_values(app)
    headers = response.headers
    # The names present, read in one pass (each ``in`` on werkzeug's headers scans them and raises
    # and catches an exception for a missing one; this runs on every plugin response).
    present = {name.lower() for name, _value in headers}
    if deny and "x-frame-options" not in present:
        headers.add("X-Frame-Options", "DENY")
    if "content-security-policy" not in present:
        if response.mimetype != "text/html":
            value = other_policy
        elif uses_nonce and g.get("_advocacy_csp_nonce"):
            # A page that handed out a nonce: its own value, with this request's nonce.
            value = content_security_policy(app.config["ADVOCACY_CONTENT_SECURITY_POLICY"], deny)
        else:
            value = html_policy
        if value:
            headers.add("Content-Security-Policy", value)
    return response


def host_security_headers(response):
    """The same headers on the host's own HTML pages, for ``ADVOCACY_CSP_HOST_PAGES``."""
    if response.mimetype == "text/html":
        return security_headers(response)
    return response
