"""Click rollups: folded in from the raw clicks by watermark, read with the live clicks above it, equal to
a recount on both databases, also while transactions are in flight (PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from advocacy_portal.db import get_engine
from advocacy_portal.db import get_session
from advocacy_portal.models import AdvocateClickDay
from advocacy_portal.models import AdvocateClickTotal
from advocacy_portal.models import ReferralClick
from advocacy_portal.models import RollupMark
from advocacy_portal.models import utcnow
from advocacy_portal.services import rollups
from tests.fixtures import needs_postgres
from tests.rollup_support import add_advocate
from tests.rollup_support import add_clicks
from tests.rollup_support import days_ago


def _raw_count(session, advocate_id=None):
    query = sa.select(sa.func.count()).select_from(ReferralClick)
    if advocate_id is not None:
        query = query.where(ReferralClick.advocate_id == advocate_id)
    return session.scalar(query)


def test_a_fold_moves_clicks_into_the_rollups_and_reads_stay_exact_either_side(app_ctx):
    session = get_session()
    alice, bob = add_advocate(session), add_advocate(session)
    add_clicks(session, alice, [days_ago(3), days_ago(3), days_ago(1)])
    add_clicks(session, bob, [days_ago(1)])
    session.commit()
    today = utcnow().date()
    first = today - timedelta(days=6)

    # Before any fold, everything is above the watermark: counted live.
    assert rollups.clicks_between(first, today) == 4
    assert rollups.clicks_of_advocate(alice) == 3
    assert rollups.fold() == 4
    assert session.scalar(sa.select(RollupMark.last_id)) == session.scalar(sa.select(sa.func.max(ReferralClick.id)))
    assert session.scalar(sa.select(AdvocateClickTotal.clicks).where(AdvocateClickTotal.advocate_id == alice)) == 3
    by_day = rollups.clicks_by_day(first, today)
    assert sum(by_day.values()) == 4 and by_day[days_ago(1).date()] == 2
    # Folded and live together, never twice.
    add_clicks(session, alice, [days_ago(0)])
    session.commit()
    assert rollups.clicks_between(first, today) == 5
    assert rollups.clicks_of_advocate(alice) == 4
    assert rollups.clicks_between(first, today, alice) == 4
    assert rollups.fold() == 1
    assert rollups.fold() == 0
    assert rollups.clicks_between(first, today) == 5
    assert rollups.verify() == []


def test_verify_finds_a_tampered_rollup_and_rebuild_repairs_it(app_ctx, runner):
    session = get_session()
    alice = add_advocate(session)
    add_clicks(session, alice, [days_ago(n % 40) for n in range(120)])
    session.commit()
    rollups.fold()
    session.execute(sa.update(AdvocateClickDay).where(AdvocateClickDay.advocate_id == alice).values(clicks=AdvocateClickDay.clicks + 1))
    session.commit()
    assert {m.rollup for m in rollups.verify()} == {"advocacy_advocate_click_days"}
    result = runner.invoke(args=["advocacy", "rollups", "verify"])
    assert result.exit_code == 1
    assert "MISMATCH advocacy_advocate_click_days" in result.output

    result = runner.invoke(args=["advocacy", "rollups", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "Rebuilt the click rollups from 120 clicks" in result.output
    result = runner.invoke(args=["advocacy", "rollups", "verify"])
    assert result.exit_code == 0 and "equal a recount" in result.output
    assert rollups.clicks_of_advocate(alice) == 120


def test_rebuild_in_small_chunks_keeps_every_figure_exact(app_ctx):
    session = get_session()
    ids = [add_advocate(session) for _ in range(3)]
    for number, advocate in enumerate(ids):
        add_clicks(session, advocate, [days_ago(n % 10) for n in range(10 * (number + 1))])
    session.commit()
    seen = []
    assert rollups.rebuild(chunk=7, progress=seen.append) == 60
    assert sum(seen) == 60 and len(seen) == 9
    assert rollups.verify() == []
    assert [rollups.clicks_of_advocate(a) for a in ids] == [10, 20, 30]


def test_seed_scale_seeds_a_program_and_its_rollups(app, runner):
    result = runner.invoke(args=["advocacy", "seed-scale", "--clicks", "3000", "--advocates", "20",
                                 "--referrals", "300", "--payments", "100"])
    assert result.exit_code == 0, result.output
    assert "advocates: 20, referrals: 300, payments: 100" in result.output
    assert runner.invoke(args=["advocacy", "rollups", "verify"]).exit_code == 0
    assert "Ledger OK" in runner.invoke(args=["advocacy", "ledger", "verify"]).output
    again = runner.invoke(args=["advocacy", "seed-scale", "--clicks", "0", "--advocates", "20"])
    assert again.exit_code != 0 and "--clicks-only" in again.output
    more = runner.invoke(args=["advocacy", "seed-scale", "--clicks", "500", "--clicks-only"])
    assert more.exit_code == 0, more.output
    with app.app_context():
        assert _raw_count(get_session()) == 3500
        assert rollups.verify() == []


@needs_postgres
def test_a_click_in_flight_during_a_fold_is_counted_once_it_commits(app_ctx):
    """A transaction that drew a lower click id but commits after a later click: the fold cannot get
    past it (it skips its turn), the figures stay exact, and once it commits it is folded exactly once."""
    session = get_session()
    alice = add_advocate(session)
    session.commit()
    engine = get_engine()
    today = utcnow().date()
    slow = engine.connect()
    slow_transaction = slow.begin()
    add_clicks(slow, alice, [days_ago(0)])  # draws the lower id, does not commit yet
    with engine.begin() as fast:
        add_clicks(fast, alice, [days_ago(0)])  # a higher id, committed first
    assert rollups.fold(timeout_ms=100) == 0  # cannot see past the open transaction: skips its turn
    assert rollups.clicks_between(today, today) == 1
    slow_transaction.commit()
    slow.close()
    assert rollups.clicks_between(today, today) == 2
    assert rollups.fold() == 2
    assert rollups.clicks_between(today, today) == 2
    assert rollups.clicks_of_advocate(alice) == 2
    assert rollups.verify() == []


@needs_postgres
def test_clicks_committed_while_folds_run_are_counted_exactly_once(app_ctx):
    """Writers commit clicks (some transactions rolled back) while two folders fold in a loop: every
    committed click is counted once, none that rolled back."""
    session = get_session()
    advocates = [add_advocate(session) for _ in range(4)]
    session.commit()
    engine = get_engine()
    stop = threading.Event()
    committed = []
    errors = []

    def writer(number: int) -> None:
        try:
            for batch in range(25):
                with engine.connect() as connection:
                    transaction = connection.begin()
                    add_clicks(connection, advocates[(number + batch) % 4], [days_ago(batch % 3)] * 3)
                    if batch % 5 == 4:
                        transaction.rollback()
                    else:
                        transaction.commit()
                        committed.append(3)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    def folder() -> None:
        try:
            while not stop.is_set():
                rollups.fold(engine, timeout_ms=50)
        except Exception as error:  # pragma: no cover
            errors.append(error)

    app = __import__("flask").current_app._get_current_object()

    def in_app(target, *args):
        def run():
            with app.app_context():
                target(*args)
        return run

    folders = [threading.Thread(target=in_app(folder)) for _ in range(2)]
    writers = [threading.Thread(target=in_app(writer, n)) for n in range(4)]
    for thread in folders + writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in folders:
        thread.join()
    assert not errors
    total = sum(committed)
    assert _raw_count(session) == total
    today = utcnow().date()
    assert rollups.clicks_between(today - timedelta(days=3), today) == total
    rollups.fold()
    assert rollups.clicks_between(today - timedelta(days=3), today) == total
    assert sum(rollups.clicks_of_advocate(a) for a in advocates) == total
    assert rollups.verify() == []


def test_a_reader_whose_mark_hint_is_above_the_real_mark_reads_again(app_ctx, monkeypatch):
    """During a rebuild the mark goes down: a reader that read a higher one just before must not
    miss the clicks between the two."""
    session = get_session()
    alice = add_advocate(session)
    add_clicks(session, alice, [days_ago(1), days_ago(1), days_ago(2)])
    session.commit()
    today = utcnow().date()
    monkeypatch.setattr(rollups, "read_mark", lambda: 10**9)  # as if read before a rebuild reset it
    assert rollups.clicks_between(today - timedelta(days=6), today) == 3
    assert rollups.clicks_of_advocate(alice) == 3
    from advocacy_portal.services import program_report

    board = {row.advocate_id: row for row in program_report.leaderboard(order="clicks").items}
    assert board[alice].clicks == 3


def test_the_advocates_list_counts_live_clicks_above_the_mark_and_rereads_after_a_rebuild(app_ctx, monkeypatch):
    from advocacy_portal.services import analytics

    session = get_session()
    alice, bob = add_advocate(session), add_advocate(session)
    add_clicks(session, alice, [days_ago(3), days_ago(2)])
    session.commit()
    assert rollups.fold() == 2
    add_clicks(session, alice, [days_ago(1)])
    add_clicks(session, bob, [days_ago(1), days_ago(0)])
    session.commit()

    def clicks_listed():
        return {row.advocate.id: row.clicks for row in analytics.advocate_rows(order="clicks").items}

    assert clicks_listed() == {alice: 3, bob: 2}
    # A rebuild lowering the mark between reading it and the statement: the floor read before is
    # above the statement's mark, so the list is read again without it (never an undercount).
    highest = session.scalar(sa.select(sa.func.max(ReferralClick.id)))
    monkeypatch.setattr(rollups, "read_mark", lambda: highest)
    assert clicks_listed() == {alice: 3, bob: 2}
