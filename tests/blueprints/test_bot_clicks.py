"""Bots, explained: a click that is not counted says why in a debug log line, and
``ADVOCACY_COUNT_AUTOMATED_CLICKS`` counts headless browsers and curl for a host's integration tests,
while link-preview bots stay uncounted."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from advocacy_portal.db import get_session
from advocacy_portal.models import ReferralClick
from tests.helpers import follow
from tests.helpers import make_customer
from tests.helpers import referral_path

HEADLESS = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 "
            "Safari/537.36")
CURL = "curl/8.5.0"
PREVIEW = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"
LOGGER = "advocacy_portal.blueprints.links.views"


def devices(app) -> list[str]:
    with app.app_context():
        return list(get_session().scalars(select(ReferralClick.device_class).order_by(ReferralClick.id)))


def test_an_uncounted_click_says_why_in_the_debug_log(app, client, caplog):
    path = referral_path(app, make_customer(app))
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        for user_agent, ip in ((CURL, "203.0.113.1"), (HEADLESS, "203.0.113.2"), (PREVIEW, "203.0.113.3")):
            assert follow(client, path, user_agent=user_agent, ip=ip).status_code == 302
        follow(client, path, ip="203.0.113.4")
        follow(client, path, ip="203.0.113.4")
        client.head(path)
    messages = [record.getMessage() for record in caplog.records if record.name == LOGGER]
    assert devices(app) == ["desktop"]  # only the real browser, once
    assert any("not counted (bot)" in line and "'curl'" in line and "ADVOCACY_COUNT_AUTOMATED_CLICKS" in line
               for line in messages), messages
    assert any("headless browser or script ('Headless')" in line for line in messages)
    assert any("link-preview bot or crawler ('facebookexternalhit')" in line for line in messages)
    assert any("not counted (repeat)" in line and "ADVOCACY_CLICK_DEDUPE_SECONDS" in line for line in messages)
    assert any("a HEAD request" in line for line in messages)


@pytest.mark.settings(COUNT_AUTOMATED_CLICKS=True)
def test_the_setting_counts_headless_browsers_and_curl_but_never_preview_bots(app, client):
    path = referral_path(app, make_customer(app))
    follow(client, path, user_agent=HEADLESS, ip="203.0.113.10")
    follow(client, path, user_agent=CURL, ip="203.0.113.11")
    follow(client, path, user_agent=PREVIEW, ip="203.0.113.12")
    assert devices(app) == ["desktop", "unknown"]
