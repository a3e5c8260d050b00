"""Every ``ADVOCACY_*`` setting with its default.

The extension applies these with ``app.config.setdefault("ADVOCACY_" + key, value)``; read them through
:func:`config_value`, which refuses a key that is not listed here, so a typo fails loudly instead of
silently falling back to a default.
"""

from __future__ import annotations

import os
import re
from typing import Any

from flask import current_app
from limits import parse_many

from advocacy_portal.proxies import app_object

PREFIX = "ADVOCACY_"

DEFAULTS: dict[str, Any] = {
    #: Where the plugin's pages live: the customer's referral page is ``<prefix>/``.
    "URL_PREFIX": "/advocacy",
    #: The public short path of a referral link. It must contain ``<token>`` and is mounted at the
    #: root of the site (not under ``URL_PREFIX``) so links stay short: ``https://shop.example/r/<token>``.
    "REDIRECT_PATH": "/r/<token>",
    #: Where a referral link sends the visitor: a path on this site, or a URL whose host is in
    #: ``REDIRECT_ALLOWED_HOSTS``. Checked when the app starts.
    "LANDING_URL": "/",
    #: Extra hosts a referral link may send visitors to (for example a marketing site on another domain).
    #: Same-site paths are always allowed; nothing else is.
    "REDIRECT_ALLOWED_HOSTS": (),
    #: Name of the query parameter that lets a link name a landing page: ``/r/<token>?next=/pricing``.
    #: The value goes through the same allow-list; a refused value falls back to ``LANDING_URL``.
    "NEXT_PARAM": "next",
    #: How many days a click keeps its claim on a later signup.
    "ATTRIBUTION_DAYS": 30,
    #: ``"last_click"``: a newer referral link click replaces an older one. ``"first_click"``: the first
    #: valid click keeps the claim until it expires.
    "ATTRIBUTION_MODEL": "last_click",
    #: Name of the signed first-party cookie that carries the claim from click to signup.
    "COOKIE_NAME": "advocacy_ref",
    #: ``Secure`` flag of that cookie. ``None``: set on HTTPS requests (configure ProxyFix behind a proxy).
    "COOKIE_SECURE": None,
    #: ``SameSite`` of that cookie. ``Lax`` keeps it on the top-level navigation that follows a shared link.
    "COOKIE_SAMESITE": "Lax",
    #: Cookie domain, for example ``".shop.example"`` to share the claim with subdomains. ``None``: host only.
    "COOKIE_DOMAIN": None,
    #: Salt that ties referral link signatures to this purpose, so no other signed value of the app
    #: (session, password reset token, ...) can pass as a referral link.
    "LINK_SALT": "advocacy.referral-link",
    #: Salt of the attribution cookie's signature.
    "COOKIE_SALT": "advocacy.attribution",
    #: Referral links older than this many days stop working (404). ``None``: links never expire. When
    #: set, the customer's page hands out a fresh link once half of that time has passed.
    "LINK_MAX_AGE_DAYS": None,
    #: A second click on the same advocate's link from the same visitor (same hashed IP and device class)
    #: within this many seconds is not counted again. ``0`` counts every click.
    "CLICK_DEDUPE_SECONDS": 3600,
    #: Clicks are written in batches off the request path: a thread of each process inserts the clicks
    #: gathered every this many milliseconds, in one transaction, and at a graceful stop (a hard kill
    #: loses at most one interval of clicks; the visitor still gets the cookie). ``0`` writes each click
    #: in its own request. In tests (``app.testing``) each request flushes its click before it ends.
    "CLICK_FLUSH_MS": 50,
    #: How long each process keeps the advocate a link code names, so the redirect does not ask the
    #: database on every click. A reset link stops working at once in the process that reset it and
    #: within this many seconds in the others. ``0`` asks every time.
    "LINK_CACHE_SECONDS": 5,
    #: Secret mixed into the one-way hash of visitors' IP addresses. ``None`` derives one from ``SECRET_KEY``.
    #: The raw IP address is never stored.
    "IP_HASH_SECRET": None,
    #: The offer shown on the referral page and, later, in the widget.
    "OFFER_TEXT": "Share your link: friends who sign up through it are credited to you.",
    #: Name of the program shown in page titles and share messages.
    "PROGRAM_NAME": "Refer a friend",
    #: Text that precedes the link in share messages (email, X, WhatsApp).
    "SHARE_MESSAGE": "I use this and think you'd like it too:",
    #: Attribute of the host's user object read as the customer's email, unless a ``customer_identity``
    #: hook is registered.
    "USER_EMAIL_ATTR": "email",
    #: Attribute of the host's user object that marks staff, unless a ``staff_loader`` hook is registered.
    "STAFF_ATTR": "is_staff",
    #: Automatically attribute a signup when the host sends ``advocacy_portal.signals.user_signed_up``.
    "LISTEN_FOR_SIGNUPS": True,
    #: Version table of the plugin's own Alembic history, so it never collides with the host's.
    "VERSION_TABLE": "advocacy_alembic_version",
    #: Send ``X-Frame-Options: DENY`` and ``frame-ancestors 'none'`` on the plugin's own pages.
    "DENY_FRAMING": True,
    #: Content-Security-Policy of the plugin's HTML pages, as directive → list of sources; ``"'nonce'"``
    #: stands for the request's nonce (``{{ advocacy_csp_nonce() }}`` in a template). Add the sources a
    #: host layout needs (a CDN stylesheet, photos on another host); ``None`` sends only
    #: ``frame-ancestors 'none'`` (with ``DENY_FRAMING``). A view that sets its own header keeps it.
    "CONTENT_SECURITY_POLICY": {
        "default-src": ["'self'"],
        "script-src": ["'self'", "'nonce'"],
        "style-src": ["'self'", "'nonce'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
    #: Send the same headers (``X-Frame-Options``, the policy above) on the host's own HTML pages too,
    #: unless a page sets its own Content-Security-Policy.
    "CSP_HOST_PAGES": False,
    #: Largest request body, in bytes, the plugin's own pages accept (their forms are small); more
    #: gets a 413 page. Applies only to the plugin's endpoints, never to the host's.
    "MAX_REQUEST_BYTES": 64 * 1024,
    #: Template of the customer's referral page.
    "REFERRAL_PAGE_TEMPLATE": "advocacy/referrals/page.html",
    #: Template of the friendly page a broken, expired or unknown referral link gets (status 404).
    "LINK_NOT_FOUND_TEMPLATE": "advocacy/errors/link_not_found.html",
    #: Template of the plugin's generic error page (400, 403, 404, 405, 413).
    "ERROR_TEMPLATE": "advocacy/errors/error.html",
    #: Base template every plugin page extends. Point it at your own layout to restyle everything.
    "BASE_TEMPLATE": "advocacy/base.html",
    # -- Testimonials and reviews ----------------------------------------------------------------
    #: Fewest characters a testimonial or review body needs.
    "TESTIMONIAL_MIN_LENGTH": 20,
    #: Most characters a testimonial or review body may have.
    "TESTIMONIAL_MAX_LENGTH": 2000,
    #: Most characters of a review's title.
    "REVIEW_TITLE_MAX_LENGTH": 120,
    #: Wording of the consent choices, shown on the form and stored, word for word, with the answer.
    "CONSENT_PUBLISH_NAMED_TEXT": "You may publish my testimonial with my name, role and photo.",
    #: Wording of the anonymous consent choice.
    "CONSENT_PUBLISH_ANONYMOUS_TEXT": "You may publish my testimonial without my name or photo.",
    #: Wording of the choice to keep the testimonial private (staff read it; it is never published).
    "CONSENT_DO_NOT_PUBLISH_TEXT": "Do not publish my testimonial; it is feedback for the team only.",
    #: Wording of the named consent choice on the product review form (which has a name, but no role
    #: or photo).
    "CONSENT_REVIEW_PUBLISH_NAMED_TEXT": "You may publish my review with the name I give.",
    #: Wording of the anonymous consent choice on the product review form.
    "CONSENT_REVIEW_PUBLISH_ANONYMOUS_TEXT": "You may publish my review without my name.",
    #: Wording of the choice to keep a product review private.
    "CONSENT_REVIEW_DO_NOT_PUBLISH_TEXT": "Do not publish my review; it is feedback for the team only.",
    #: Wording stored as the consent answer when an author withdraws consent.
    "CONSENT_WITHDRAWN_TEXT": "I withdraw my consent: do not publish this testimonial any more.",
    #: A reward promised for writing a testimonial, e.g. "a $10 voucher". When set it is disclosed on
    #: the form (FTC rule) and every submission is labelled "Incentivised". ``None``: no promise.
    "TESTIMONIAL_INCENTIVE": None,
    #: Largest photo upload, in bytes.
    "PHOTO_MAX_BYTES": 2 * 1024 * 1024,
    #: Largest photo width or height accepted, in pixels (bigger images are refused before decoding).
    "PHOTO_MAX_PIXELS": 6000,
    #: Stored photos are scaled down to fit in a square of this many pixels (and re-encoded, which
    #: strips their metadata: location, camera, ...).
    "PHOTO_SIZE": 512,
    #: Folder of the default local photo storage; a relative path is under the app's instance folder.
    "PHOTO_FOLDER": "advocacy-photos",
    #: Photo storage: ``None`` for the local folder, or an object (or ``"module:attribute"`` import
    #: path) with ``save(data, content_type) -> key``, ``open(key)``, ``delete(key)``, ``url(key)``.
    #: The ``@portal.photo_storage`` hook wins over this setting.
    "PHOTO_STORAGE": None,
    #: Name of the business that testimonials are about, in the wall's structured data (schema.org
    #: ``Organization``) and wherever the business is named. ``None``: ``ADVOCACY_PROGRAM_NAME`` (never
    #: the request's host name). Set it.
    "BUSINESS_NAME": None,
    #: Babel locale for dates and numbers on every page, email and export (``en_US``, ``de_DE``, ...).
    "LOCALE": "en_US",
    #: IANA time zone in which dates and times are shown (stored times are always UTC).
    "DISPLAY_TIMEZONE": "UTC",
    #: Testimonials per page on the wall and in the moderation queue.
    "WALL_PAGE_SIZE": 12,
    #: Default ``per_page`` of the JSON API.
    "API_PAGE_SIZE": 20,
    #: Largest ``per_page`` the JSON API accepts.
    "API_MAX_PAGE_SIZE": 100,
    #: Seconds shared caches may serve the public JSON API without asking again. 0 (``public,
    #: no-cache``): they revalidate every time, a cheap 304 thanks to the ETag, so a withdrawn
    #: testimonial disappears at once. A higher value trades that for fewer requests.
    "API_CACHE_SECONDS": 0,
    #: Turn the plugin's rate limits on or off (they never touch the host's own routes).
    "RATELIMIT_ENABLED": True,
    #: Where rate-limit counters live (a Flask-Limiter storage URI), e.g. ``redis://127.0.0.1:6379``.
    #: Defaults to the environment variable of the same name, else ``memory://`` (one process only).
    "RATELIMIT_STORAGE_URI": os.environ.get("ADVOCACY_RATELIMIT_STORAGE_URI") or "memory://",
    #: Prefix of the counters' keys. ``None``: derived from the database URL, so two sites (or test
    #: databases) sharing one Redis never share counters.
    "RATELIMIT_KEY_PREFIX": None,
    #: The referral redirect's limit (``LINK_FOLLOW_LIMIT``) is counted in each process, in fixed
    #: windows, and shared with the storage every this many milliseconds by a background thread, so
    #: no click waits on Redis; across processes it may let through about one interval's hits per
    #: process more than the limit (a process learns the others' counts when it sends its own).
    "RATELIMIT_SYNC_MS": 50,
    #: Limit on posting testimonial and review forms (submit, edit, withdraw), per customer.
    "TESTIMONIAL_SUBMIT_LIMIT": "10 per minute;60 per day",
    #: Limit on the public JSON API, per IP address.
    "API_RATE_LIMIT": "300 per minute",
    #: Limit on following referral links, per IP address: generous, it only blunts click spam.
    "LINK_FOLLOW_LIMIT": "120 per minute",
    #: Template of the testimonial form.
    "TESTIMONIAL_FORM_TEMPLATE": "advocacy/testimonials/form.html",
    #: Template of the product review form.
    "REVIEW_FORM_TEMPLATE": "advocacy/testimonials/review_form.html",
    #: Template of the author's own page (their testimonials and their state).
    "MY_TESTIMONIALS_TEMPLATE": "advocacy/testimonials/mine.html",
    #: Template of the page shown when reviews are off (no product catalogue hook).
    "REVIEWS_OFF_TEMPLATE": "advocacy/testimonials/reviews_off.html",
    #: Template of the public wall.
    "WALL_TEMPLATE": "advocacy/testimonials/wall.html",
    #: Template of the staff moderation queue.
    "MODERATION_QUEUE_TEMPLATE": "advocacy/moderation/queue.html",
    #: Template of one testimonial in moderation (highlight, history, referral figures).
    "MODERATION_ITEM_TEMPLATE": "advocacy/moderation/item.html",
    #: Plain text part of the "thanks" email (sent on submission). Email templates are overridable.
    "MAIL_THANKS_TEXT_TEMPLATE": "advocacy/email/thanks.txt",
    #: HTML part of the "thanks" email.
    "MAIL_THANKS_HTML_TEMPLATE": "advocacy/email/thanks.html",
    #: Subject of the "thanks" email.
    "MAIL_THANKS_SUBJECT": "Thank you for your testimonial",
    #: Plain text part of the "published" email.
    "MAIL_PUBLISHED_TEXT_TEMPLATE": "advocacy/email/published.txt",
    #: HTML part of the "published" email.
    "MAIL_PUBLISHED_HTML_TEMPLATE": "advocacy/email/published.html",
    #: Subject of the "published" email.
    "MAIL_PUBLISHED_SUBJECT": "Your testimonial is published",
    #: SMTP server of the plugin's emails. ``None``: mail is kept in the outbox and not sent.
    "MAIL_SERVER": None,
    #: SMTP port (587 is usual with STARTTLS, 465 with SSL).
    "MAIL_PORT": 25,
    #: SMTP login, if the server wants one.
    "MAIL_USERNAME": None,
    #: SMTP password.
    "MAIL_PASSWORD": None,
    #: Upgrade the connection with STARTTLS.
    "MAIL_USE_TLS": False,
    #: Connect over SSL/TLS from the start (SMTPS). Not together with ``MAIL_USE_TLS``.
    "MAIL_USE_SSL": False,
    #: From address of the plugin's emails.
    "MAIL_SENDER": "no-reply@localhost",
    #: Seconds to wait for the SMTP server.
    "MAIL_TIMEOUT_SECONDS": 10,
    #: A message that failed this many times stays in the outbox marked failed, and is not retried.
    "MAIL_MAX_ATTEMPTS": 8,
    #: Wait before the first retry, in seconds; it doubles after each failure.
    "MAIL_RETRY_SECONDS": 60,
    # -- Outbox: the side effects of every change (emails, Stripe calls, webhooks, Stripe events) -------
    #: Who runs the outbox's tasks: ``"inline"`` (in-process, right after the commit that wrote them,
    #: before the request answers), ``"worker"`` (``flask advocacy worker``; nothing runs in requests),
    #: or the host's own queue: a callable or ``"module:function"`` called after commit as
    #: ``enqueue(topic, payload, key)``, whose job calls :func:`advocacy_portal.outbox.run_task(key)`
    #: (see :mod:`advocacy_portal.contrib.celery` and :mod:`advocacy_portal.contrib.rq`).
    "TASK_EXECUTOR": "inline",
    #: A task whose handler failed this many times is parked as dead (shown to staff, replayable).
    "OUTBOX_MAX_ATTEMPTS": 10,
    #: Wait before the first retry, in seconds; it doubles after each failure (with jitter), capped below.
    "OUTBOX_RETRY_SECONDS": 5,
    #: Longest wait between two attempts, in seconds.
    "OUTBOX_RETRY_MAX_SECONDS": 6 * 3600,
    #: A running task is held this long; a run that died is taken over once it has passed.
    "OUTBOX_LEASE_SECONDS": 300,
    #: Most tasks one pass of the relay claims.
    "OUTBOX_BATCH": 50,
    #: ``inline``: also run up to this many older due tasks (retries) after a commit, at most once every
    #: ``OUTBOX_INLINE_SWEEP_SECONDS`` per process. ``0``: retries wait for ``flask advocacy outbox run``.
    "OUTBOX_INLINE_SWEEP": 10,
    #: See ``OUTBOX_INLINE_SWEEP``.
    "OUTBOX_INLINE_SWEEP_SECONDS": 30,
    #: ``flask advocacy worker``: seconds between two polls of an empty outbox.
    "WORKER_POLL_SECONDS": 1.0,
    #: ``flask advocacy worker``: seconds between two health lines in the log.
    "WORKER_HEALTH_SECONDS": 60,
    #: Template of the staff page of the outbox (dead and waiting tasks, replay).
    "ADMIN_OUTBOX_TEMPLATE": "advocacy/admin/outbox.html",
    # -- Staff pages ----------------------------------------------------------------------------------
    #: Template of the staff overview (funnel and revenue over a chosen period).
    "ADMIN_OVERVIEW_TEMPLATE": "advocacy/admin/overview.html",
    #: Template of the staff list of advocates.
    "ADMIN_ADVOCATES_TEMPLATE": "advocacy/admin/advocates.html",
    #: Template of the staff page of one advocate.
    "ADMIN_ADVOCATE_TEMPLATE": "advocacy/admin/advocate.html",
    #: Template of the staff list of payments (conversions).
    "ADMIN_CONVERSIONS_TEMPLATE": "advocacy/admin/conversions.html",
    #: Template of the staff page of reward cost by state and the audit log of adjustments.
    "ADMIN_REWARDS_TEMPLATE": "advocacy/admin/rewards.html",
    #: Template of the staff audit log.
    "ADMIN_AUDIT_TEMPLATE": "advocacy/admin/audit.html",
    # -- Staff figures at scale: rollups and charts ----------------------------------------------------
    #: A staff page folds the new clicks into the rollups when the last fold is older than this many
    #: seconds (``None``: only ``flask advocacy rollups fold`` does, e.g. from cron). Figures are exact
    #: either way: clicks above the watermark are counted live.
    "ROLLUP_FOLD_SECONDS": 60,
    #: PostgreSQL: longest wait, in milliseconds, of a fold for the instant lock that finds its safe
    #: high-water mark (click inserts wait behind it at most this long); on timeout the fold skips a turn.
    "ROLLUP_LOCK_TIMEOUT_MS": 200,
    #: Longest period, in days, the overview and the payments list accept (a longer one is a 400).
    "REPORT_MAX_DAYS": 3 * 366,
    #: Template of the overview's SVG charts (macros).
    "ADMIN_CHARTS_TEMPLATE": "advocacy/admin/_charts.html",
    #: Template of the funnel over time on the staff page of one advocate (included in it).
    "ADMIN_ADVOCATE_FUNNEL_TEMPLATE": "advocacy/admin/_advocate_funnel.html",
    # -- Customer rewards pages -----------------------------------------------------------------------
    #: Template of the customer's rewards page (balances and history).
    "REWARDS_PAGE_TEMPLATE": "advocacy/rewards/ledger.html",
    #: Template of the confirmation step before a redemption.
    "REDEEM_TEMPLATE": "advocacy/rewards/redeem.html",
    # -- Rewards ledger and Stripe ----------------------------------------------------------------
    #: Stripe secret API key (``sk_live_...`` / ``sk_test_...``) for the calls the plugin makes: creating
    #: customers, promotion codes and customer balance credits. ``None``: those calls fail clearly.
    "STRIPE_SECRET_KEY": None,
    #: Base URL of the Stripe API. ``None``: Stripe's own (``https://api.stripe.com``). Tests and the demo
    #: point it at a local Stripe-compatible server.
    "STRIPE_API_BASE": None,
    #: Seconds one Stripe API call may take. The plugin never lets the SDK retry on its own: it retries
    #: itself with the same Idempotency-Key, so a timed-out call is never applied twice.
    "STRIPE_TIMEOUT_SECONDS": 10,
    #: Webhook signing secrets (``whsec_...``) of the endpoint ``<URL_PREFIX>/webhooks/stripe``. List
    #: several while rolling a secret: an event signed with any of them is accepted.
    "STRIPE_WEBHOOK_SECRETS": (),
    #: How old, in seconds, a webhook's signed timestamp may be; older deliveries are refused (replays).
    "STRIPE_WEBHOOK_TOLERANCE_SECONDS": 300,
    #: Largest webhook body, in bytes, the endpoint reads; bigger ones are refused with a 400.
    "STRIPE_WEBHOOK_MAX_BYTES": 512 * 1024,
    #: How advocates are rewarded for their friends' payments: ``{"default": <rule>, "campaigns":
    #: {"<campaign slug>": <rule>}}``. A rule is ``{"type": "fixed" | "percent", "amount_minor": int``
    #: (fixed) or ``"percent": number`` (percent of the payment, rounded down), ``"currency": "usd"``
    #: (payments in other currencies are stored but not rewarded), ``"recurring_months": 0`` (0: only
    #: the friend's first payment; N: the first N invoices of a subscription), ``"min_purchase_minor":
    #: 0``, ``"monthly_cap_minor": None`` (most one advocate earns per calendar month), ``"friend_reward":
    #: None`` or ``{"percent_off": 10}`` / ``{"amount_off": 500, "currency": "usd"}`` (a Stripe
    #: promotion code for the friend's first purchase)}``. Campaign rules inherit what they leave out
    #: from the default. Checked when the app starts.
    "REWARD_RULES": {
        "default": {
            "type": "percent",
            "percent": 10,
            "currency": "usd",
            "recurring_months": 0,
            "min_purchase_minor": 0,
            "monthly_cap_minor": None,
            "friend_reward": None,
        },
        "campaigns": {},
    },
    #: Days a reward stays pending before ``flask advocacy rewards release`` makes it available (the
    #: refund window: a refund during the hold voids the pending reward).
    "REWARD_HOLD_DAYS": 30,
    #: Smallest redemption, in minor units of the currency.
    "REDEMPTION_MINIMUM_MINOR": 500,
    # -- Embeddable widget ----------------------------------------------------------------------------
    #: Origins (``https://www.shop.example``, ``http://localhost:8000``: scheme, host and port, no path)
    #: of the websites whose pages may embed the widget. Only they get CORS answers from the widget's
    #: JSON endpoints and the testimonials API; a browser request from any other origin gets a 403.
    #: Requests without an ``Origin`` (servers, curl) and from this site itself are not affected.
    "WIDGET_ORIGINS": (),
    #: How long an identity token from ``portal.widget_token(user)`` is valid, in seconds. Mint one per
    #: page view; an expired token shows the anonymous view.
    "WIDGET_TOKEN_MAX_AGE_SECONDS": 3600,
    #: Salt that ties identity token signatures to this purpose.
    "WIDGET_TOKEN_SALT": "advocacy.widget-identity",
    #: Where the widget's "Sign in to get your link" leads. ``None``: the customer's referral page, which
    #: sends visitors who are not signed in to the host's login page and back.
    "WIDGET_SIGNIN_URL": None,
    #: Seconds browsers may keep ``widget.js`` at its stable URL before revalidating (a cheap 304). The
    #: content-hashed URL (``portal.widget_script_url()``) is cached for a year.
    "WIDGET_SCRIPT_MAX_AGE_SECONDS": 300,
    #: Limit on the widget's JSON endpoint, per IP address.
    "WIDGET_RATE_LIMIT": "300 per minute",
    #: Offer text per campaign (``{"spring": "Give 20%, get 20% this spring"}``), shown by the widget when
    #: it is given ``data-campaign``; other campaigns show ``OFFER_TEXT``.
    "CAMPAIGN_OFFERS": {},
    # -- Back-office JSON API and its keys ----------------------------------------------------------
    #: What every new API key starts with; the rest is 43 random URL-safe characters. Old keys keep
    #: working after a change (only their hash is stored).
    "API_KEY_PREFIX": "adv_live_",
    #: Limit on the back-office API, per API key (requests without a well-formed key: per IP address).
    "API_KEY_RATE_LIMIT": "600 per minute",
    #: A key's "last used" time is written at most once in this many seconds, so busy keys cost no
    #: write per request.
    "API_KEY_LAST_USED_INTERVAL_SECONDS": 60,
    #: Template of the staff page of API keys.
    "ADMIN_API_KEYS_TEMPLATE": "advocacy/admin/api_keys.html",
    # -- Integration: redemption method, automated clients, schema check ------------------------------
    #: How a redemption pays the advocate out: ``"balance_credit"`` (credit on their Stripe customer
    #: balance, which Stripe applies to invoices, so to subscriptions) or ``"promotion_code"`` (a
    #: single-use Stripe promotion code for the amount, restricted to the advocate, for shops that sell
    #: one-off ``mode="payment"`` Checkouts, which never use the balance). A dict chooses per currency:
    #: ``{"usd": "promotion_code", "*": "balance_credit"}`` (``"*"``: every other currency).
    "REDEMPTION_METHOD": "balance_credit",
    #: How many days a redeemed promotion code stays valid. An unused code that expires gives its amount
    #: back to the advocate's available balance (``flask advocacy rewards expire-codes``, daily).
    "PROMOTION_CODE_DAYS": 90,
    #: Count clicks from headless browsers and command-line clients (``HeadlessChrome``, ``curl``,
    #: ``python-requests``...) as visitors: for a host's integration tests. Link-preview bots of chat
    #: apps and search crawlers are never counted. Off in production: scripts inflate counts.
    "COUNT_AUTOMATED_CLICKS": False,
    #: Seconds the plugin trusts its last look at the database's schema revision before looking again;
    #: a request on an unmigrated or out-of-date schema answers 503 with the command to run.
    "SCHEMA_CHECK_SECONDS": 60,
    # -- Outgoing webhooks (Standard Webhooks) ------------------------------------------------------------
    #: Seconds to wait for an endpoint to answer one delivery attempt (connecting and reading); a
    #: timeout is retried on the schedule like any other failure.
    "WEBHOOKS_TIMEOUT_SECONDS": 10,
    #: Allow ``http://`` endpoint URLs. Development only: in production every endpoint must be HTTPS, so
    #: the signed payloads and their secrets' signatures cannot be read or replayed on the way.
    "WEBHOOKS_ALLOW_HTTP": False,
    #: Allow endpoints whose host resolves to a loopback, private, link-local, multicast, reserved or
    #: unspecified address (IPv4 or IPv6, IPv4-mapped included). Development only: in production this
    #: guard keeps staff (or anyone who gets a staff session) from making the server call its own
    #: network (SSRF). Checked when an endpoint is saved and again, on the address connected to, at
    #: every delivery.
    "WEBHOOKS_ALLOW_PRIVATE_ADDRESSES": False,
    #: Hours the old secret keeps signing after "Rotate secret" (both signatures are sent meanwhile).
    "WEBHOOKS_SECRET_ROTATION_HOURS": 24,
    #: Characters of an endpoint's answer kept in the delivery log.
    "WEBHOOKS_RESPONSE_SNIPPET_CHARS": 500,
    #: A CA bundle (file path) to verify endpoints' certificates with instead of the default one
    #: (certifi's), e.g. a company CA.
    "WEBHOOKS_CA_BUNDLE": None,
    #: Staff page: every outgoing-webhook endpoint with its latest outcome.
    "ADMIN_WEBHOOKS_TEMPLATE": "advocacy/admin/webhooks.html",
    #: Staff page: one endpoint, its secret, its actions and its delivery log.
    "ADMIN_WEBHOOK_TEMPLATE": "advocacy/admin/webhook.html",
    #: Staff page: the add / edit form of an endpoint.
    "ADMIN_WEBHOOK_FORM_TEMPLATE": "advocacy/admin/webhook_form.html",
    # -- poison Stripe events and the site's origin ---------------------------------------------------
    #: How deeply a Stripe webhook body may nest its JSON (Stripe's own events nest about 8 levels). A
    #: signed body nested deeper is recorded as rejected and answered 200, so Stripe stops retrying.
    "STRIPE_WEBHOOK_MAX_DEPTH": 32,
    #: The site's origin, e.g. ``"https://shop.example"``: what "same site" means for redirects and
    #: where every absolute URL the plugin builds (redirects, widget script URLs, emails, JSON-LD,
    #: ``flask advocacy link``) points. ``None`` falls back to ``SERVER_NAME`` (with
    #: ``PREFERRED_URL_SCHEME``), then the first plain name of Flask's ``TRUSTED_HOSTS``. With none of them
    #: set, redirects accept only paths and ``REDIRECT_ALLOWED_HOSTS``, absolute URLs follow the request's
    #: Host header, and the app logs a warning at start-up outside debug and testing.
    "SITE_URL": None,
    # -- Privacy: consent, export, erasure, retention (advocacy_portal.services.privacy) -------------
    #: ``"not_required"``: following a referral link sets the attribution cookie at once (the link is
    #: the visitor's request). ``"required"``: only when the ``@portal.attribution_consent`` hook says the
    #: visitor agreed (no hook: never); without consent the click is counted without any identifier
    #: (no IP hash, no cookie) and the landing URL carries a signed ``advocacy_referral`` the host's consent
    #: banner posts to ``<prefix>/privacy/consent`` once the visitor agrees.
    "ATTRIBUTION_CONSENT": "not_required",
    #: Name of the landing URL's query parameter that carries the signed referral without consent.
    "CONSENT_REF_PARAM": "advocacy_referral",
    #: Salt of that parameter's signature.
    "CONSENT_REF_SALT": "advocacy.consent-ref",
    #: Secret of the one-way hashes of erased user ids in the erasure list (``advocacy_erasures``),
    #: which ``flask advocacy privacy replay-erasures`` matches after a backup restore. ``None``: derived
    #: from ``SECRET_KEY`` (and its fallbacks). Set it explicitly if ``SECRET_KEY`` may ever be replaced
    #: without keeping the old key in ``SECRET_KEY_FALLBACKS``.
    "ERASURE_HASH_SECRET": None,
    #: Days an erased person's financial records (payments, rewards, redemptions, their ledger lines,
    #: kept under a random surrogate) are kept, counted from each record's date; ``privacy purge`` then
    #: deletes them: the ledger transactions whole, replaced by one ``balance.carried_forward``
    #: transaction of the same net amounts, so balances and ``ledger verify`` hold. Counted from the
    #: erasure, the Stripe ids of what remains and the Stripe customer mapping go too.
    "FINANCIAL_RETENTION_DAYS": 3650,
    #: Days the mail log (sent or given-up ``email`` tasks of the outbox, with their addresses and
    #: text) is kept before ``privacy purge`` deletes it.
    "MAIL_LOG_RETENTION_DAYS": 90,
    #: Days a closed NPS follow-up case (and its messages) is kept after closing; `privacy purge` deletes
    #: older ones. The answers stay for the NPS figures.
    "NPS_CASE_RETENTION_DAYS": 730,
    #: Days a rejected, unpublished or withdrawn testimonial (and its photo) is kept after its last
    #: change before ``privacy purge`` deletes it.
    "UNPUBLISHED_TESTIMONIAL_RETENTION_DAYS": 365,
    #: A customer downloading their own export must have logged in within this many seconds (read from
    #: the ``@portal.last_login`` hook), unless a ``@portal.password_check`` hook asks for the password.
    "EXPORT_REAUTH_SECONDS": 900,
    #: Limit on downloading one's own export, per customer.
    "EXPORT_RATE_LIMIT": "5 per hour",
    #: Template of the customer's privacy page (download my data).
    "PRIVACY_TEMPLATE": "advocacy/privacy/page.html",
    #: Template of the staff confirmation step before erasing a customer.
    "ADMIN_ERASE_TEMPLATE": "advocacy/admin/erase.html",
    # -- NPS surveys and detractor follow-up cases (the advocacy loop) -------------------------------
    #: The survey's question; ``{shop}`` is replaced by ``BUSINESS_NAME`` (else ``PROGRAM_NAME``'s site).
    "NPS_QUESTION": "How likely are you to recommend {shop} to a friend?",
    #: The optional follow-up question.
    "NPS_REASON_QUESTION": "What is the main reason for your score?",
    #: At most one survey per person in this many days, across every channel (email and in-app). A
    #: throttled send is skipped and logged, never queued.
    "NPS_THROTTLE_DAYS": 90,
    #: Never two surveys to one person within this many hours, whatever ``NPS_THROTTLE_DAYS`` says.
    "NPS_MIN_HOURS_BETWEEN": 24,
    #: Days an invitation (and its signed score links) stays open; a second answer within them updates
    #: the first.
    "NPS_INVITATION_DAYS": 30,
    #: Record the score when a link in the email is opened, without the confirm step. Off by default:
    #: mail scanners follow every link, so a score is recorded only when the person confirms it.
    "NPS_RECORD_ON_CLICK": False,
    #: Salt of the score links' signatures (their own: no other signed value passes as one).
    "NPS_TOKEN_SALT": "advocacy.nps-score",
    #: Salt of the unsubscribe links' signatures.
    "NPS_UNSUBSCRIBE_SALT": "advocacy.nps-unsubscribe",
    #: Salt of the customer's signed link to their case.
    "NPS_CASE_SALT": "advocacy.nps-case",
    #: Days a signed case link (in every case email) keeps working.
    "NPS_CASE_LINK_DAYS": 90,
    #: Scores up to this (0–6 by default) are detractors' and open a follow-up case.
    "NPS_DETRACTOR_THRESHOLD": 6,
    #: Hours after opening that a case is due.
    "NPS_CASE_DUE_HOURS": 48,
    #: Most characters of an answer's comment, a case message or a note.
    "NPS_COMMENT_MAX_LENGTH": 2000,
    #: Send the survey automatically: ``None`` (never), ``"first_payment"`` (after a referred friend's
    #: first payment) or ``"any_payment"`` (after any Stripe payment of a known customer).
    "NPS_AUTO_SEND": None,
    #: Days after that payment the automatic survey goes out (an outbox task delayed that long).
    "NPS_AUTO_SEND_DAYS": 14,
    #: Days after a case is resolved that the customer is surveyed again (at the earliest; later when
    #: throttling says so). ``None``: no re-survey.
    "NPS_RESURVEY_DAYS": 14,
    #: The root causes a new shop starts with (staff edit the list on the case pages).
    "NPS_DEFAULT_ROOT_CAUSES": ("Product defect", "Delivery or shipping", "Billing", "Support response",
                                "Missing feature", "Other"),
    #: Customer page: a score link's confirm step.
    "NPS_SCORE_TEMPLATE": "advocacy/nps/score.html",
    #: Customer page: thanks, with the invitations to write a testimonial (everyone) and to share the
    #: referral link (promoters).
    "NPS_THANKS_TEMPLATE": "advocacy/nps/thanks.html",
    #: Customer page: a tampered, expired or unknown survey, unsubscribe or case link.
    "NPS_LINK_ERROR_TEMPLATE": "advocacy/nps/link_error.html",
    #: Customer page: the unsubscribe confirmation.
    "NPS_UNSUBSCRIBE_TEMPLATE": "advocacy/nps/unsubscribe.html",
    #: Customer page: "I have a problem", and the customer's cases.
    "NPS_HELP_TEMPLATE": "advocacy/nps/help.html",
    #: Customer page: one case (status, owner's first name, messages), with the reply form.
    "NPS_CASE_TEMPLATE": "advocacy/nps/case.html",
    #: The in-app question, included on the customer's portal pages while an invitation is open.
    "NPS_PROMPT_TEMPLATE": "advocacy/nps/_prompt.html",
    #: Staff page: NPS figures, trend, distribution, segments and comments.
    "ADMIN_NPS_TEMPLATE": "advocacy/admin/nps/figures.html",
    #: Staff page: the case queue.
    "ADMIN_NPS_CASES_TEMPLATE": "advocacy/admin/nps/cases.html",
    #: Staff page: one case.
    "ADMIN_NPS_CASE_TEMPLATE": "advocacy/admin/nps/case.html",
    #: Staff page: send the survey, and the log of every ask.
    "ADMIN_NPS_SEND_TEMPLATE": "advocacy/admin/nps/send.html",
    #: Plain text part of the survey email.
    "MAIL_NPS_SURVEY_TEXT_TEMPLATE": "advocacy/email/nps_survey.txt",
    #: HTML part of the survey email (eleven score links).
    "MAIL_NPS_SURVEY_HTML_TEMPLATE": "advocacy/email/nps_survey.html",
    #: Subject of the survey email; ``{shop}`` as in ``NPS_QUESTION``.
    "MAIL_NPS_SURVEY_SUBJECT": "A quick question from {shop}",
    #: Plain text part of a case update email (status change or message).
    "MAIL_NPS_CASE_TEXT_TEMPLATE": "advocacy/email/nps_case.txt",
    #: HTML part of a case update email.
    "MAIL_NPS_CASE_HTML_TEMPLATE": "advocacy/email/nps_case.html",
    #: Subject of a case update email; ``{case}`` is the case number.
    "MAIL_NPS_CASE_SUBJECT": "Update on your request #{case}",
    # -- money guardrails, fraud review, staff exports (issue #14) -----------------------------------
    #: Currencies staff may post manual adjustments in (lower-case ISO codes). ``None``: the currencies of
    #: ``REWARD_RULES`` (the default rule and every campaign) and those advocates already hold.
    "ADJUSTMENT_CURRENCIES": None,
    #: Largest manual adjustment, in major units of its currency (``1000`` = $1,000.00, ¥1,000): a
    #: number, or a dict of currency to number with ``"*"`` for the others.
    "ADJUSTMENT_MAX": {"*": 10000, "jpy": 1000000, "krw": 10000000},
    #: A manual adjustment at or above this (major units, same shape as ``ADJUSTMENT_MAX``), or any
    #: debit, is posted only after a confirmation step that shows the resulting balance.
    "ADJUSTMENT_CONFIRM_ABOVE": {"*": 500, "jpy": 50000, "krw": 500000},
    #: Currencies the webhook accepts payments in (lower-case ISO codes). ``None``: any ISO 4217
    #: currency. A paid payment in another currency, or of zero, is recorded as rejected with the reason
    #: and never counted or rewarded.
    "PAYMENT_CURRENCIES": None,
    #: Hold rewards that look suspicious for staff review (``/admin/fraud``); the block rules apply
    #: whatever this says.
    "FRAUD_REVIEW": True,
    #: Hold a reward when more than this many referred payments of one advocate came through clicks
    #: from one (hashed) IP address.
    "FRAUD_MAX_PURCHASES_PER_IP": 3,
    #: Hold a reward when more than this many referred payments of one advocate came through clicks
    #: from one device cluster: the same browser (user agent and languages) on one /24 (IPv6: /48)
    #: network, so a device hopping between its carrier's addresses is still one.
    "FRAUD_MAX_PURCHASES_PER_DEVICE": 3,
    #: Days the hashed IP and device of a click that brought a signup are kept for the two rules
    #: above (a friend may pay weeks after the click); other clicks' hashes go after
    #: ``CLICK_DEDUPE_SECONDS``. ``flask advocacy privacy purge`` blanks them.
    "FRAUD_HASH_RETENTION_DAYS": 90,
    #: Hold a reward when an advocate's referred payments exceed ``FRAUD_VELOCITY_COUNT`` within
    #: ``FRAUD_VELOCITY_MINUTES``.
    "FRAUD_VELOCITY_COUNT": 5,
    #: The window, in minutes, of that velocity rule.
    "FRAUD_VELOCITY_MINUTES": 60,
    #: Hold a reward when the friend's email looks like the advocate's: the letters of the local parts
    #: are the same (``john.smith`` / ``johnsmith2``) or alike at this difflib ratio (0-1). ``None``
    #: switches the rule off.
    "FRAUD_SIMILAR_EMAIL_RATIO": 0.9,
    #: More disposable email domains (lower-case) whose friends' rewards are held, added to the short
    #: list shipped in ``advocacy_portal.services.fraud.DISPOSABLE_DOMAINS``.
    "FRAUD_DISPOSABLE_DOMAINS": (),
    #: Days a held reward waits for a decision before ``FRAUD_DEADLINE_ACTION`` applies
    #: (``flask advocacy rewards release`` applies it).
    "FRAUD_DEADLINE_DAYS": 30,
    #: What happens to a reward still held at the deadline: ``"keep"`` (keep holding; never paid
    #: without a decision), ``"void"``, or ``"approve"``.
    "FRAUD_DEADLINE_ACTION": "keep",
    #: The staff queue of held rewards.
    "ADMIN_FRAUD_TEMPLATE": "advocacy/admin/fraud.html",
    #: The confirmation step of a large or negative manual adjustment.
    "ADMIN_ADJUST_CONFIRM_TEMPLATE": "advocacy/admin/adjust_confirm.html",
    #: The staff export page (CSV downloads).
    "ADMIN_EXPORT_TEMPLATE": "advocacy/admin/export.html",
    #: Rows fetched from the database at a time while streaming an export.
    "EXPORT_BATCH_ROWS": 500,
}

#: The values of ``ADVOCACY_ATTRIBUTION_CONSENT``.
ATTRIBUTION_CONSENT_MODES = ("not_required", "required")

#: The values of ``ADVOCACY_REDEMPTION_METHOD``.
REDEMPTION_METHODS = ("balance_credit", "promotion_code")

ATTRIBUTION_MODELS = ("last_click", "first_click")


def config_value(key: str, app=None) -> Any:
    """Read one ``ADVOCACY_*`` setting.

    :param key: the setting without its prefix, as listed in :data:`DEFAULTS`.
    :param app: the Flask app; ``current_app`` when omitted.
    :raises KeyError: when ``key`` is not a known setting.
    """
    if key not in DEFAULTS:
        raise KeyError(f"Unknown Advocacy Portal setting {PREFIX}{key}")
    return app_object(app).config[PREFIX + key]


def apply_defaults(app) -> None:
    """Fill in every missing ``ADVOCACY_*`` key and refuse keys this version does not know.

    :raises RuntimeError: on an ``ADVOCACY_*`` key that is not a setting (most likely a typo).
    """
    unknown = sorted(
        key for key in app.config if key.startswith(PREFIX) and key[len(PREFIX):] not in DEFAULTS
    )
    if unknown:
        raise RuntimeError(
            "Unknown Advocacy Portal setting(s): "
            + ", ".join(unknown)
            + ". Known settings are listed in advocacy_portal/config.py (DEFAULTS)."
        )
    for key, value in DEFAULTS.items():
        app.config.setdefault(PREFIX + key, value)
    if app.config[PREFIX + "ATTRIBUTION_MODEL"] not in ATTRIBUTION_MODELS:
        raise RuntimeError(
            f"{PREFIX}ATTRIBUTION_MODEL must be one of {', '.join(ATTRIBUTION_MODELS)}"
        )
    prefix = app.config[PREFIX + "URL_PREFIX"]
    if not isinstance(prefix, str) or not prefix.startswith("/") or prefix.rstrip("/") == "":
        # An empty prefix would put the plugin's page and assets over the host's "/" and "/static".
        raise RuntimeError(f"{PREFIX}URL_PREFIX must be a path such as '/advocacy', not {prefix!r}")
    if "<token>" not in app.config[PREFIX + "REDIRECT_PATH"]:
        raise RuntimeError(f"{PREFIX}REDIRECT_PATH must contain '<token>'")
    _check_testimonial_settings(app)
    _check_stripe_and_rewards(app)
    _check_widget_settings(app)
    _check_api_key_settings(app)
    _check_outgoing_webhook_settings(app)
    _check_privacy_settings(app)


def _check_testimonial_settings(app) -> None:
    """Refuse testimonial, photo, mail and rate-limit settings that would only fail later."""
    config = app.config
    if config[PREFIX + "MAIL_USE_TLS"] and config[PREFIX + "MAIL_USE_SSL"]:
        raise RuntimeError(f"Set only one of {PREFIX}MAIL_USE_TLS (STARTTLS) and {PREFIX}MAIL_USE_SSL")
    low, high = config[PREFIX + "TESTIMONIAL_MIN_LENGTH"], config[PREFIX + "TESTIMONIAL_MAX_LENGTH"]
    if not (isinstance(low, int) and isinstance(high, int) and 0 < low <= high):
        raise RuntimeError(
            f"{PREFIX}TESTIMONIAL_MIN_LENGTH and _MAX_LENGTH must be whole numbers with 0 < min <= max"
        )
    for key in ("PHOTO_MAX_BYTES", "PHOTO_MAX_PIXELS", "PHOTO_SIZE", "WALL_PAGE_SIZE", "API_PAGE_SIZE",
                "API_MAX_PAGE_SIZE", "MAIL_MAX_ATTEMPTS", "REVIEW_TITLE_MAX_LENGTH"):
        value = config[PREFIX + key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise RuntimeError(f"{PREFIX}{key} must be a positive whole number, not {value!r}")
    for key in ("TESTIMONIAL_SUBMIT_LIMIT", "API_RATE_LIMIT", "LINK_FOLLOW_LIMIT", "WIDGET_RATE_LIMIT"):
        try:
            parse_many(config[PREFIX + key])
        except ValueError:
            raise RuntimeError(
                f"{PREFIX}{key} is not a rate limit such as '10 per minute;60 per day'"
            ) from None


def _check_stripe_and_rewards(app) -> None:
    # REWARD_RULES is parsed by the extension (advocacy_portal.services.rules): config imports no service.
    secrets = app.config[PREFIX + "STRIPE_WEBHOOK_SECRETS"]
    if isinstance(secrets, str) or not all(isinstance(s, str) and s for s in secrets):
        raise RuntimeError(f"{PREFIX}STRIPE_WEBHOOK_SECRETS must be a list of secrets, not {secrets!r}")
    methods = app.config[PREFIX + "REDEMPTION_METHOD"]
    chosen = methods.values() if isinstance(methods, dict) else [methods]
    if not chosen or any(method not in REDEMPTION_METHODS for method in chosen) or (
        isinstance(methods, dict) and any(key != "*" and not (isinstance(key, str) and len(key) == 3)
                                          for key in methods)
    ):
        raise RuntimeError(
            f"{PREFIX}REDEMPTION_METHOD must be one of {', '.join(REDEMPTION_METHODS)}, or a dict of "
            f"currency (or '*') to one of them, not {methods!r}"
        )
    for key in ("REWARD_HOLD_DAYS", "REDEMPTION_MINIMUM_MINOR", "STRIPE_WEBHOOK_TOLERANCE_SECONDS",
                "PROMOTION_CODE_DAYS", "SCHEMA_CHECK_SECONDS"):
        value = app.config[PREFIX + key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise RuntimeError(f"{PREFIX}{key} must be a whole number >= 0, not {value!r}")


def _check_widget_settings(app) -> None:
    """Refuse widget settings that would only fail in a visitor's browser (the origins and campaign
    slugs are checked by the extension, with the services that use them)."""
    seconds = app.config[PREFIX + "WIDGET_TOKEN_MAX_AGE_SECONDS"]
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 1:
        raise RuntimeError(f"{PREFIX}WIDGET_TOKEN_MAX_AGE_SECONDS must be a whole number >= 1, not {seconds!r}")
    cache = app.config[PREFIX + "WIDGET_SCRIPT_MAX_AGE_SECONDS"]
    if isinstance(cache, bool) or not isinstance(cache, int) or cache < 0:
        raise RuntimeError(f"{PREFIX}WIDGET_SCRIPT_MAX_AGE_SECONDS must be a whole number >= 0, not {cache!r}")


def _check_api_key_settings(app) -> None:
    """Refuse back-office API settings that would only fail on the first request."""
    prefix = app.config[PREFIX + "API_KEY_PREFIX"]
    if not isinstance(prefix, str) or not re.fullmatch(r"[A-Za-z0-9_]{2,24}", prefix):
        raise RuntimeError(f"{PREFIX}API_KEY_PREFIX must be 2-24 letters, digits or '_', not {prefix!r}")
    try:
        parse_many(app.config[PREFIX + "API_KEY_RATE_LIMIT"])
    except ValueError:
        raise RuntimeError(f"{PREFIX}API_KEY_RATE_LIMIT is not a rate limit such as '600 per minute'") from None
    seconds = app.config[PREFIX + "API_KEY_LAST_USED_INTERVAL_SECONDS"]
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
        raise RuntimeError(f"{PREFIX}API_KEY_LAST_USED_INTERVAL_SECONDS must be a whole number >= 0, not {seconds!r}")


def _check_outgoing_webhook_settings(app) -> None:
    """Refuse outgoing-webhook settings that would only fail at the first delivery."""
    for key in ("WEBHOOKS_TIMEOUT_SECONDS", "WEBHOOKS_SECRET_ROTATION_HOURS", "WEBHOOKS_RESPONSE_SNIPPET_CHARS"):
        value = app.config[PREFIX + key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise RuntimeError(f"{PREFIX}{key} must be a number > 0, not {value!r}")


def _check_privacy_settings(app) -> None:
    """Refuse consent and retention settings that would only fail at a click or a purge."""
    mode = app.config[PREFIX + "ATTRIBUTION_CONSENT"]
    if mode not in ATTRIBUTION_CONSENT_MODES:
        raise RuntimeError(
            f"{PREFIX}ATTRIBUTION_CONSENT must be one of {', '.join(ATTRIBUTION_CONSENT_MODES)}, not {mode!r}"
        )
    for key in ("FINANCIAL_RETENTION_DAYS", "MAIL_LOG_RETENTION_DAYS", "NPS_CASE_RETENTION_DAYS", "UNPUBLISHED_TESTIMONIAL_RETENTION_DAYS",
                "EXPORT_REAUTH_SECONDS"):
        value = app.config[PREFIX + key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise RuntimeError(f"{PREFIX}{key} must be a whole number >= 0, not {value!r}")
    try:
        parse_many(app.config[PREFIX + "EXPORT_RATE_LIMIT"])
    except ValueError:
        raise RuntimeError(f"{PREFIX}EXPORT_RATE_LIMIT is not a rate limit such as '5 per hour'") from None
