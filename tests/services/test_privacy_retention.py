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
    assert "Deleted the financial records of 0 erased people older than ADVOCACY_FINANCIAL_RETENTION_DAYS" \
        in result.output
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


@pytest.mark.settings(OUTBOX_EXECUTOR="inline")
def test_financial_records_past_retention_are_deleted_and_the_books_still_hold(stripe_app, fake_stripe):
    """The erased person's ledger transactions, rewards, redemption and payments from before the cut-off
    go; one balance-carried-forward transaction keeps every balance; `ledger verify` passes; revenue
    and balances of the period after the cut-off are unchanged; a second purge removes nothing more."""
    import time

    from advocacy_portal import Customer
    from advocacy_portal.config import config_value
    from advocacy_portal.models import Advocate
    from advocacy_portal.models import LedgerTransaction
    from advocacy_portal.models import Redemption
    from advocacy_portal.models import Reward
    from advocacy_portal.services import ledger
    from advocacy_portal.services import reward_queries
    from advocacy_portal.services import rewards
    from advocacy_portal.testing import stripe_events
    from tests.rewards_helpers import deliver

    app = stripe_app
    subject = build_subject(app, fake_stripe)
    client = app.test_client()
    # A second payment of the person: no reward (first payments only), so nothing keeps it.
    deliver(client, stripe_events.checkout_session_completed(
        amount_total=2000, payment_intent="pi_subject_second", metadata={"advocacy_user_id": str(subject.user.id)},
        client_reference_id=str(subject.user.id), customer_email=subject.user.email,
    ))
    with app.app_context():
        privacy.erase(subject.user.id)
        get_session().commit()
        surrogate = get_session().scalar(select(Erasure.surrogate))
    time.sleep(0.05)
    cutoff = utcnow()
    time.sleep(0.05)
    # After the cut-off: a staff correction on the surrogate advocate and someone else's payment.
    with app.app_context():
        advocate = get_session().get(Advocate, subject.advocate_id)
        rewards.post_adjustment(advocate, 500, "usd", "Late correction", Customer(str(subject.staff.id),
                                                                                   subject.staff.email))
        get_session().commit()
    deliver(client, stripe_events.checkout_session_completed(amount_total=4200, payment_intent="pi_later_other"))

    def figures():
        with app.app_context():
            session = get_session()
            advocate = session.get(Advocate, subject.advocate_id)
            return {
                "revenue_after": reward_queries.revenue_summary(cutoff, None),
                "program": ledger.program_balances(),
                "surrogate": ledger.balances(advocate),
                "transactions_after": session.scalar(select(func.count()).select_from(LedgerTransaction)
                                                     .where(LedgerTransaction.created_at >= cutoff)),
            }

    before = figures()
    with app.app_context():
        total_before = reward_queries.revenue_summary()["usd"]["total_minor"]
        ledger_before = ledger.counts()
        days = config_value("FINANCIAL_RETENTION_DAYS")
        report = privacy.purge(now=cutoff + timedelta(days=days))
        get_session().commit()
        records = report.records
        assert records.people == 1 and records.carried_forward == 1
        # The reward (still on hold), the staff adjustment, the redemption reserved and confirmed.
        assert (records.ledger_transactions, records.ledger_entries) == (4, 8)
        assert records.rewards >= 1 and records.redemptions == 1 and records.fraud_reviews == 1
        # The second payment is deleted; the first earned the other advocate a reward: kept, unnamed.
        assert (records.payments, records.payments_detached) == (1, 1)
        [line] = [line for line in report.lines() if line.startswith("Deleted the financial records")]
        assert f"of 1 erased people older than ADVOCACY_FINANCIAL_RETENTION_DAYS: " \
               f"{records.ledger_transactions} ledger transactions" in line
        session = get_session()
        owner = ledger.advocate_owner(subject.advocate_id)
        assert session.scalar(select(func.count()).select_from(Reward)
                              .where(Reward.advocate_id == subject.advocate_id)) == 0
        assert session.scalar(select(func.count()).select_from(Redemption)
                              .where(Redemption.advocate_id == subject.advocate_id)) == 0
        assert session.scalar(select(func.count()).select_from(Conversion)
                              .where(Conversion.customer_user_id == surrogate)) == 0
        [carried] = session.scalars(select(LedgerTransaction)
                                    .where(LedgerTransaction.reason == ledger.CARRIED_FORWARD)).all()
        assert carried.created_at < cutoff and owner not in (carried.memo or "")
        assert reward_queries.revenue_summary()["usd"]["total_minor"] == total_before - 2000
        ledger_after = ledger.counts()
        assert ledger_after[1] == ledger_before[1] - records.ledger_transactions + 1
    assert figures() == before
    # Staff still see the surrogate advocate's page: the balance carried forward, then the later lines.
    from tests.helpers import login

    staff_client = app.test_client()
    login(staff_client, make_customer(app, staff=True))
    page = staff_client.get(f"/advocacy/admin/advocates/{subject.advocate_id}")
    assert page.status_code == 200
    assert "Balance carried forward: older records deleted after the retention period" in page.get_data(as_text=True)
    verify = app.test_cli_runner().invoke(args=["advocacy", "ledger", "verify"])
    assert verify.exit_code == 0 and "Ledger OK" in verify.output, verify.output

    with app.app_context():
        again = privacy.purge(now=cutoff + timedelta(days=days))
        get_session().commit()
        assert again.records.ledger_transactions == 0 and again.records.people == 0
        assert ledger.counts() == ledger_after
