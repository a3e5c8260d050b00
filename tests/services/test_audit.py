"""The audit log keeps who did what, before and after, in order."""

from __future__ import annotations

from advocacy_portal import Customer
from advocacy_portal.services import audit
from tests.host_app import db


def test_an_action_is_kept_with_its_actor_states_and_reason(app_ctx):
    staff = Customer(id="7", email="staff@example.com")
    audit.record_action(
        staff, "testimonial.reject", "testimonial", 42,
        before={"state": "pending"}, after={"state": "rejected"}, reason="Off topic",
    )
    audit.record_action(None, "testimonial.unpublish", "testimonial", 42, before={"state": "rejected"})
    audit.record_action(staff, "ledger.adjust", "advocate", 3, after={"amount": 500})
    db.session.commit()

    first, second = audit.history("testimonial", "42")
    assert (first.actor_user_id, first.actor_email, first.action) == ("7", "staff@example.com", "testimonial.reject")
    assert first.before == {"state": "pending"} and first.after == {"state": "rejected"}
    assert first.reason == "Off topic"
    assert first.created_at.tzinfo is not None
    assert second.actor_user_id is None and second.action == "testimonial.unpublish"

    assert [entry.action for entry in audit.recent_actions(action_prefix="ledger.")] == ["ledger.adjust"]
    assert [entry.action for entry in audit.recent_actions()][0] == "ledger.adjust"


def test_a_rolled_back_action_leaves_no_entry(app_ctx):
    audit.record_action(None, "testimonial.approve", "testimonial", 1)
    db.session.rollback()
    assert audit.history("testimonial", 1) == []
