"""A host's own template wins for every template setting: point ``ADVOCACY_*_TEMPLATE`` at a page of the host
app and the plugin renders the host's page, not its own."""

from __future__ import annotations

import pytest
from flask import render_template

from advocacy_portal.config import DEFAULTS
from tests.helpers import make_customer
from tests.host_app import add_templates
from tests.testimonials_support import make_testimonial

TEMPLATE_SETTINGS = sorted(key for key in DEFAULTS if key.endswith("_TEMPLATE"))


def _advocate_id(app, customer) -> int:
    from advocacy_portal.db import get_session
    from advocacy_portal.services import referrals

    with app.app_context():
        advocate_id = referrals.ensure_advocate(customer.id, customer.email).id
        get_session().commit()
        return advocate_id


def _webhook_endpoint_id(app) -> int:
    from advocacy_portal.db import get_session
    from advocacy_portal.services import outgoing_webhooks

    with app.app_context():
        endpoint = outgoing_webhooks.create_endpoint("https://93.184.215.14/hooks", "CRM", ["referral.signed_up"], None)
        get_session().commit()
        return endpoint.id


#: The page that renders each setting's template, as ``(path, who is logged in, expected status)``; a
#: callable path gets the app and the staff user and builds what the page needs.
PAGES = {
    "REFERRAL_PAGE_TEMPLATE": ("/advocacy/", "customer", 200),
    "LINK_NOT_FOUND_TEMPLATE": ("/r/no-such-link", None, 404),
    "ERROR_TEMPLATE": ("/advocacy/admin/", "customer", 403),
    "TESTIMONIAL_FORM_TEMPLATE": ("/advocacy/testimonials/new", "customer", 200),
    "REVIEW_FORM_TEMPLATE": ("/advocacy/reviews/new", "customer", 200),
    "MY_TESTIMONIALS_TEMPLATE": ("/advocacy/testimonials/", "customer", 200),
    "WALL_TEMPLATE": ("/advocacy/wall", None, 200),
    "MODERATION_QUEUE_TEMPLATE": ("/advocacy/admin/testimonials/", "staff", 200),
    "MODERATION_ITEM_TEMPLATE": (
        lambda app, staff: f"/advocacy/admin/testimonials/{make_testimonial(app, make_customer(app))}", "staff", 200),
    "ADMIN_OVERVIEW_TEMPLATE": ("/advocacy/admin/", "staff", 200),
    "ADMIN_ADVOCATES_TEMPLATE": ("/advocacy/admin/advocates", "staff", 200),
    "ADMIN_ADVOCATE_TEMPLATE": (
        lambda app, staff: f"/advocacy/admin/advocates/{_advocate_id(app, make_customer(app))}", "staff", 200),
    "ADMIN_CONVERSIONS_TEMPLATE": ("/advocacy/admin/payments", "staff", 200),
    "ADMIN_REWARDS_TEMPLATE": ("/advocacy/admin/rewards", "staff", 200),
    "ADMIN_AUDIT_TEMPLATE": ("/advocacy/admin/audit", "staff", 200),
    "ADMIN_OUTBOX_TEMPLATE": ("/advocacy/admin/outbox", "staff", 200),
    "REWARDS_PAGE_TEMPLATE": ("/advocacy/rewards/", "customer", 200),
    "ADMIN_API_KEYS_TEMPLATE": ("/advocacy/admin/api-keys/", "staff", 200),
    "ADMIN_WEBHOOKS_TEMPLATE": ("/advocacy/admin/webhooks/", "staff", 200),
    "ADMIN_WEBHOOK_FORM_TEMPLATE": ("/advocacy/admin/webhooks/new", "staff", 200),
    "ADMIN_WEBHOOK_TEMPLATE": (lambda app, staff: f"/advocacy/admin/webhooks/{_webhook_endpoint_id(app)}", "staff", 200),
    "PRIVACY_TEMPLATE": ("/advocacy/privacy/", "customer", 200),
    "ADMIN_FRAUD_TEMPLATE": ("/advocacy/admin/fraud", "staff", 200),
    "ADMIN_EXPORT_TEMPLATE": ("/advocacy/admin/export", "staff", 200),
    "ADMIN_ERASE_TEMPLATE": (
        lambda app, staff: f"/advocacy/admin/advocates/{_advocate_id(app, make_customer(app))}/erase", "staff", 200),
}
def _nps_case(app) -> int:
    from tests.nps_support import open_case

    return open_case(app, make_customer(app))


def _nps_score_path(app) -> str:
    from tests.nps_support import invite
    from tests.nps_support import score_path

    return score_path(app, invite(app, make_customer(app)), 7)


def _nps_unsubscribe_path(app) -> str:
    from advocacy_portal.services import nps

    with app.app_context():
        return "/advocacy/nps/unsubscribe/" + nps.unsubscribe_token("77", "x@example.com")


def _nps_thanks_path(app) -> str:
    from advocacy_portal.db import get_session
    from advocacy_portal.models import NpsInvitation
    from advocacy_portal.services import nps
    from tests.nps_support import invite

    invitation_id = invite(app, make_customer(app))
    with app.app_context():
        invitation = get_session().get(NpsInvitation, invitation_id)
        nps.record_answer(invitation, 8, None, "email")
        get_session().commit()
        return "/advocacy/nps/thanks/" + nps.score_token(invitation)


PAGES.update({
    "NPS_SCORE_TEMPLATE": (lambda app, staff: _nps_score_path(app), None, 200),
    "NPS_THANKS_TEMPLATE": (lambda app, staff: _nps_thanks_path(app), None, 200),
    "NPS_LINK_ERROR_TEMPLATE": ("/advocacy/nps/s/not-a-token", None, 400),
    "NPS_UNSUBSCRIBE_TEMPLATE": (lambda app, staff: _nps_unsubscribe_path(app), None, 200),
    "NPS_HELP_TEMPLATE": ("/advocacy/nps/help", "customer", 200),
    "NPS_CASE_TEMPLATE": (lambda app, staff: __import__("tests.nps_support", fromlist=["case_path"]).case_path(
        app, _nps_case(app)), None, 200),
    "ADMIN_NPS_TEMPLATE": ("/advocacy/admin/nps/", "staff", 200),
    "ADMIN_NPS_CASES_TEMPLATE": ("/advocacy/admin/nps/cases", "staff", 200),
    "ADMIN_NPS_CASE_TEMPLATE": (lambda app, staff: f"/advocacy/admin/nps/cases/{_nps_case(app)}", "staff", 200),
    "ADMIN_NPS_SEND_TEMPLATE": ("/advocacy/admin/nps/send", "staff", 200),
})
#: Settings whose template needs state no single page view sets up (a balance to redeem, a sent email):
#: their setting is resolved through the app's template loader, as the plugin renders it.
RESOLVED_ONLY = {
    "REDEEM_TEMPLATE", "MAIL_THANKS_TEXT_TEMPLATE", "MAIL_THANKS_HTML_TEMPLATE",
    "MAIL_PUBLISHED_TEXT_TEMPLATE", "MAIL_PUBLISHED_HTML_TEMPLATE",
    "NPS_PROMPT_TEMPLATE", "MAIL_NPS_SURVEY_TEXT_TEMPLATE", "MAIL_NPS_SURVEY_HTML_TEMPLATE",
    "MAIL_NPS_CASE_TEXT_TEMPLATE", "MAIL_NPS_CASE_HTML_TEMPLATE",
    "ADMIN_ADJUST_CONFIRM_TEMPLATE",
    "ADMIN_CHARTS_TEMPLATE", "ADMIN_ADVOCATE_FUNNEL_TEMPLATE",  # partials of the overview and advocate pages  # shown after a posted adjustment (tests/blueprints/test_adjustment_guardrails.py)
}
#: The base layout is checked on the wall page: the host's layout must carry the page's content.
LAYOUT_PAGE = "/advocacy/wall"


def test_every_template_setting_is_covered():
    assert set(TEMPLATE_SETTINGS) == set(PAGES) | RESOLVED_ONLY | {"BASE_TEMPLATE", "REVIEWS_OFF_TEMPLATE"}


def host_page(key: str) -> dict:
    return {f"shop/override/{key.lower()}.html": f"<p>The host's own page for {key}</p>"}


@pytest.mark.parametrize("key", sorted(PAGES))
def test_a_host_page_set_in_a_template_setting_wins(app, client, auth, key):
    (path_template, who, status) = PAGES[key]
    add_templates(app, host_page(key))
    app.config[f"ADVOCACY_{key}"] = f"shop/override/{key.lower()}.html"
    staff = make_customer(app, staff=True)
    path = path_template(app, staff) if callable(path_template) else path_template
    if who is not None:
        auth.login(staff if who == "staff" else make_customer(app))
    response = client.get(path)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.get_data(as_text=True).strip() == f"<p>The host's own page for {key}</p>"


@pytest.mark.settings(SHOP_PRODUCTS={})
def test_a_host_page_for_reviews_off_wins(app, client, auth):
    add_templates(app, host_page("REVIEWS_OFF_TEMPLATE"))
    app.config["ADVOCACY_REVIEWS_OFF_TEMPLATE"] = "shop/override/reviews_off_template.html"
    auth.login(make_customer(app))
    response = client.get("/advocacy/reviews/new")
    assert response.status_code == 404
    assert "The host's own page for REVIEWS_OFF_TEMPLATE" in response.get_data(as_text=True)


def test_a_host_layout_set_as_base_template_wraps_the_plugins_pages(app, client):
    add_templates(app, {"shop/override/layout.html": (
        "<body><header>The host's own chrome</header>{% block content %}{% endblock %}</body>")})
    app.config["ADVOCACY_BASE_TEMPLATE"] = "shop/override/layout.html"
    page = client.get(LAYOUT_PAGE).get_data(as_text=True)
    assert "The host's own chrome" in page
    assert "Test Shop</a>" not in page  # the shop's usual layout is not used


@pytest.mark.parametrize("key", sorted(RESOLVED_ONLY))
def test_a_host_template_set_in_a_setting_resolves_to_the_hosts_file(app, key):
    from advocacy_portal.config import config_value

    add_templates(app, host_page(key))
    app.config[f"ADVOCACY_{key}"] = f"shop/override/{key.lower()}.html"
    with app.test_request_context("/"):
        assert render_template(config_value(key)) == f"<p>The host's own page for {key}</p>"
