"""`flask advocacy privacy purge`: every retention setting applied, each reported."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from advocacy_portal import outbox
from advocacy_portal.db import get_session
from advocacy_portal.models import Conversion
from advocacy_portal.models import Erasure
from advocacy_portal.models import OutboxTask
from advocacy_portal.models import ReferralClick
from advocacy_portal.models import StripeCustomer
from advocacy_portal.models import utcnow
from advocacy_portal import models
from advocacy_portal.services import privacy
from tests.helpers import follow
from tests.helpers import make_customer
from tests.helpers import referral_path
from tests.privacy_support import PRIVACY_RULES
from tests.privacy_support import build_subject
from tests.testimonials_support import make_testimonial

pytestmark = pytest.mark.settings(REWARD_RULES=PRIVACY_RULES, OUTBOX_EXECUTOR="worker")

LONG_AGO = timedelta(days=4000)


def test_purge_applies_every_retention_setting_and_says_what_it_removed(app):
    staff = make_customer(app, staff=True)
    author = make_customer(app)
    follow(app.test_client(), referral_path(app, make_customer(app)))
    rejected = make_testimonial(app, author, state="rejected", staff=staff)
    kept = make_testimonial(app, author, state="approved", staff=staff)
    with app.app_context():
        session = get_session()
        old = utcnow() - LONG_AGO
        session.execute(update(ReferralClick).values(clicked_at=old))
        session.execute(update(models.Testimonial).values(updated_at=old))
        outbox.enqueue("email", {"to": "old@example.com", "subject": "Old", "text": "x"})
        outbox.enqueue("email", {"to": "new@example.com", "subject": "New", "text": "x"})
        session.flush()
        session.execute(update(OutboxTask).where(OutboxTask.topic == "email").values(state="done"))
        session.execute(update(OutboxTask).where(OutboxTask.payload["to"].as_string() == "old@example.com")
                        .values(created_at=old))
        session.commit()

    result = app.test_cli_runner().invoke(args=["advocacy", "privacy", "purge"])
    assert result.exit_code == 0, result.output
    assert "Cleared the IP hashes of 1 clicks" in result.output
    assert "Deleted 1 sent or abandoned emails" in result.output
    assert "Deleted 1 rejected, unpublished or withdrawn testimonials" in result.output
    with app.app_context():
        session = get_session()
        assert session.scalars(select(ReferralClick.ip_hash)).all() == [""]
        remaining = [task.payload["to"] for task in session.scalars(select(OutboxTask).where(OutboxTask.topic == "email"))]
        assert "old@example.com" not in remaining and "new@example.com" in remaining
        assert session.get(models.Testimonial, rejected) is None
        assert session.get(models.Testimonial, kept) is not None
    again = app.test_cli_runner().invoke(args=["advocacy", "privacy", "purge"])
    assert "Deleted 0 sent" in again.output and "Deleted 0 rejected" in again.output


@pytest.mark.settings(OUTBOX_EXECUTOR="inline")
def test_financial_records_lose_their_stripe_ids_after_the_retention_period(stripe_app, fake_stripe):
    app = stripe_app
    subject = build_subject(app, fake_stripe)
    with app.app_context():
        privacy.erase(subject.user.id)
        get_session().commit()
        surrogate = get_session().scalar(select(Erasure.surrogate))
        assert get_session().scalar(select(func.count()).select_from(StripeCustomer)
                                    .where(StripeCustomer.user_id == surrogate)) == 1
        get_session().execute(update(Erasure).values(erased_at=utcnow() - LONG_AGO))
        get_session().commit()
    result = app.test_cli_runner().invoke(args=["advocacy", "privacy", "purge"])
    assert "Removed the Stripe ids of 1 erased people" in result.output
    with app.app_context():
        session = get_session()
        [conversion] = session.scalars(select(Conversion).where(Conversion.customer_user_id == surrogate)).all()
        assert conversion.payment_intent_id is None and conversion.payment_key.startswith("erased:")
        assert conversion.amount_minor == 8000
        assert session.scalar(select(func.count()).select_from(StripeCustomer)
                              .where(StripeCustomer.user_id == surrogate)) == 0
    assert app.test_cli_runner().invoke(args=["advocacy", "ledger", "verify"]).exit_code == 0
