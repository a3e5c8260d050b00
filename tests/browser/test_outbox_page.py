"""The staff outbox page in Chromium: dead tasks with their errors, replay, at 1280 and 390 px."""

from __future__ import annotations

import pytest

from advocacy_portal import outbox
from advocacy_portal.db import get_session
from tests.browser.a11y import look_at
from tests.browser.test_referral_flow import expect
from tests.browser.test_referral_flow import log_in
from tests.helpers import make_customer
from tests.host_app import Note

pytestmark = pytest.mark.browser


@pytest.mark.settings(TASK_EXECUTOR="worker", OUTBOX_MAX_ATTEMPTS=1)
def test_staff_see_a_dead_task_with_its_error_and_replay_it(app, live_server, new_context):
    with app.app_context():
        outbox.enqueue("shop.note", {"text": "parked", "fail": 1}, subject_type="order", subject_id=42)
        for n in range(3):
            outbox.enqueue("shop.note", {"text": f"fine {n}"})
        get_session().commit()
    assert outbox.run_due(app).dead == 1
    staff = make_customer(app, "ops@example.com", staff=True)
    page = new_context().new_page()
    log_in(page, staff)
    page.goto("/advocacy/admin/outbox")
    expect(page.get_by_role("heading", level=1)).to_have_text("Outbox")
    dead = page.locator("#advocacy-outbox-dead tbody tr")
    expect(dead).to_have_count(1)
    expect(dead.first).to_contain_text("RuntimeError: shop.note failed on purpose (attempt 1)")
    expect(dead.first).to_contain_text("order 42")
    expect(page.locator('dd[data-count="dead"]')).to_have_text("1")
    expect(page.locator('dd[data-count="done"]')).to_have_text("3")
    look_at(page, "admin-outbox")

    # The cause is fixed (here: the task no longer fails), and staff replay it.
    from advocacy_portal.models import OutboxTask

    with app.app_context():
        get_session().get(OutboxTask, 1).payload = {"text": "parked"}
        get_session().commit()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name="Replay task 1").click()
    expect(page.get_by_role("status")).to_contain_text("Replayed 1 task(s).")
    expect(page.locator("#advocacy-outbox-dead tbody tr")).to_have_count(0)
    assert outbox.run_due(app).done == 1
    with app.app_context():
        assert sorted(get_session().scalars(Note.__table__.select().with_only_columns(Note.text))) == [
            "fine 0", "fine 1", "fine 2", "parked"]
