"""The staff overview (charts, funnel, ROI, comparison), the advocates leaderboard with lifetime value,
and one advocate's funnel by month: figures a staff member reads, bad input answered clearly."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from advocacy_portal.db import get_session
from advocacy_portal.models import utcnow
from advocacy_portal.services import rollups
from tests.helpers import login
from tests.helpers import make_customer
from tests.rollup_support import add_advocate
from tests.rollup_support import add_clicks
from tests.rollup_support import add_payment
from tests.rollup_support import add_referral
from tests.rollup_support import days_ago

ADMIN = "/advocacy/admin"


def _cell(page: str, attribute: str, value: str) -> str:
    match = re.search(rf'{attribute}="{re.escape(value)}">([^<]*)<', page)
    assert match, f"no {attribute}={value}"
    return match.group(1).strip()


@pytest.fixture
def staff(app):
    client = app.test_client()
    login(client, make_customer(app, "staff@example.com", staff=True))
    return client


@pytest.fixture
def program(app):
    """Ann (busy) and Ben (quiet): clicks, friends, first and repeat payments, one unreferred customer,
    all in the last 30 days; plus last period's smaller figures for the comparison."""
    with app.app_context():
        session = get_session()
        ann = add_advocate(session, "ann@example.com")
        ben = add_advocate(session, "ben@example.com")
        add_clicks(session, ann, [days_ago(2)] * 6 + [days_ago(10)] * 4)
        add_clicks(session, ben, [days_ago(5)] * 2)
        add_clicks(session, ann, [days_ago(40)] * 3)  # the previous period
        paid_friend = add_referral(session, ann, days_ago(9), first_paid_at=days_ago(8))
        add_referral(session, ann, days_ago(3))
        add_referral(session, ben, days_ago(4))
        add_referral(session, ben, days_ago(4), flagged=True)
        add_payment(session, days_ago(8), 10000, referral_id=paid_friend, advocate_id=ann,
                    customer="friend-a", reward=1000)
        add_payment(session, days_ago(1), 10000, referral_id=paid_friend, advocate_id=ann, customer="friend-a")
        add_payment(session, days_ago(6), 5000, customer="someone")
        old_friend = add_referral(session, ann, days_ago(45), first_paid_at=days_ago(44))
        add_payment(session, days_ago(44), 4000, referral_id=old_friend, advocate_id=ann, customer="old-friend",
                    reward=400)
        session.commit()
        rollups.fold()
        add_clicks(session, ben, [days_ago(0)])  # above the watermark: counted live
        session.commit()
        return ann, ben


def test_overview_shows_funnel_revenue_roi_and_the_previous_period(staff, program):
    response = staff.get(f"{ADMIN}/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-figure="clicks">13<' in page  # 10 + 2 + the live one
    assert 'data-figure="signups">3<' in page and 'data-figure="flagged">1<' in page
    assert 'data-figure="paying">1<' in page and 'data-figure="repeat">1<' in page
    assert _cell(page, "data-rate", "signup") == "23.1 %"  # 3 of 13
    assert _cell(page, "data-rate", "first") == "33.3 %"
    # Revenue: $250 in all, $200 of it from Ann's friend; ROI (200 − 10) / 10.
    assert _cell(page, 'data-revenue', "total") == "$250.00"
    assert _cell(page, 'data-revenue', "attributed") == "$200.00"
    assert _cell(page, "data-period-cost", "cost") .startswith("$10.00")
    assert _cell(page, "data-figure-roi", "usd").startswith("1900.0 %")
    assert _cell(page, "data-figure-cpa", "usd") == "$10.00"
    # Against the period before (3 clicks then, 13 now): ▲ 333.3 %.
    assert "▲ 333.3 %" in page
    # Charts are SVG with a title, with a table beside them; no inline style anywhere.
    assert page.count('<svg class="advocacy-chart-svg"') >= 4
    assert 'data-chart="revenue-usd"' in page and 'data-table="revenue-series"' in page
    assert "style=" not in page and "<script>" not in page


@pytest.mark.parametrize("by, rows", [("day", 30), ("week", None), ("month", None)])
def test_overview_groups_by_day_week_or_month(staff, program, by, rows):
    today = utcnow().date()
    first = today - timedelta(days=29)
    page = staff.get(f"{ADMIN}/?by={by}&start={first.isoformat()}&end={today.isoformat()}").get_data(as_text=True)
    series = page.split('data-table="funnel-series"')[1].split("</table>")[0]
    count = series.count("<tr>") - 1  # less the header
    if rows:
        assert count == rows
    else:
        assert 1 < count <= (6 if by == "week" else 2)


@pytest.mark.parametrize("query, message", [
    ("start=2026-05-01&end=2026-04-01", "before it starts"),
    ("start=2001-01-01&end=2099-01-01", "longer than"),
    ("start=2026-13-45", "must be a date"),
    ("end=3000-01-01", "must be a date"),
    ("by=fortnight", "must be one of"),
])
def test_bad_periods_are_a_clear_400(staff, query, message):
    response = staff.get(f"{ADMIN}/?{query}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_leaderboard_ranks_by_each_figure_with_emails(staff, program):
    page = staff.get(f"{ADMIN}/advocates").get_data(as_text=True)
    assert page.index("ann@example.com") < page.index("ben@example.com")  # revenue influenced
    assert 'data-advocate="' in page and "aria-sort=\"descending\"" in page
    ann_row = page.split("ann@example.com")[1].split("</tr>")[0]
    assert _cell(ann_row, "data-cell", "revenue") == "$240.00"  # $200 + $40 of the old friend
    assert _cell(ann_row, "data-cell", "conversion") == "66.7 %"  # 2 of 3 friends paid
    assert _cell(ann_row, "data-cell", "cost") == "$14.00"
    assert _cell(ann_row, "data-cell", "clicks") == "13"
    by_clicks = staff.get(f"{ADMIN}/advocates?order=clicks").get_data(as_text=True)
    assert by_clicks.index("ann@example.com") < by_clicks.index("ben@example.com")
    ben_row = by_clicks.split("ben@example.com")[1].split("</tr>")[0]
    assert _cell(ben_row, "data-cell", "clicks") == "3"  # 2 folded + 1 live
    for order in ("friends", "paying", "conversion", "cost", "newest"):
        assert staff.get(f"{ADMIN}/advocates?order={order}").status_code == 200
    assert "No advocate matches" in staff.get(f"{ADMIN}/advocates?q=nobody").get_data(as_text=True)


def test_lifetime_value_compares_referred_customers_with_others(app, staff):
    with app.app_context():
        session = get_session()
        ann = add_advocate(session, "ann@example.com")
        friend = add_referral(session, ann, days_ago(400), first_paid_at=days_ago(400))
        add_payment(session, days_ago(400), 10000, referral_id=friend, advocate_id=ann, customer="friend")
        add_payment(session, days_ago(380), 10000, referral_id=friend, advocate_id=ann, customer="friend")
        add_payment(session, days_ago(200), 10000, referral_id=friend, advocate_id=ann, customer="friend")
        add_payment(session, days_ago(400), 5000, customer="other")
        session.commit()
    page = staff.get(f"{ADMIN}/advocates").get_data(as_text=True)
    window = lambda days: page.split(f'data-window="{days}"')[1].split("</tr>")[0]  # noqa: E731
    assert _cell(window(30), "data-ltv", "referred") == "$200.00"
    assert _cell(window(30), "data-ltv", "others") == "$50.00"
    assert _cell(window(365), "data-ltv", "referred") == "$300.00"
    assert _cell(window(30), "data-retention", "referred") == "100.0 %"
    assert _cell(window(365), "data-retention", "referred") == "0.0 %"
    assert _cell(window(30), "data-retention", "others") == "0.0 %"


def test_pages_past_the_end_and_bad_orders_answer_clearly(staff, program):
    past = staff.get(f"{ADMIN}/advocates?page=5")
    assert past.status_code == 404 and "There is no page 5" in past.get_data(as_text=True)
    unknown = staff.get(f"{ADMIN}/advocates?order=drop table")  # ignored: ranked by revenue
    assert unknown.status_code == 200 and 'aria-sort="descending"><a href="/advocacy/admin/advocates?order=revenue"' in unknown.get_data(as_text=True)
    assert staff.get(f"{ADMIN}/advocates/2147483647").status_code == 404
    assert staff.get(f"{ADMIN}/advocates/99999999999999").status_code == 404


def test_one_advocate_shows_their_funnel_by_month(app, staff, program):
    ann, _ = program
    page = staff.get(f"{ADMIN}/advocates/{ann}").get_data(as_text=True)
    month = utcnow().date().isoformat()[:7]
    row = page.split(f'data-month="{month}"')[1].split("</tr>")[0]
    this_month = sum(1 for n in (2, 10) if days_ago(n).date().isoformat()[:7] == month)
    assert 'data-chart="advocate-funnel"' in page
    assert page.count("<tr data-month=") == 12
    if this_month == 2:
        assert _cell(row, "data-cell", "clicks") == "10"


@pytest.mark.parametrize("path", ["/", "/?by=month", "/advocates", "/advocates?order=clicks", "/advocates/1"])
def test_customers_get_403_on_the_report_pages(app, program, path):
    client = app.test_client()
    login(client, make_customer(app, "customer@example.com"))
    assert client.get(ADMIN + path).status_code == 403


def test_overview_shows_the_nps_trend_of_the_period(app, staff, program):
    from advocacy_portal.models import NpsInvitation
    from advocacy_portal.models import NpsResponse

    empty = staff.get("/advocacy/admin/?by=week").get_data(as_text=True)
    assert "No NPS answers in this period" in empty
    with app.app_context():
        session = get_session()
        for n, (score, days) in enumerate(((10, 2), (9, 2), (3, 2), (8, 3), (2, 40))):
            at = days_ago(days)
            invitation = NpsInvitation(user_id=f"nps-{n}", email=f"nps{n}@example.com", state="answered", created_at=at)
            session.add(invitation)
            session.flush()
            session.add(NpsResponse(invitation_id=invitation.id, user_id=f"nps-{n}", score=score, channel="email",
                                    created_at=at, updated_at=at))
        session.commit()
    today = utcnow().date()
    page = staff.get(f"/advocacy/admin/?by=day&start={(today - timedelta(days=6)).isoformat()}&end={today.isoformat()}")
    text = page.get_data(as_text=True)
    assert 'data-chart="nps"' in text and 'data-table="nps-trend"' in text
    # Two promoters, one detractor: (2 − 1) / 3 = 33; the day before has one passive: 0; the answer
    # 40 days ago is outside the period.
    assert _cell(text, "data-nps", days_ago(2).date().isoformat()) == "33"
    assert _cell(text, "data-nps", days_ago(3).date().isoformat()) == "0"
    assert _cell(text, "data-nps", days_ago(1).date().isoformat()) == "—"
