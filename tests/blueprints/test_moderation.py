"""Staff moderation: the queue, actions, bulk actions, highlights, audit history, referral figures."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.helpers import CSRF_FIELD
from tests.helpers import follow
from tests.helpers import login
from tests.helpers import make_customer
from tests.helpers import signup
from tests.testimonials_support import BODY
from tests.testimonials_support import make_testimonial
from tests.testimonials_support import stored_testimonials

QUEUE = "/advocacy/admin/testimonials/"


@pytest.fixture
def staff_client(app):
    client = app.test_client()
    staff = make_customer(app, staff=True, name="Sam Staff")
    login(client, staff)
    client.staff = staff
    return client


def csrf(client, url=QUEUE) -> str:
    return CSRF_FIELD.search(client.get(url).get_data(as_text=True)).group(1)


def version_of(app, testimonial_id: int) -> int:
    return next(row["version"] for row in stored_testimonials(app) if row["id"] == testimonial_id)


def act(client, app, testimonial_id: int, action: str, reason: str = "", version: int | None = None):
    token = csrf(client, f"{QUEUE}{testimonial_id}")
    return client.post(
        f"{QUEUE}{testimonial_id}/action",
        data={"csrf_token": token, "action": action, "reason": reason,
              "version": version if version is not None else version_of(app, testimonial_id)},
    )


def test_the_queue_is_for_staff_only_and_in_the_admin_navigation(app, staff_client):
    customer = app.test_client()
    login(customer, make_customer(app))
    assert customer.get(QUEUE).status_code == 403
    page = staff_client.get(QUEUE).get_data(as_text=True)
    assert '<a href="/advocacy/admin/testimonials/" aria-current="page">Testimonials</a>' in page


def test_approving_publishes_and_is_audited_with_before_and_after(app, staff_client):
    author = make_customer(app)
    testimonial_id = make_testimonial(app, author)
    assert "Pat Customer" in staff_client.get(QUEUE).get_data(as_text=True)

    response = act(staff_client, app, testimonial_id, "approve")
    assert response.status_code == 303
    page = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Testimonial {testimonial_id} approved." in page
    [row] = stored_testimonials(app)
    assert row["state"] == "approved" and row["published_at"] is not None
    assert row["moderated_by_user_id"] == str(staff_client.staff.id)
    assert "Pat Customer" in app.test_client().get("/advocacy/wall").get_data(as_text=True)

    from advocacy_portal.services import testimonial_queries

    with app.app_context():
        entries = testimonial_queries.history(testimonial_id)
        assert [entry.action for entry in entries] == ["testimonial.submit", "testimonial.approve"]
        approve = entries[-1]
        assert approve.actor_email == staff_client.staff.email
        assert approve.before["state"] == "pending" and approve.after["state"] == "approved"
    assert 'data-action="testimonial.approve"' in page  # the history on the item page


def test_rejecting_needs_a_reason_which_the_author_sees(app, staff_client):
    author_client = app.test_client()
    author = make_customer(app)
    login(author_client, author)
    testimonial_id = make_testimonial(app, author)
    response = act(staff_client, app, testimonial_id, "reject")
    assert "Give a reason to reject" in staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert stored_testimonials(app)[0]["state"] == "pending"

    act(staff_client, app, testimonial_id, "reject", reason="off_topic")
    assert stored_testimonials(app)[0]["state"] == "rejected"
    page = author_client.get("/advocacy/testimonials/").get_data(as_text=True)
    assert "Not published" in page and "Off-topic: not about our products or service" in page


def test_feature_unfeature_and_unpublish(app, staff_client):
    author = make_customer(app)
    first = make_testimonial(app, author, state="approved", staff=staff_client.staff, display_name="First One")
    second = make_testimonial(app, author, state="approved", staff=staff_client.staff, display_name="Second One")
    wall = app.test_client().get("/advocacy/wall").get_data(as_text=True)
    assert wall.index("Second One") < wall.index("First One")  # newest first

    act(staff_client, app, first, "feature")
    wall = app.test_client().get("/advocacy/wall").get_data(as_text=True)
    assert wall.index("First One") < wall.index("Second One")  # featured first
    act(staff_client, app, first, "unfeature")
    assert not stored_testimonials(app)[0]["featured"]

    act(staff_client, app, second, "unpublish", reason="Outdated")
    assert "Second One" not in app.test_client().get("/advocacy/wall").get_data(as_text=True)
    assert stored_testimonials(app)[1]["state"] == "unpublished"


def test_an_action_on_a_page_that_is_out_of_date_is_refused_clearly(app, staff_client):
    author = make_customer(app)
    testimonial_id = make_testimonial(app, author)
    old_version = version_of(app, testimonial_id)
    act(staff_client, app, testimonial_id, "approve")
    response = act(staff_client, app, testimonial_id, "reject", reason="fake", version=old_version)
    page = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "changed since you opened the page" in page
    assert stored_testimonials(app)[0]["state"] == "approved"


def test_an_action_on_an_item_already_removed_or_withdrawn_is_a_clear_message(app, staff_client):
    author = make_customer(app)
    testimonial_id = make_testimonial(app, author)
    token = csrf(staff_client, f"{QUEUE}{testimonial_id}")
    version = version_of(app, testimonial_id)

    from advocacy_portal.db import get_session
    from advocacy_portal.models import Testimonial
    from advocacy_portal.services import testimonials as service
    from tests.testimonials_support import staff_customer

    with app.app_context():
        service.withdraw(get_session().get(Testimonial, testimonial_id), staff_customer(author))
        get_session().commit()
    response = staff_client.post(f"{QUEUE}{testimonial_id}/action",
                                 data={"csrf_token": token, "action": "approve", "version": version})
    assert response.status_code == 303
    assert "was withdrawn by its author" in staff_client.get(response.headers["Location"]).get_data(as_text=True)

    with app.app_context():
        get_session().delete(get_session().get(Testimonial, testimonial_id))
        get_session().commit()
    response = staff_client.post(f"{QUEUE}{testimonial_id}/action",
                                 data={"csrf_token": token, "action": "approve", "version": version})
    assert response.status_code == 303
    assert f"Testimonial {testimonial_id} no longer exists." in staff_client.get(
        response.headers["Location"]).get_data(as_text=True)
    assert staff_client.get(f"{QUEUE}{testimonial_id}").status_code == 404


def test_staff_actions_need_the_csrf_token(app, staff_client):
    testimonial_id = make_testimonial(app, make_customer(app))
    response = staff_client.post(f"{QUEUE}{testimonial_id}/action",
                                 data={"action": "approve", "version": version_of(app, testimonial_id)})
    assert response.status_code == 400
    assert stored_testimonials(app)[0]["state"] == "pending"


def test_bulk_actions_report_each_item(app, staff_client):
    author = make_customer(app)
    first = make_testimonial(app, author)
    second = make_testimonial(app, author)
    third = make_testimonial(app, author)
    stale = version_of(app, third)
    act(staff_client, app, third, "reject", reason="fake")
    response = staff_client.post(
        f"{QUEUE}bulk",
        data={"csrf_token": csrf(staff_client), "action": "approve", "back": QUEUE + "?state=pending",
              "selected": [f"{first}:{version_of(app, first)}", f"{second}:{version_of(app, second)}",
                           f"{third}:{stale}", "9999:1"]},
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(QUEUE + "?state=pending")
    page = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Approve: done for 2 testimonials." in page
    assert f"Testimonial {third} changed since you opened the page" in page
    assert "Testimonial 9999 no longer exists." in page
    states = {row["id"]: row["state"] for row in stored_testimonials(app)}
    assert states == {first: "approved", second: "approved", third: "rejected"}


def test_bulk_reject_needs_a_reason_and_back_cannot_leave_the_queue(app, staff_client):
    testimonial_id = make_testimonial(app, make_customer(app))
    response = staff_client.post(
        f"{QUEUE}bulk",
        data={"csrf_token": csrf(staff_client), "action": "reject", "back": "//evil.example/",
              "selected": [f"{testimonial_id}:{version_of(app, testimonial_id)}"]},
    )
    assert response.headers["Location"].endswith(QUEUE)
    assert "Give a reason" in staff_client.get(QUEUE).get_data(as_text=True)
    assert stored_testimonials(app)[0]["state"] == "pending"


def test_queue_filters_and_pagination(app, staff_client):
    author = make_customer(app)
    staff = staff_client.staff
    make_testimonial(app, author, rating=2, display_name="Low Rater")
    make_testimonial(app, author, rating=5, display_name="High Rater")
    make_testimonial(app, author, kind="review", product_key="pro", title="Pro review",
                     display_name="Pro Reviewer", rating=4)
    make_testimonial(app, author, state="approved", staff=staff, display_name="Approved Person")

    def names(query):
        page = staff_client.get(QUEUE + query).get_data(as_text=True)
        return set(re.findall(r"by ([A-Za-z ]+?)(?:,| ·)", page))

    assert names("") == {"Low Rater", "High Rater", "Pro Reviewer"}  # pending by default
    assert names("?state=approved") == {"Approved Person"}
    assert names("?state=&rating=5") == {"High Rater", "Approved Person"}
    assert names("?state=&product=pro") == {"Pro Reviewer"}
    assert names("?state=&kind=review") == {"Pro Reviewer"}
    from advocacy_portal.models import utcnow

    today = utcnow().date()
    assert len(names(f"?state=&submitted_from={today}&submitted_until={today}")) == 4
    assert names(f"?state=&submitted_from={today + timedelta(days=1)}") == set()
    # Bad filters show the queue without them, never a 500.
    assert staff_client.get(QUEUE + "?state=bogus&rating=x&submitted_from=yesterday&page=zz").status_code == 200

    app.config["ADVOCACY_WALL_PAGE_SIZE"] = 2
    first_page = staff_client.get(QUEUE).get_data(as_text=True)
    assert "page 1 of 2" in first_page and 'rel="next"' in first_page
    assert "page 2 of 2" in staff_client.get(QUEUE + "?state=pending&page=2").get_data(as_text=True)


def test_a_highlight_is_picked_by_offsets_or_words_and_the_quote_never_changes(app, staff_client):
    testimonial_id = make_testimonial(app, make_customer(app))
    url = f"{QUEUE}{testimonial_id}/highlight"
    start = BODY.index("a pleasure")
    response = staff_client.post(url, data={"csrf_token": csrf(staff_client, f"{QUEUE}{testimonial_id}"),
                                            "version": version_of(app, testimonial_id),
                                            "start": start, "end": start + len("a pleasure")})
    assert response.status_code == 303
    page = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Highlighted: “a pleasure”" in page
    response = staff_client.post(url, data={"csrf_token": csrf(staff_client, f"{QUEUE}{testimonial_id}"),
                                            "version": version_of(app, testimonial_id),
                                            "excerpt": "from the first order"})
    assert response.status_code == 303
    [row] = stored_testimonials(app)
    assert BODY[row["highlight_start"]:row["highlight_end"]] == "from the first order"
    assert row["body"] == BODY

    for bad in ({"start": 5, "end": 500}, {"start": 9, "end": 3}, {"excerpt": "words never written"}):
        response = staff_client.post(url, data={"csrf_token": csrf(staff_client, f"{QUEUE}{testimonial_id}"),
                                                "version": version_of(app, testimonial_id), **bad})
        assert response.status_code == 400, bad
        assert "advocacy-error" in response.get_data(as_text=True)
    assert stored_testimonials(app)[0]["body"] == BODY


def test_clicks_and_signups_of_each_testimonials_link(app, staff_client):
    author = make_customer(app)
    testimonial_id = make_testimonial(app, author, state="approved", staff=staff_client.staff)
    other_id = make_testimonial(app, author, state="approved", staff=staff_client.staff)
    items = app.test_client().get("/advocacy/api/testimonials").get_json()["items"]
    link = next(item["referral_url"] for item in items if item["id"] == testimonial_id)
    path = link.split("shop.test", 1)[1]
    visitor = app.test_client()
    assert follow(visitor, path, ip="203.0.113.50").status_code == 302
    assert follow(app.test_client(), path, ip="203.0.113.51").status_code == 302
    signup(visitor, "friend-of-testimonial@example.com")

    page = staff_client.get(f"{QUEUE}{testimonial_id}").get_data(as_text=True)
    assert '<dd data-figure="clicks">2</dd>' in page
    assert '<dd data-figure="signups">1</dd>' in page
    assert '<dd data-figure="revenue">–</dd>' in page
    other = staff_client.get(f"{QUEUE}{other_id}").get_data(as_text=True)
    assert '<dd data-figure="clicks">0</dd>' in other
    queue = staff_client.get(QUEUE + "?state=approved").get_data(as_text=True)
    row = queue[queue.index(f'data-testimonial-id="{testimonial_id}"'):]
    assert '<td data-figure="clicks">2</td>' in row[:3000]
