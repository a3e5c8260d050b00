"""Clicks batched off the request path: real rows in the clicks table, ids known in the request, one
click per visitor across processes, nothing lost at a flush."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func
from sqlalchemy import select

from advocacy_portal.db import get_session
from advocacy_portal.models import ReferralClick
from advocacy_portal.models import utcnow
from advocacy_portal.services import click_writer
from advocacy_portal.services import referrals
from tests.helpers import make_customer

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"


def _advocate(app):
    user = make_customer(app)
    with app.app_context():
        advocate = referrals.ensure_advocate(user.id, user.email)
        get_session().commit()
        return advocate.id


def _visit(ip: str) -> referrals.Visit:
    return referrals.Visit(ip=ip, user_agent=UA, referrer="https://chat.example/x")


def _clicks(app) -> list[tuple]:
    with app.app_context():
        rows = get_session().execute(
            select(ReferralClick.id, ReferralClick.advocate_id, ReferralClick.referrer_host)
            .order_by(ReferralClick.id)
        ).all()
        get_session().commit()
        return [tuple(row) for row in rows]


def test_batched_clicks_get_their_ids_at_once_and_are_written_in_one_flush(app):
    advocate_id = _advocate(app)
    # A writer whose thread waits an hour: only the explicit flush below writes.
    writer = app.extensions["advocacy"].state(app).cache[click_writer.CACHE_KEY] = click_writer.ClickWriter(
        app, 3600)
    with app.app_context():
        owner = referrals.LinkOwner(advocate_id, "nobody", "code")
        outcomes = [referrals.record_click(owner, None, _visit(f"198.51.100.{n}"), writer=writer)
                    for n in range(1, 6)]
    assert [outcome.outcome for outcome in outcomes] == [referrals.COUNTED] * 5
    ids = [outcome.click_id for outcome in outcomes]
    assert len(set(ids)) == 5 and all(ids)
    assert _clicks(app) == []  # not written yet: the request did not wait for it
    assert app.extensions["advocacy"].flush_clicks(app) == 5
    assert _clicks(app) == [(click_id, advocate_id, "chat.example") for click_id in sorted(ids)]
    # Rows written without the writer (the ORM, fixtures) never collide with its ids.
    with app.app_context():
        get_session().add(ReferralClick(advocate_id=advocate_id, ip_hash="x", device_class="desktop"))
        get_session().commit()
        more = referrals.record_click(owner, None, _visit("198.51.100.77"), writer=writer)
    assert app.extensions["advocacy"].flush_clicks(app) == 1
    assert more.click_id in [row[0] for row in _clicks(app)]
    assert len(_clicks(app)) == 7


def test_a_repeat_visitor_counts_once_in_the_process_and_across_processes(app):
    advocate_id = _advocate(app)
    owner = referrals.LinkOwner(advocate_id, "nobody", "code")
    with app.app_context():
        writer = click_writer.ClickWriter(app, 3600)
        first = referrals.record_click(owner, None, _visit("203.0.113.5"), writer=writer)
        again = referrals.record_click(owner, None, _visit("203.0.113.5"), writer=writer)
        # A second process (its own writer) counting the same visitor within the same interval.
        other = click_writer.ClickWriter(app, 3600)
        elsewhere = referrals.record_click(owner, None, _visit("203.0.113.5"), writer=other)
    assert (first.outcome, again.outcome, elsewhere.outcome) == (
        referrals.COUNTED, referrals.REPEAT, referrals.COUNTED)
    assert writer.flush() == 1
    assert other.flush() == 0  # the flush asks the database again: one click stored, not two
    with app.app_context():
        assert get_session().scalar(select(func.count()).select_from(ReferralClick)) == 1
        get_session().commit()


def test_the_flusher_thread_writes_within_its_interval(app):
    import time

    advocate_id = _advocate(app)
    owner = referrals.LinkOwner(advocate_id, "nobody", "code")
    with app.app_context():
        writer = click_writer.writer_for(app)
        outcome = referrals.record_click(owner, None, _visit("192.0.2.44"), now=utcnow() - timedelta(seconds=1),
                                         writer=writer)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not _clicks(app):
        time.sleep(0.02)
    assert [row[0] for row in _clicks(app)] == [outcome.click_id]


def test_a_flush_drops_only_the_visitors_another_process_stored_within_the_window(app):
    """The flush's de-duplication asks the database about the whole batch at once (in chunks of
    visitors): every visitor stored by another process is dropped, nobody else."""
    advocate_id = _advocate(app)
    owner = referrals.LinkOwner(advocate_id, "nobody", "code")
    phone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
    window = app.config["ADVOCACY_CLICK_DEDUPE_SECONDS"]
    count = click_writer._REPEAT_CHUNK + 50  # more visitors than one query asks about
    addresses = [f"10.{n // 250}.{n % 250}.9" for n in range(count)]
    with app.app_context():
        # Another process stored every third visitor's click a minute ago, and one long ago.
        other = click_writer.ClickWriter(app, 3600)
        for address in addresses[::3]:
            referrals.record_click(owner, None, _visit(address), writer=other, now=utcnow() - timedelta(minutes=1))
        referrals.record_click(owner, None, _visit(addresses[1]), writer=other,
                               now=utcnow() - timedelta(seconds=window + 60))
        assert other.flush() == len(addresses[::3]) + 1
        writer = click_writer.ClickWriter(app, 3600)
        outcomes = [referrals.record_click(owner, None, _visit(address), writer=writer)
                    for address in addresses[:30]]
        # The flush sees the stored ones (the request-side check did too, for those it could).
        assert all(outcome.outcome == referrals.REPEAT for outcome in outcomes[::3])
        # Clicks queued before the other process wrote: only the flush can catch those.
        late = click_writer.ClickWriter(app, 3600)
        for address in addresses[30:]:
            late.add({"advocate_id": advocate_id, "campaign": None, "clicked_at": utcnow(),
                      "referrer_host": None, "device_class": "desktop",
                      "ip_hash": referrals.hash_ip(address), "source": "link"})
        # The same visitor on another device is another visitor.
        referrals.record_click(owner, None, referrals.Visit(ip=addresses[0], user_agent=phone, referrer=None),
                               writer=late)
        stored_late = late.flush()
        stored = writer.flush()
    fresh = [address for n, address in enumerate(addresses) if n % 3]
    assert stored == len([address for address in fresh if addresses.index(address) < 30])
    assert stored_late == len([address for address in fresh if addresses.index(address) >= 30]) + 1
    with app.app_context():
        total = get_session().scalar(select(func.count()).select_from(ReferralClick))
        get_session().commit()
    assert total == len(addresses[::3]) + 1 + len(fresh) + 1
