"""The testimonial services: state rules, trust labels, highlights, ratings and referral figures."""

from __future__ import annotations

from datetime import timedelta

import pytest

from advocacy_portal import Customer
from tests.helpers import make_customer
from tests.testimonials_support import BODY
from tests.testimonials_support import make_testimonial
from tests.testimonials_support import moderate
from tests.testimonials_support import staff_customer
from tests.testimonials_support import stored_testimonials


def service():
    from advocacy_portal.services import testimonials

    return testimonials


def queries():
    from advocacy_portal.services import testimonial_queries

    return testimonial_queries


def test_the_moderation_state_rules(app):
    staff = make_customer(app, staff=True)
    testimonial_id = make_testimonial(app, make_customer(app))
    s = service()
    with app.app_context():
        who = staff_customer(staff)
        with pytest.raises(queries().TestimonialError, match="Only approved testimonials can be featured"):
            s.moderate(testimonial_id, "feature", who)
        with pytest.raises(queries().TestimonialError, match="cannot be unpublished"):
            s.moderate(testimonial_id, "unpublish", who)
        s.moderate(testimonial_id, "approve", who)
        with pytest.raises(queries().TestimonialError, match="already approved"):
            s.moderate(testimonial_id, "approve", who)
        with pytest.raises(queries().TestimonialError, match="cannot be rejected"):
            s.moderate(testimonial_id, "reject", who, reason="abusive")
        s.moderate(testimonial_id, "unpublish", who)
        s.moderate(testimonial_id, "reject", who, reason="off_topic")
        s.moderate(testimonial_id, "approve", who)  # staff may reconsider
        with pytest.raises(queries().NotFound):
            s.moderate(424242, "approve", who)


def test_do_not_publish_is_never_published_even_when_approved(app):
    staff = make_customer(app, staff=True)
    make_testimonial(app, make_customer(app), consent="do_not_publish", state="approved", staff=staff)
    [row] = stored_testimonials(app)
    assert row["state"] == "approved" and row["published_at"] is None
    with app.app_context():
        assert queries().published().total == 0


def test_an_edit_changing_consent_stores_the_new_wording(app):
    author = make_customer(app)
    testimonial_id = make_testimonial(app, author)
    s = service()
    from advocacy_portal.db import get_session

    with app.app_context():
        testimonial = queries().get_own(testimonial_id, author.id)
        s.edit_own(testimonial, staff_customer(author), consent="publish_anonymous")
        get_session().commit()
        assert testimonial.consent_text == app.config["ADVOCACY_CONSENT_PUBLISH_ANONYMOUS_TEXT"]
        with pytest.raises(queries().NotFound):
            queries().get_own(testimonial_id, "someone-else")


def test_highlight_offsets_are_checked_against_the_text(app):
    staff = make_customer(app, staff=True)
    testimonial_id = make_testimonial(app, make_customer(app), body="Fast 🚀 delivery and kind staff.")
    s = service()
    with app.app_context():
        who = staff_customer(staff)
        body = "Fast 🚀 delivery and kind staff."
        start, end = s.find_excerpt(body, "🚀 delivery")
        assert (start, end) == (5, 15)  # characters, not bytes or UTF-16 units
        testimonial = s.set_highlight(testimonial_id, who, start, end)
        assert testimonial.highlight == "🚀 delivery"
        for bad in ((0, 0), (-1, 3), (3, 999), (4, 5)):
            with pytest.raises(queries().TestimonialError):
                s.set_highlight(testimonial_id, who, *bad)
        testimonial = s.set_highlight(testimonial_id, who, None, None)
        assert testimonial.highlight is None and testimonial.body == body


def test_verified_customer_when_a_referred_friend_has_paid(app):
    from advocacy_portal.db import get_session
    from advocacy_portal.services import referrals
    from advocacy_portal.services import trust
    from advocacy_portal.services.links import AttributionClaim

    advocate_user = make_customer(app)
    friend = make_customer(app)
    with app.app_context():
        advocate = referrals.ensure_advocate(advocate_user.id, advocate_user.email)
        referrals.attribute_signup(friend.id, friend.email, AttributionClaim(advocate.code, None, None, None))
        get_session().commit()
        assert not trust.is_verified_customer(friend.id)
        assert trust.incentive_for(advocate_user.id) is None
        referrals.mark_friend_paid(friend.id)
        get_session().commit()
        assert trust.is_verified_customer(friend.id)
        # The advocate now earned referral rewards: their testimonials are incentivised.
        assert "earned referral rewards" in trust.incentive_for(advocate_user.id)
        assert trust.revenue_by_campaign(["t1"]) == {}
    staff = make_customer(app, staff=True)
    make_testimonial(app, friend)
    make_testimonial(app, advocate_user)
    rows = stored_testimonials(app)
    assert (rows[0]["verified_customer"], rows[0]["incentivised"]) == (True, False)
    assert (rows[1]["verified_customer"], rows[1]["incentivised"]) == (False, True)
    item = app.test_client().get("/advocacy/api/testimonials").get_json()["items"]
    assert item == []  # nothing approved yet
    moderate(app, rows[0]["id"], "approve", staff)
    [published] = app.test_client().get("/advocacy/api/testimonials").get_json()["items"]
    assert published["labels"]["verified_customer"] is True
    assert "Verified customer" in app.test_client().get("/advocacy/wall").get_data(as_text=True)


def test_labels_are_refreshed_on_approval_and_a_host_hook_can_verify(app):
    from tests.host_app import portal

    staff = make_customer(app, staff=True)
    author = make_customer(app)
    testimonial_id = make_testimonial(app, author)
    assert stored_testimonials(app)[0]["verified_customer"] is False
    paying = {str(author.id)}
    previous = portal.verified_customer_callback
    portal.verified_customer_check(lambda user_id: user_id in paying)
    try:
        moderate(app, testimonial_id, "approve", staff)
    finally:
        portal.verified_customer_check(previous)
    assert stored_testimonials(app)[0]["verified_customer"] is True


def test_a_reused_nonce_by_another_author_is_refused(app):
    s = service()
    first, second = make_customer(app), make_customer(app)
    from advocacy_portal.db import get_session

    with app.app_context():
        s.submit(staff_customer(first), nonce="n" * 24, rating=5, body=BODY, display_name="A",
                 consent="publish_named")
        get_session().commit()
        again = s.submit(staff_customer(first), nonce="n" * 24, rating=5, body=BODY, display_name="A",
                         consent="publish_named")
        assert again.created is False and again.testimonial.rating == 5  # a double click
        with pytest.raises(s.FormAlreadyUsed):  # the same form with other content is not a repeat
            s.submit(staff_customer(first), nonce="n" * 24, rating=1, body="Other words entirely here",
                     display_name="A", consent="publish_named")
        with pytest.raises(s.FormAlreadyUsed):
            s.submit(staff_customer(second), nonce="n" * 24, rating=5, body=BODY, display_name="B",
                     consent="publish_named")


def test_referral_figures_count_only_the_authors_own_link(app):
    from advocacy_portal.db import get_session
    from advocacy_portal.models import utcnow
    from advocacy_portal.services import referrals

    staff = make_customer(app, staff=True)
    author, other = make_customer(app), make_customer(app)
    testimonial_id = make_testimonial(app, author, state="approved", staff=staff)
    s = service()
    with app.app_context():
        mine = referrals.ensure_advocate(author.id, author.email)
        theirs = referrals.ensure_advocate(other.id, other.email)
        ua = "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0"
        for n, advocate in enumerate((mine, mine, theirs)):
            referrals.record_click(advocate, f"t{testimonial_id}",
                                   referrals.Visit(ip=f"198.51.100.{n}", user_agent=ua, referrer=None),
                                   now=utcnow() - timedelta(minutes=n))
        get_session().commit()
        testimonial = get_session().get(s.Testimonial, testimonial_id)
        figures = queries().referral_figures([testimonial])[testimonial_id]
        assert (figures.clicks, figures.signups, figures.revenue) == (2, 0, {})


def test_ratings_per_product(app):
    staff = make_customer(app, staff=True)
    author = make_customer(app)
    for rating in (5, 4, 4):
        make_testimonial(app, author, state="approved", staff=staff, kind="review", product_key="pro",
                         title="t", rating=rating)
    make_testimonial(app, author, state="approved", staff=staff, kind="review", product_key="team",
                     title="t", rating=1)
    make_testimonial(app, author, kind="review", product_key="team", title="t", rating=5)  # pending
    with app.app_context():
        ratings = {r.product: (r.average, r.count, r.name) for r in queries().ratings()}
    assert ratings == {"pro": (4.3, 3, "Pro plan"), "team": (1.0, 1, "Team plan")}


def test_the_cli_lists_moderates_and_counts(app, runner):
    staff = make_customer(app, staff=True)
    testimonial_id = make_testimonial(app, make_customer(app))
    result = runner.invoke(args=["advocacy", "testimonials", "list"])
    assert f"{testimonial_id}\tpending\t5" in result.output
    result = runner.invoke(args=["advocacy", "testimonials", "moderate", str(testimonial_id), "reject",
                                 "--staff-id", str(staff.id)])
    assert result.exit_code != 0 and "Give a reason" in result.output
    result = runner.invoke(args=["advocacy", "testimonials", "moderate", str(testimonial_id), "approve",
                                 "--staff-id", str(staff.id)])
    assert result.exit_code == 0, result.output
    assert "approved:    1" in runner.invoke(args=["advocacy", "testimonials", "stats"]).output
    assert isinstance(Customer(id="1", email=None), Customer)


#: Every (state, action) pair and what must follow: the new state and whether it is featured, or
#: ``None`` when the action is refused. Written out, not derived from the service's own table.
TRANSITIONS = {
    "pending": {"approve": ("approved", False), "reject": ("rejected", False), "unpublish": None,
                "feature": None, "unfeature": None, "withdraw": ("withdrawn", False)},
    "approved": {"approve": None, "reject": None, "unpublish": ("unpublished", False),
                 "feature": ("approved", True), "unfeature": ("approved", False),
                 "withdraw": ("withdrawn", False)},
    "featured": {"approve": None, "reject": None, "unpublish": ("unpublished", False),
                 "feature": ("approved", True), "unfeature": ("approved", False),
                 "withdraw": ("withdrawn", False)},
    "rejected": {"approve": ("approved", False), "reject": None, "unpublish": None, "feature": None,
                 "unfeature": None, "withdraw": ("withdrawn", False)},
    "unpublished": {"approve": ("approved", False), "reject": ("rejected", False), "unpublish": None,
                    "feature": None, "unfeature": None, "withdraw": ("withdrawn", False)},
    "withdrawn": {"approve": None, "reject": None, "unpublish": None, "feature": None, "unfeature": None,
                  "withdraw": ("withdrawn", False)},
}


@pytest.mark.parametrize("start", list(TRANSITIONS))
def test_every_state_transition(app, start):
    from advocacy_portal.db import get_session
    from advocacy_portal.models import Testimonial
    from advocacy_portal.services import audit

    s = service()
    staff = make_customer(app, staff=True)
    author = make_customer(app)
    for action, expected in TRANSITIONS[start].items():
        testimonial_id = make_testimonial(app, author, state="approved" if start == "withdrawn" else start,
                                          staff=staff)
        if start == "withdrawn":
            with app.app_context():
                s.withdraw(get_session().get(Testimonial, testimonial_id), Customer(id=str(author.id), email=None))
                get_session().commit()
        before = next(row for row in stored_testimonials(app) if row["id"] == testimonial_id)
        with app.app_context():
            entries_before = len(audit.history("testimonial", testimonial_id))
            testimonial = get_session().get(Testimonial, testimonial_id)
            try:
                if action == "withdraw":
                    s.withdraw(testimonial, Customer(id=str(author.id), email=None))
                else:
                    s.moderate(testimonial_id, action, staff_customer(staff), reason="off_topic",
                               expected_version=testimonial.version)
                get_session().commit()
                refused = None
            except queries().TestimonialError as error:
                get_session().rollback()
                refused = str(error)
            entries_after = len(audit.history("testimonial", testimonial_id))
        after = next(row for row in stored_testimonials(app) if row["id"] == testimonial_id)
        where = f"{start} --{action}-->"
        if expected is None:
            assert refused, f"{where} should be refused"
            assert str(testimonial_id) in refused, f"{where}: the message names the testimonial: {refused}"
            assert after == before, f"{where} changed the testimonial although refused"
            assert entries_after == entries_before, f"{where} was audited although refused"
            continue
        assert refused is None, f"{where} refused: {refused}"
        assert (after["state"], after["featured"]) == expected, where
        published = after["state"] == "approved"
        assert (after["published_at"] is not None) == published, where
        if start == "withdrawn":  # withdrawing again is harmless: nothing changes, nothing is logged
            assert after == before and entries_after == entries_before, where
        else:
            assert after["version"] == before["version"] + 1, where
            assert entries_after == entries_before + 1, where
        if after["state"] == "withdrawn":
            assert after["consent"] == "do_not_publish", where
