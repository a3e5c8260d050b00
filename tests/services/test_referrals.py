"""Advocates, click counting and signup attribution, through the service functions."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy import select

from advocacy_portal import signals
from advocacy_portal.db import get_session
from advocacy_portal.models import Referral
from advocacy_portal.models import ReferralClick
from advocacy_portal.models import utcnow
from advocacy_portal.services import referral_queries
from advocacy_portal.services import referrals
from advocacy_portal.services import visitors
from advocacy_portal.services.links import AttributionClaim
from advocacy_portal.services.links import InvalidLink
from advocacy_portal.services.links import make_link_token
from tests.fixtures import needs_postgres

pytestmark = pytest.mark.usefixtures("app_ctx")

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"


def visit(ip="203.0.113.9", user_agent=CHROME, referrer=None):
    return referrals.Visit(ip=ip, user_agent=user_agent, referrer=referrer)


def claim_for(advocate, click_id=None, campaign=None):
    return AttributionClaim(advocate.code, campaign, click_id, utcnow())


def count(model):
    return get_session().scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Alice@Example.COM ", "alice@example.com"),
        ("alice+promo@example.com", "alice@example.com"),
        ("a.l.i.c.e@gmail.com", "alice@gmail.com"),
        ("Alice.Smith+x@googlemail.com", "alicesmith@gmail.com"),
        ("a.lice@example.com", "a.lice@example.com"),
        ("not-an-email", None),
        ("+tag@example.com", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_email(raw, normalized):
    assert referrals.normalize_email(raw) == normalized


@pytest.mark.parametrize(
    ("user_agent", "device"),
    [
        (CHROME, "desktop"),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15", "desktop"),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148", "mobile"),
        ("Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/126.0 Mobile Safari/537.36", "mobile"),
        ("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) Mobile/15E148", "tablet"),
        ("Mozilla/5.0 (Linux; Android 13; SM-X710) Chrome/126.0 Safari/537.36", "tablet"),
        ("facebookexternalhit/1.1", "bot"),
        ("WhatsApp/2.23.20.0", "bot"),
        ("Googlebot/2.1 (+http://www.google.com/bot.html)", "bot"),
        ("curl/8.5.0", "bot"),
        ("Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/126.0", "bot"),
        ("Mozilla/5.0 (Linux; Android 13; CUBOT X30) Chrome/126.0 Mobile Safari/537.36", "mobile"),
        ("Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/126.0 Mobile Safari/537.36 Telegram-Android/10.0", "mobile"),
        ("SomethingElse/1.0", "unknown"),
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_device_class(user_agent, device):
    assert visitors.device_class(user_agent) == device


def test_referrer_keeps_only_the_host():
    assert visitors.referrer_host("https://mail.example/inbox/123?token=secret") == "mail.example"
    assert visitors.referrer_host("not a url") is None
    assert visitors.referrer_host("http://[::1") is None
    assert visitors.referrer_host(None) is None


def test_ip_hash_is_keyed_stable_and_not_the_ip(app):
    first = visitors.hash_ip("198.51.100.7")
    assert first == visitors.hash_ip("198.51.100.7")
    assert first != visitors.hash_ip("198.51.100.8")
    assert "198.51.100.7" not in first and len(first) == 32
    app.config["SECRET_KEY"] = "another"
    assert visitors.hash_ip("198.51.100.7") != first


def test_ipv6_visitors_are_one_visitor_per_64_network():
    assert visitors.hash_ip("2001:db8:1:2:aaaa::1") == visitors.hash_ip("2001:db8:1:2:bbbb::9")
    assert visitors.hash_ip("2001:db8:1:3::1") != visitors.hash_ip("2001:db8:1:2::1")
    assert visitors.hash_ip("::ffff:198.51.100.7") == visitors.hash_ip("198.51.100.7")
    assert visitors.hash_ip("not an ip") == visitors.hash_ip("not an ip")


def test_ensure_advocate_is_idempotent_and_keeps_email_current():
    advocate = referrals.ensure_advocate(7, "Old@Example.com")
    again = referrals.ensure_advocate("7", "new@example.com")
    assert again.id == advocate.id
    assert again.code == advocate.code
    assert again.email_normalized == "new@example.com"


def test_a_link_is_stable_until_it_is_reset():
    advocate = referrals.ensure_advocate(1, "a@example.com")
    token = referrals.link_token(advocate)
    assert referrals.link_token(advocate) == token
    owner, claim = referrals.resolve_link(token)
    assert (owner.id, owner.user_id, owner.code, claim.campaign) == (advocate.id, "1", advocate.code, None)
    referrals.reset_link(advocate)
    with pytest.raises(InvalidLink) as error:
        referrals.resolve_link(token)
    assert error.value.reason == "unknown_advocate"
    assert referrals.resolve_link(referrals.link_token(advocate))[0].id == advocate.id


@pytest.mark.settings(LINK_MAX_AGE_DAYS=30)
def test_with_expiring_links_the_page_hands_out_a_fresh_one_after_half_the_time():
    advocate = referrals.ensure_advocate(1, "a@example.com")
    advocate.link_issued_at = utcnow() - timedelta(days=16)
    old = make_link_token(advocate.code, advocate.link_issued_at)
    fresh = referrals.link_token(advocate)
    assert fresh != old
    assert referrals.resolve_link(old)  # still valid until it expires
    assert referrals.link_token(advocate) == fresh


def test_a_click_is_recorded_with_host_device_and_hashed_ip():
    advocate = referrals.ensure_advocate(1, "a@example.com")
    outcome = referrals.record_click(
        advocate, "spring", visit(referrer="https://x.com/some/private/path?q=1")
    )
    assert outcome.outcome == referrals.COUNTED
    click = get_session().get(ReferralClick, outcome.click_id)
    assert (click.campaign, click.referrer_host, click.device_class, click.source) == (
        "spring", "x.com", "desktop", "link"
    )
    assert click.ip_hash == visitors.hash_ip("203.0.113.9")
    assert click.clicked_at.tzinfo is not None


def test_repeat_clicks_of_one_visitor_count_once_per_window():
    advocate = referrals.ensure_advocate(1, "a@example.com")
    now = utcnow()
    assert referrals.record_click(advocate, None, visit(), now=now).outcome == referrals.COUNTED
    assert referrals.record_click(advocate, None, visit(), now=now + timedelta(minutes=5)).outcome == referrals.REPEAT
    assert referrals.record_click(advocate, None, visit(ip="203.0.113.10"), now=now).outcome == referrals.COUNTED
    assert referrals.record_click(advocate, None, visit(), now=now + timedelta(hours=2)).outcome == referrals.COUNTED
    other = referrals.ensure_advocate(2, "b@example.com")
    assert referrals.record_click(other, None, visit(), now=now).outcome == referrals.COUNTED
    assert count(ReferralClick) == 4


def test_two_devices_behind_one_address_are_two_visitors():
    advocate = referrals.ensure_advocate(1, "a@example.com")
    phone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148"
    assert referrals.record_click(advocate, None, visit()).outcome == referrals.COUNTED
    assert referrals.record_click(advocate, None, visit(user_agent=phone)).outcome == referrals.COUNTED
    assert referrals.record_click(advocate, None, visit(user_agent=phone)).outcome == referrals.REPEAT


@pytest.mark.settings(CLICK_DEDUPE_SECONDS=0)
def test_deduplication_can_be_switched_off():
    advocate = referrals.ensure_advocate(1, "a@example.com")
    for _ in range(3):
        assert referrals.record_click(advocate, None, visit()).outcome == referrals.COUNTED
    assert count(ReferralClick) == 3


def test_bots_are_not_counted():
    advocate = referrals.ensure_advocate(1, "a@example.com")
    assert referrals.record_click(advocate, None, visit(user_agent="Slackbot-LinkExpanding 1.0")).outcome == referrals.BOT
    assert count(ReferralClick) == 0


def test_signup_through_a_link_is_attributed_once_and_signals():
    advocate = referrals.ensure_advocate(1, "a@example.com")
    click = get_session().get(ReferralClick, referrals.record_click(advocate, "spring", visit()).click_id)
    received = []
    with signals.referral_signed_up.connected_to(lambda app, referral: received.append(referral)):
        result = referrals.attribute_signup(
            2, "friend@example.com", claim_for(advocate, click.id, "spring")
        )
        assert received == []  # nothing is announced before it is committed
        get_session().commit()
    assert result.attributed
    referral = result.referral
    assert (referral.advocate_id, referral.friend_user_id, referral.click_id, referral.campaign) == (
        advocate.id, "2", click.id, "spring"
    )
    assert received == [referral]
    again = referrals.attribute_signup(2, "friend@example.com", claim_for(advocate))
    assert again.outcome == referrals.ALREADY_ATTRIBUTED
    assert again.referral.id == referral.id
    assert count(Referral) == 1


def test_a_friend_is_never_attributed_to_a_second_advocate():
    first = referrals.ensure_advocate(1, "a@example.com")
    second = referrals.ensure_advocate(3, "c@example.com")
    referrals.attribute_signup(2, "friend@example.com", claim_for(first))
    result = referrals.attribute_signup(2, "friend@example.com", claim_for(second))
    assert result.outcome == referrals.ALREADY_ATTRIBUTED
    assert result.referral.advocate_id == first.id


def test_a_rolled_back_signup_is_never_announced_and_a_failing_receiver_does_not_fail_the_commit():
    advocate = referrals.ensure_advocate(1, "a@example.com")
    get_session().commit()
    received = []
    with signals.referral_signed_up.connected_to(lambda app, referral: received.append(referral.friend_user_id)):
        referrals.attribute_signup(2, "f@example.com", claim_for(advocate))
        get_session().rollback()
        get_session().commit()
        assert received == []

    def broken(app, click):
        raise RuntimeError("receiver bug")

    with signals.link_clicked.connected_to(broken):
        referrals.record_click(advocate, None, visit())
        get_session().commit()  # logged, not raised
    assert count(ReferralClick) == 1
    assert count(Referral) == 0


def test_no_claim_or_unknown_advocate_stores_nothing():
    assert referrals.attribute_signup(2, "f@example.com", None).outcome == referrals.NO_CLAIM
    ghost = AttributionClaim("ghost123", None, None, utcnow())
    assert referrals.attribute_signup(2, "f@example.com", ghost).outcome == referrals.UNKNOWN_ADVOCATE
    assert count(Referral) == 0


@pytest.mark.parametrize(
    ("friend_id", "friend_email"),
    [(1, "other@example.com"), (2, "a.dvocate+2@gmail.com"), (3, "ADVOCATE@googlemail.com")],
)
def test_self_referral_is_refused_and_flagged(friend_id, friend_email):
    advocate = referrals.ensure_advocate(1, "advocate@gmail.com")
    flagged = []
    with signals.referral_flagged.connected_to(lambda app, referral, reason: flagged.append(reason)):
        result = referrals.attribute_signup(friend_id, friend_email, claim_for(advocate))
        get_session().commit()
    assert result.outcome == referrals.SELF_REFERRAL
    assert result.referral.status == "flagged"
    assert result.referral.flag_reason == "self_referral"
    assert flagged == ["self_referral"]
    stats = referral_queries.advocate_stats(advocate)
    assert stats.signups == 0
    # A flagged friend stays flagged: a second try is not a fresh chance.
    assert referrals.attribute_signup(friend_id, friend_email, claim_for(advocate)).outcome == referrals.ALREADY_ATTRIBUTED


def test_a_click_id_of_another_advocate_is_not_linked():
    advocate = referrals.ensure_advocate(1, "a@example.com")
    other = referrals.ensure_advocate(3, "c@example.com")
    others_click = get_session().get(ReferralClick, referrals.record_click(other, None, visit()).click_id)
    result = referrals.attribute_signup(2, "f@example.com", claim_for(advocate, others_click.id))
    assert result.attributed
    assert result.referral.click_id is None
    missing = referrals.attribute_signup(4, "g@example.com", claim_for(advocate, 999_999))
    assert missing.referral.click_id is None


def test_stats_count_clicks_signups_and_paying_friends():
    advocate = referrals.ensure_advocate(1, "a@example.com")
    for n in range(3):
        referrals.record_click(advocate, None, visit(ip=f"203.0.113.{n}"))
    referrals.attribute_signup(2, "f1@example.com", claim_for(advocate))
    referrals.attribute_signup(3, "f2@example.com", claim_for(advocate))
    referrals.attribute_signup(1, "a@example.com", claim_for(advocate))  # self: flagged
    paid_at = utcnow()
    referrals.mark_friend_paid(2, paid_at)
    referrals.mark_friend_paid(2, paid_at + timedelta(days=3))  # only the first payment counts
    assert referrals.mark_friend_paid(99) is None
    stats = referral_queries.advocate_stats(advocate)
    assert (stats.clicks, stats.signups, stats.paying_friends) == (3, 2, 1)
    assert referrals.get_referral_of_friend(2).first_paid_at == paid_at
    listed = referral_queries.recent_referrals(advocate)
    assert [r.friend_user_id for r in listed] == ["1", "3", "2"]


def test_mask_email():
    assert referral_queries.mask_email("john@example.com") == "j***@example.com"
    assert referral_queries.mask_email(None) == "a friend"


def run_concurrently(app, workers: int, work) -> list:
    """Run ``work()`` in ``workers`` threads released at once, each in its own app context and
    session, committing after; returns the results and fails on any error."""
    results, errors = [], []
    barrier = threading.Barrier(workers)

    def attempt():
        try:
            with app.app_context():
                barrier.wait()
                results.append(work())
                get_session().commit()
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=attempt) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


@needs_postgres
def test_concurrent_attributions_of_one_friend_make_one_referral(app):
    advocate_code = referrals.ensure_advocate(1, "a@example.com").code
    get_session().commit()
    claim = AttributionClaim(advocate_code, None, None, utcnow())
    outcomes = run_concurrently(
        app, 8, lambda: referrals.attribute_signup(2, "f@example.com", claim).outcome
    )
    assert outcomes.count(referrals.ATTRIBUTED) == 1
    assert outcomes.count(referrals.ALREADY_ATTRIBUTED) == 7
    get_session().expire_all()
    assert count(Referral) == 1


@needs_postgres
def test_concurrent_first_visits_make_one_advocate(app):
    codes = run_concurrently(app, 6, lambda: referrals.ensure_advocate(42, "x@example.com").code)
    assert len(set(codes)) == 1
