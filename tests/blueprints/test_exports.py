"""Staff exports: streamed CSV of referrals, payments, ledger and audit entries, from the page and the CLI."""

from __future__ import annotations

import csv
import io

import pytest

from advocacy_portal.db import get_session
from advocacy_portal.services import exports
from advocacy_portal.services import rewards
from advocacy_portal.testing import stripe_events
from tests.helpers import login
from tests.helpers import make_customer
from tests.rewards_helpers import PERCENT_RULES
from tests.rewards_helpers import deliver
from tests.rewards_helpers import make_referral

ADMIN = "/advocacy/admin"
pytestmark = pytest.mark.settings(REWARD_RULES=PERCENT_RULES, EXPORT_BATCH_ROWS=2)


@pytest.fixture
def data(stripe_app):
    webhook = stripe_app.test_client()
    referrals = [make_referral(stripe_app) for _ in range(3)]
    for n, referred in enumerate(referrals):
        deliver(webhook, stripe_events.checkout_session_completed(
            amount_total=1000 * (n + 1), metadata=referred.metadata, payment_intent=f"pi_export_{n}"))
    boss = make_customer(stripe_app, "boss@example.com", staff=True)
    from advocacy_portal.services import referrals as referral_service

    with stripe_app.app_context():
        advocate = referral_service.get_advocate(str(referrals[0].advocate.id))
        rewards.post_adjustment(advocate, -250, "usd", "=HYPERLINK(\"http://evil\") 🎉", boss, idempotency_key="e" * 20)
        get_session().commit()
    staff = stripe_app.test_client()
    login(staff, boss)
    return staff


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_each_kind_downloads_as_csv_in_batches(stripe_app, data):
    page = data.get(ADMIN + "/export")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'data-rows="referrals">3<' in text and 'data-rows="conversions">3<' in text
    referrals = data.get(ADMIN + "/export/referrals.csv")
    assert referrals.is_streamed and referrals.mimetype == "text/csv"
    assert "attachment" in referrals.headers["Content-Disposition"]
    rows = _csv(referrals)
    assert rows[0][:3] == ["id", "signed_up_at", "advocate_id"] and len(rows) == 4  # 3 rows across 2 batches
    payments = _csv(data.get(ADMIN + "/export/conversions.csv"))
    assert sorted(row[4] for row in payments[1:]) == ["10.00", "20.00", "30.00"]
    ledger_rows = _csv(data.get(ADMIN + "/export/ledger.csv"))
    assert "-2.50" in [row[6] for row in ledger_rows]
    audit_rows = _csv(data.get(ADMIN + "/export/audit.csv"))
    assert audit_rows[1][3] == "Manual adjustment" and "Amount: -$2.50" in audit_rows[1][6]
    assert audit_rows[1][7].startswith("'=HYPERLINK") and "🎉" in audit_rows[1][7]  # no formula, no \\ud83c


def test_periods_empty_exports_and_bad_input_get_clear_answers(stripe_app, data):
    empty = data.get(ADMIN + "/export/referrals.csv?start=2001-01-01&end=2001-01-31")
    assert empty.status_code == 200 and len(_csv(empty)) == 1  # the header only
    page = data.get(ADMIN + "/export?start=2001-01-01&end=2001-01-31").get_data(as_text=True)
    assert "Nothing to download" in page
    inverted = data.get(ADMIN + "/export/referrals.csv?start=2090-01-01&end=2000-01-01")
    assert inverted.status_code == 200 and len(_csv(inverted)) == 4
    for bad in ("start=0000-00-00", "end=99999-01-01", "start=yesterday", "start=2026-02-30"):
        answer = data.get(ADMIN + "/export/ledger.csv?" + bad)
        assert answer.status_code == 400 and "must be a date" in answer.get_data(as_text=True)
        assert data.get(ADMIN + "/export?" + bad).status_code == 400
    assert data.get(ADMIN + "/export/tips.csv").status_code == 404
    customer = stripe_app.test_client()
    login(customer, make_customer(stripe_app))
    assert customer.get(ADMIN + "/export/audit.csv").status_code == 403


def test_the_cli_writes_the_file_with_a_progress_bar(stripe_app, data, tmp_path):
    target = tmp_path / "conversions.csv"
    result = stripe_app.test_cli_runner().invoke(
        args=["advocacy", "export", "conversions", "--since", "2000-01-01", "--until", "2090-12-31",
              "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert "Exported 3 conversions row(s)" in result.output
    rows = list(csv.reader(target.open(encoding="utf-8")))
    assert len(rows) == 4
    bad = stripe_app.test_cli_runner().invoke(args=["advocacy", "export", "tips"])
    assert bad.exit_code == 2 and "Invalid value" in bad.output


def test_another_kind_can_be_registered(stripe_app, data):
    from advocacy_portal.models import Advocate
    from sqlalchemy import select

    kind = exports.register_export(exports.ExportKind(
        name="advocates_probe", label="Probe", header=("id", "email"), id_column=Advocate.id,
        query=lambda start, end: select(Advocate.id, Advocate.email), row=lambda r: [r[0], r[1]]))
    try:
        assert len(_csv(data.get(ADMIN + "/export/advocates_probe.csv"))) == 4
    finally:
        exports.EXPORTS.pop(kind.name)


def test_nps_answers_export_with_their_segments(stripe_app, data):
    from datetime import timedelta

    from advocacy_portal.models import NpsInvitation
    from advocacy_portal.models import NpsResponse
    from advocacy_portal.models import Referral
    from advocacy_portal.models import utcnow

    with stripe_app.app_context():
        session = get_session()
        friend = session.scalars(__import__("sqlalchemy").select(Referral.friend_user_id)).first()
        for user_id, score, comment in ((friend, 10, "Love it"), ("stranger", 3, "=cmd|' /C calc'!A0")):
            invitation = NpsInvitation(user_id=user_id, email=f"{user_id}@example.com", state="answered",
                                       created_at=utcnow() - timedelta(days=1))
            session.add(invitation)
            session.flush()
            session.add(NpsResponse(invitation_id=invitation.id, user_id=user_id, email=f"{user_id}@example.com",
                                    score=score, comment=comment, channel="email"))
        session.commit()
    page = data.get(ADMIN + "/export")
    assert 'data-rows="nps">2<' in page.get_data(as_text=True)
    rows = _csv(data.get(ADMIN + "/export/nps.csv"))
    assert rows[0][:6] == ["id", "answered_at", "user_id", "email", "score", "category"]
    by_user = {row[2]: row for row in rows[1:]}
    assert by_user[friend][4:9] == ["10", "promoter", "email", "Love it", "1"]
    assert by_user["stranger"][5] == "detractor" and by_user["stranger"][8] == "0"
    assert by_user["stranger"][7].startswith("'=")  # no formula runs in a spreadsheet
