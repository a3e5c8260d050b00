"""Security headers of the plugin's pages: no framing, and a strict Content-Security-Policy.

Every HTML page of the plugin is sent with ``ADVOCACY_CONTENT_SECURITY_POLICY``: by default
``default-src 'self'``, scripts and styles only from the site's own files or with the request's nonce,
no plugins, no ``<base>`` tricks, forms posting only to the site. The plugin's own templates need no
nonce (no inline script, style or handler); a host layout set as ``ADVOCACY_BASE_TEMPLATE`` that has an
inline ``<style>`` or ``<script>`` writes ``nonce="{{ advocacy_csp_nonce() }}"`` on it. With
``ADVOCACY_CSP_HOST_PAGES`` the host's own HTML pages get the same header (unless they set their own).
"""

from __future__ import annotations

import secrets

from flask import g
from flask import has_request_context

from advocacy_portal.config import config_value

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


def security_headers(response):
    """After every plugin request: ``X-Frame-Options`` and the Content-Security-Policy, unless the view
    set its own (the testimonial photos and the partner demo do)."""
    deny = config_value("DENY_FRAMING")
    if deny:
        response.headers.setdefault("X-Frame-Options", "DENY")
    if "Content-Security-Policy" not in response.headers:
        html = response.mimetype == "text/html"
        value = content_security_policy(config_value("CONTENT_SECURITY_POLICY") if html else None, deny)
        if value:
            response.headers["Content-Security-Policy"] = value
    return response


def host_security_headers(response):
    """The same headers on the host's own HTML pages, for ``ADVOCACY_CSP_HOST_PAGES``."""
    if response.mimetype == "text/html":
        return security_headers(response)
    return response
