"""The ``flask advocacy`` commands, run as an operator would."""

from __future__ import annotations

import pytest

from advocacy_portal import migrate
from tests.helpers import make_customer


def test_db_commands_report_and_check(app, runner):
    result = runner.invoke(args=["advocacy", "db", "current"])
    assert result.exit_code == 0
    assert migrate.head_revision(app) in result.output
    check = runner.invoke(args=["advocacy", "db", "check"])
    assert check.exit_code == 0, check.output
    assert "matches the models" in check.output
    again = runner.invoke(args=["advocacy", "db", "upgrade"])
    assert "up to date" in again.output


def test_db_check_fails_on_an_old_schema(app, runner):
    migrate.downgrade(app, "base")
    check = runner.invoke(args=["advocacy", "db", "check"])
    assert check.exit_code != 0
    assert "flask advocacy db upgrade" in check.output
    upgrade = runner.invoke(args=["advocacy", "db", "upgrade"])
    assert upgrade.exit_code == 0
    assert "upgraded from nothing" in upgrade.output


def test_link_prints_a_working_link(app, runner):
    customer = make_customer(app)
    result = runner.invoke(args=["advocacy", "link", str(customer.id), "--campaign", "flyer"])
    assert result.exit_code == 0, result.output
    link = result.output.strip()
    assert link.startswith("http://shop.test/r/")
    response = app.test_client().get(
        link.removeprefix("http://shop.test"), headers={"User-Agent": "Mozilla/5.0 (X11; Linux) Chrome/126"}
    )
    assert response.status_code == 302
    bad = runner.invoke(args=["advocacy", "link", str(customer.id), "--campaign", "no spaces"])
    assert bad.exit_code == 2
    assert "campaign" in bad.output


def test_link_refuses_an_unknown_user_and_is_absolute_without_server_name(app, runner):
    from advocacy_portal.db import get_session
    from advocacy_portal.models import Advocate

    unknown = runner.invoke(args=["advocacy", "link", "424242"])
    assert unknown.exit_code == 2 and "no user '424242'" in unknown.output
    with app.app_context():
        assert get_session().query(Advocate).count() == 0  # nothing made for a user who does not exist
    customer = make_customer(app)
    app.config["SERVER_NAME"] = None
    printed = runner.invoke(args=["advocacy", "link", str(customer.id)])
    assert printed.exit_code == 0, printed.output
    assert printed.stdout.strip().startswith("http://127.0.0.1:5000/r/")
    assert "none of ADVOCACY_SITE_URL, SERVER_NAME or TRUSTED_HOSTS is set" in printed.stderr
    chosen = runner.invoke(args=["advocacy", "link", str(customer.id), "--base-url", "https://shop.example"])
    assert chosen.stdout.strip().startswith("https://shop.example/r/")


def test_reset_link_of_an_unknown_user_is_a_clear_error(runner):
    result = runner.invoke(args=["advocacy", "reset-link", "12345"])
    assert result.exit_code == 1
    assert "has no referral link" in result.output


@pytest.mark.demo
def test_seed_demo_fills_every_page_and_is_idempotent(app, runner):
    result = runner.invoke(args=["advocacy", "seed-demo"])
    assert result.exit_code == 0, result.output
    stats = runner.invoke(args=["advocacy", "stats"]).output
    # Alice and Bob, plus Dave and Frank: approving a testimonial makes its author an advocate.
    assert "advocates: 4" in stats
    assert "signups:   5" in stats
    assert "flagged:   1" in stats
    # Rewards show at once: one to redeem, one pending, one voided by a refund, one held at zero by a dispute.
    from sqlalchemy import func
    from sqlalchemy import select

    from advocacy_portal.db import get_session
    from advocacy_portal.models import Advocate
    from advocacy_portal.models import Conversion
    from advocacy_portal.models import Reward
    from advocacy_portal.services import ledger

    with app.app_context():
        alice = get_session().scalar(select(Advocate).where(Advocate.email == "alice@example.com"))
        balances = ledger.balances(alice)
        assert (balances["available"]["usd"], balances["pending"]["usd"]) == (990, 490)
        assert sorted(get_session().scalars(select(Reward.status))) == ["available", "pending", "void", "void"]
        referred = get_session().scalar(select(func.count()).where(Conversion.referral_id.is_not(None)))
        unreferred = get_session().scalar(select(func.count()).where(Conversion.referral_id.is_(None)))
        assert (referred, unreferred) == (4, 3)
    again = runner.invoke(args=["advocacy", "seed-demo"])
    assert "exists already" in again.output
    assert runner.invoke(args=["advocacy", "stats"]).output == stats


def test_privacy_purge_blanks_old_ip_hashes_only(app, runner):
    from datetime import timedelta

    from sqlalchemy import select

    from advocacy_portal.db import get_session
    from advocacy_portal.models import ReferralClick
    from advocacy_portal.models import utcnow
    from advocacy_portal.services import referrals
    from advocacy_portal.services import visitors

    customer = make_customer(app)
    with app.app_context():
        advocate = referrals.ensure_advocate(customer.id, customer.email)
        visit = referrals.Visit(ip="198.51.100.1", user_agent="Mozilla/5.0 (X11; Linux) Chrome/126", referrer=None)
        referrals.record_click(advocate, None, visit, now=utcnow() - timedelta(hours=3))
        referrals.record_click(advocate, None, visit, now=utcnow())
        get_session().commit()
    result = runner.invoke(args=["advocacy", "privacy", "purge"])
    assert result.exit_code == 0, result.output
    assert "Cleared the IP hashes of 1 clicks." in result.output
    with app.app_context():
        hashes = get_session().scalars(select(ReferralClick.ip_hash).order_by(ReferralClick.clicked_at)).all()
        assert hashes[0] == "" and hashes[1] == visitors.hash_ip("198.51.100.1")
    assert "of 0 clicks" in runner.invoke(args=["advocacy", "privacy", "purge"]).output
