"""The staff overview with its charts, the advocates leaderboard and one advocate's funnel, in Chromium
with data, at 1280 and 390 px; bad input answered with a clear page."""

from __future__ import annotations

import pytest

from advocacy_portal.db import get_session
from advocacy_portal.services import rollups
from tests.browser.a11y import look_at
from tests.browser.test_referral_flow import expect
from tests.browser.test_referral_flow import log_in
from tests.helpers import make_customer
from tests.rollup_support import add_advocate
from tests.rollup_support import add_clicks
from tests.rollup_support import add_payment
from tests.rollup_support import add_referral
from tests.rollup_support import days_ago

pytestmark = pytest.mark.browser


@pytest.fixture
def program(app):
    with app.app_context():
        session = get_session()
        ids = []
        for number in range(8):
            advocate = add_advocate(session, f"advocate.with.a.rather.long.address{number}@example-company.com")
            ids.append(advocate)
            add_clicks(session, advocate, [days_ago(day) for day in range(0, 60, 1 + number)])
            for friend in range(number + 1):
                paid = friend % 2 == 0
                referral = add_referral(session, advocate, days_ago(5 + friend * 3),
                                        first_paid_at=days_ago(4 + friend * 3) if paid else None)
                if paid:
                    add_payment(session, days_ago(4 + friend * 3), 4900 + 1000 * friend, referral_id=referral,
                                advocate_id=advocate, customer=f"friend-{number}-{friend}", reward=490)
                    add_payment(session, days_ago(1 + friend), 4900, referral_id=referral, advocate_id=advocate,
                                customer=f"friend-{number}-{friend}")
        for number in range(6):
            add_payment(session, days_ago(number * 7 + 2), 9900, customer=f"direct-{number}")
        from advocacy_portal.models import NpsInvitation
        from advocacy_portal.models import NpsResponse

        for number in range(12):  # NPS answers on the overview's trend
            at = days_ago(number * 2 + 1)
            invitation = NpsInvitation(user_id=f"nps-{number}", state="answered", created_at=at)
            session.add(invitation)
            session.flush()
            session.add(NpsResponse(invitation_id=invitation.id, user_id=f"nps-{number}", score=(number * 7) % 11,
                                    channel="email", created_at=at, updated_at=at))
        session.commit()
        rollups.fold()
        return ids


def test_staff_read_the_overview_charts_and_the_leaderboard(app, live_server, new_context, program):
    staff = make_customer(app, "staff@example.com", staff=True)
    page = new_context().new_page()
    log_in(page, staff)

    page.goto("/advocacy/admin/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Referral program")
    expect(page.get_by_role("img", name="Funnel: clicks, signups, first and repeat payments")).to_be_visible()
    expect(page.get_by_role("img", name="Referral revenue against all revenue by day, USD")).to_be_visible()
    expect(page.locator('[data-figure="signups"]')).to_have_text("36")
    expect(page.get_by_role("img", name="NPS answers by day: promoters, passives, detractors")).to_be_visible()
    look_at(page, "admin-overview")

    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_label("Group by").select_option("week")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("img", name="Referral revenue against all revenue by week, USD")).to_be_visible()
    look_at(page, "admin-overview-by-week")

    page.goto("/advocacy/admin/?start=2026-05-01&end=2026-04-01")
    expect(page.get_by_text("before it starts")).to_be_visible()

    page.goto("/advocacy/admin/advocates")
    expect(page.get_by_role("heading", level=1)).to_have_text("Advocates")
    rows = page.locator('table[data-table="leaderboard"] tbody tr')
    expect(rows).to_have_count(8)
    expect(rows.first).to_contain_text("$512.00")  # the most revenue influenced (6 and 7 tie: the older first)
    expect(rows.first).to_contain_text("address6@example-company.com")
    expect(page.locator('table[data-table="lifetime"]')).to_be_visible()
    look_at(page, "admin-advocates")

    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("link", name="Clicks").click()
    expect(rows.first).to_contain_text("address0@example-company.com")  # clicked every day

    rows.first.get_by_role("link").click()
    expect(page.get_by_role("img", name="Clicks, signups and first payments by month")).to_be_visible()
    # At 1280 only: the rest of the advocate's page (balances, ledger) is laid out for 390 px by the
    # staff-pages work; the funnel itself scrolls inside its own box.
    look_at(page, "admin-advocate-funnel", widths=(1280,))
    page.set_viewport_size({"width": 390, "height": 900})
    funnel = page.get_by_role("region", name="Funnel by month")
    assert funnel.bounding_box()["width"] <= 390

    page.goto("/advocacy/admin/advocates?page=9")
    expect(page.get_by_text("There is no page 9")).to_be_visible()


def test_a_customer_is_refused_the_report_pages(app, live_server, new_context, program):
    customer = make_customer(app, "customer@example.com")
    page = new_context().new_page()
    log_in(page, customer)
    for path in ("/advocacy/admin/", "/advocacy/admin/advocates", f"/advocacy/admin/advocates/{program[0]}"):
        response = page.goto(path)
        assert response.status == 403
        expect(page.get_by_text("staff only")).to_be_visible()
