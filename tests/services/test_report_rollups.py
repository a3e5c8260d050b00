"""Report rollups: signups, payments, revenue and reward cost per day and advocate, marked stale by the
database's triggers in the change's own transaction, refolded, and equal to a recount on both
databases, also while transactions are in flight (PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import timedelta

import sqlalchemy as sa

from advocacy_portal.db import get_engine
from advocacy_portal.db import get_session
from advocacy_portal.models import Conversion
from advocacy_portal.models import Referral
from advocacy_portal.models import ReportAdvocateTotal
from advocacy_portal.models import ReportDay
from advocacy_portal.models import ReportDirtyDay
from advocacy_portal.models import Reward
from advocacy_portal.models import utcnow
from advocacy_portal.services import analytics
from advocacy_portal.services import program_report
from advocacy_portal.services import report_rollups
from tests.fixtures import needs_postgres
from tests.rollup_support import add_advocate
from tests.rollup_support import add_payment
from tests.rollup_support import add_referral
from tests.rollup_support import days_ago


def _marked(session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(ReportDirtyDay))


def _program(first, last):
    return report_rollups.report_rows(first, last, by_day=False)


def _seed_program(session):
    alice, bob = add_advocate(session), add_advocate(session)
    friend = add_referral(session, alice, days_ago(5), first_paid_at=days_ago(3))
    add_referral(session, alice, days_ago(5))
    add_referral(session, bob, days_ago(4), flagged=True)
    paid = add_payment(session, days_ago(3), 5000, referral_id=friend, advocate_id=alice, reward=500)
    add_payment(session, days_ago(2), 7000, referral_id=friend, advocate_id=alice)
    add_payment(session, days_ago(2), 9000)  # not referred
    session.commit()
    return alice, bob, friend, paid


def test_every_change_marks_its_days_and_reads_stay_exact_before_and_after_a_fold(app_ctx):
    session = get_session()
    alice, bob, friend, paid = _seed_program(session)
    today = utcnow().date()
    first = today - timedelta(days=29)
    assert _marked(session) > 0  # the triggers marked the days written
    before = _program(first, today)
    assert before[""]["signups"] == 2 and before[""]["flagged"] == 1 and before[""]["first_payments"] == 1
    assert before["usd"]["revenue"] == 21000 and before["usd"]["referral_revenue"] == 12000
    assert before["usd"]["reward_pending"] == 500
    assert report_rollups.fold() > 0
    assert _marked(session) == 0
    assert _program(first, today) == before
    assert report_rollups.verify() == []

    # A refund, a flag and a reward released: each marks its day; figures move before any fold.
    session.execute(sa.update(Conversion).where(Conversion.id == paid).values(refunded_minor=2000))
    session.execute(sa.update(Referral).where(Referral.id == friend).values(status="flagged", flag_reason="velocity"))
    session.execute(sa.update(Reward).where(Reward.conversion_id == paid).values(pending_minor=0, available_minor=500))
    session.commit()
    assert _marked(session) > 0
    live = _program(first, today)
    assert live["usd"]["net_revenue"] == 19000 and live["usd"]["referral_net_revenue"] == 10000
    assert live[""]["signups"] == 1 and live[""]["flagged"] == 2 and live[""]["paying_signups"] == 0
    assert live["usd"]["reward_pending"] == 0 and live["usd"]["reward_available"] == 500
    assert report_rollups.verify() == []  # verify compares the days not marked
    report_rollups.fold()
    assert _program(first, today) == live
    assert report_rollups.verify() == []
    # One advocate's rows, and the leaderboard built on them.
    assert report_rollups.report_rows(first, today, alice, by_day=False)["usd"]["referral_net_revenue"] == 10000
    board = {row.advocate_id: row for row in program_report.leaderboard(order="revenue").items}
    assert board[alice].revenue_minor == 10000 and board[alice].flagged == 1 and board[bob].flagged == 1
    assert board[alice].cost_minor == 500


def test_a_deleted_payment_leaves_the_figures_and_verify_catches_a_tampered_row(app_ctx, runner):
    session = get_session()
    _alice, _bob, _friend, _paid = _seed_program(session)
    today = utcnow().date()
    report_rollups.fold()
    unreferred = session.scalar(sa.select(Conversion.id).where(Conversion.referral_id.is_(None)))
    session.execute(sa.delete(Conversion).where(Conversion.id == unreferred))
    session.commit()
    assert _program(today - timedelta(days=9), today)["usd"]["revenue"] == 12000
    report_rollups.fold()
    assert _program(today - timedelta(days=9), today)["usd"]["revenue"] == 12000

    session.execute(sa.update(ReportDay).where(ReportDay.advocate_id == 0, ReportDay.currency == "usd")
                    .values(revenue=1))
    session.commit()
    assert report_rollups.verify()
    result = runner.invoke(args=["advocacy", "rollups", "verify"])
    assert result.exit_code == 1 and "advocacy_report_days" in result.output
    result = runner.invoke(args=["advocacy", "rollups", "rebuild"])
    assert result.exit_code == 0, result.output
    assert report_rollups.verify() == []
    assert _program(today - timedelta(days=9), today)["usd"]["revenue"] == 12000
    assert runner.invoke(args=["advocacy", "rollups", "verify"]).exit_code == 0
    session.execute(sa.update(ReportAdvocateTotal).values(signups=ReportAdvocateTotal.signups + 1))
    session.commit()
    assert [m.rollup for m in report_rollups.verify()] == ["advocacy_report_advocate_totals"]


def test_the_overview_reads_the_rollups_and_equals_a_recount(app_ctx):
    session = get_session()
    _seed_program(session)
    today = utcnow().date()
    live = program_report.overview(today - timedelta(days=29), today, "week")
    report_rollups.rebuild()
    folded = program_report.overview(today - timedelta(days=29), today, "week")
    assert folded.totals == live.totals and folded.cost == live.cost
    assert folded.totals.first_payments == 1 and folded.totals.repeat_payments == 1
    assert folded.totals.referral_revenue == {"usd": 12000}
    assert folded.cost["usd"].pending == 500


def _recount_of_payments(first, last):
    """The overview's "Revenue of the period" counted from the payments themselves."""
    period = analytics.period_from(first, last)
    summary = program_report.revenue_summary(period.start, period.end)
    return {currency: {k: v for k, v in row.items() if k != "refunded_minor"} for currency, row in summary.items()}


def _summed_days(rows):
    sums = {}
    for (_day, currency), figures in rows.items():
        into = sums.setdefault(currency, dict.fromkeys(figures, 0))
        for name, value in figures.items():
            into[name] += value
    return sums


def test_the_period_revenue_and_the_days_equal_a_recount_with_days_folded_and_marked(app_ctx):
    """The overview's revenue table comes from the rollups: it equals a scan of the payments whether
    the days are folded, marked by a change since, or both in one period; and the rows by day (read
    without an aggregate in SQL) add up to the period's totals."""
    session = get_session()
    alice, _bob, friend, paid = _seed_program(session)
    today = utcnow().date()
    first = today - timedelta(days=29)

    def check():
        report = program_report.overview(first, today, "day")
        assert report.payments == _recount_of_payments(first, today)
        assert _summed_days(report_rollups.report_rows(first, today)) == _program(first, today)
        assert {day for day, _ in report.buckets} == {first + timedelta(days=n) for n in range(30)}
        return report

    live = check()
    assert live.payments["usd"]["total_minor"] == 21000 and live.payments["usd"]["payments"] == 3
    assert live.payments["usd"]["attributed_payments"] == 2
    report_rollups.fold()
    assert _marked(session) == 0
    check()
    # A refund marks one day again; the other days stay folded: one read, both kinds of days.
    session.execute(sa.update(Conversion).where(Conversion.id == paid).values(refunded_minor=2000))
    add_payment(session, days_ago(1), 3000, referral_id=friend, advocate_id=alice)
    session.commit()
    assert _marked(session) > 0
    mixed = check()
    assert mixed.payments["usd"]["net_minor"] == 22000 and mixed.payments["usd"]["attributed_net_minor"] == 13000


@needs_postgres
def test_a_change_in_flight_during_a_fold_is_counted_once_it_commits(app_ctx):
    """A refund whose transaction is open while a fold runs: the fold neither sees it nor deletes its
    mark, so once it commits the day is counted live, then refolded."""
    session = get_session()
    _alice, _bob, _friend, paid = _seed_program(session)
    report_rollups.fold()
    today = utcnow().date()
    first = today - timedelta(days=9)
    engine = get_engine()
    slow = engine.connect()
    slow_transaction = slow.begin()
    slow.execute(sa.update(Conversion.__table__).where(Conversion.__table__.c.id == paid).values(refunded_minor=1000))
    session.execute(sa.update(Conversion).where(Conversion.referral_id.is_(None)).values(refunded_minor=500))
    session.commit()
    report_rollups.fold()  # folds the committed refund; the open one is invisible to it
    assert _program(first, today)["usd"]["net_revenue"] == 21000 - 500
    slow_transaction.commit()
    slow.close()
    assert _program(first, today)["usd"]["net_revenue"] == 21000 - 1500
    assert _marked(session) > 0
    report_rollups.fold()
    assert _program(first, today)["usd"]["net_revenue"] == 21000 - 1500
    assert report_rollups.verify() == []


@needs_postgres
def test_payments_committed_while_folds_run_are_counted_exactly_once(app_ctx):
    """Writers commit payments and refunds (some transactions rolled back) while two folders fold in a
    loop: the figures equal the committed payments, and verify agrees."""
    session = get_session()
    advocate = add_advocate(session)
    session.commit()
    engine = get_engine()
    app = __import__("flask").current_app._get_current_object()
    stop = threading.Event()
    committed = []
    errors = []

    def writer(number: int) -> None:
        with app.app_context():
            try:
                for batch in range(15):
                    with engine.connect() as connection:
                        transaction = connection.begin()
                        amount = 100 * (number + 1)
                        connection.execute(sa.insert(Conversion.__table__).values(
                            payment_key=f"pi_race_{number}_{batch}", amount_minor=amount, currency="usd",
                            paid_at=days_ago(batch % 3), advocate_id=advocate, refunded_minor=0,
                            created_at=utcnow(), updated_at=utcnow(),
                        ))
                        if batch % 4 == 3:
                            transaction.rollback()
                        else:
                            transaction.commit()
                            committed.append(amount)
            except Exception as error:  # pragma: no cover - reported below
                errors.append(error)

    def folder() -> None:
        with app.app_context():
            try:
                while not stop.is_set():
                    report_rollups.fold(engine)
            except Exception as error:  # pragma: no cover
                errors.append(error)

    writers = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    folders = [threading.Thread(target=folder) for _ in range(2)]
    for thread in folders + writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in folders:
        thread.join()
    assert errors == []
    today = utcnow().date()
    assert _program(today - timedelta(days=5), today)["usd"]["revenue"] == sum(committed)
    report_rollups.fold()
    assert _program(today - timedelta(days=5), today)["usd"]["revenue"] == sum(committed)
    assert report_rollups.verify() == []


def test_the_lifetime_value_is_computed_again_once_a_payment_changes(app_ctx):
    """The advocates page keeps the lifetime value between requests, keyed on the marks: a new payment,
    a refund or a fold shows at once."""
    session = get_session()
    alice = add_advocate(session)
    friend = add_referral(session, alice, days_ago(100), first_paid_at=days_ago(95))
    add_payment(session, days_ago(95), 4000, referral_id=friend, advocate_id=alice, customer="friend")
    session.commit()
    first = program_report.lifetime_value()
    assert first["referred"][0].customers == 1 and first["others"][0].customers == 0
    assert program_report.lifetime_value() == first
    paid = add_payment(session, days_ago(60), 3000, customer="someone-else")
    session.commit()
    second = program_report.lifetime_value()
    assert second["others"][0].customers == 1 and second["others"][0].revenue_minor == 3000
    report_rollups.fold()
    session.execute(sa.update(Conversion).where(Conversion.id == paid).values(refunded_minor=1000))
    session.commit()
    assert program_report.lifetime_value()["others"][0].revenue_minor == 2000
    assert program_report.lifetime_value() == program_report.lifetime_value_at(
        utcnow().replace(minute=0, second=0, microsecond=0))


@needs_postgres
def test_a_staff_page_never_waits_for_a_running_rebuild(app_ctx):
    """While another fold or rebuild holds the lock, the page's fold skips its turn at once; the
    figures are exact regardless."""
    import time

    from advocacy_portal.models import RollupMark

    session = get_session()
    _seed_program(session)
    session.execute(sa.update(RollupMark).where(RollupMark.name == report_rollups.REPORT)
                    .values(folded_at=utcnow() - timedelta(days=1)))
    session.commit()
    holder = get_engine().connect()
    holder.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": report_rollups._LOCK_KEY})
    try:
        started = time.monotonic()
        assert report_rollups.fold_if_due() == 0
        assert time.monotonic() - started < 2
        assert _marked(session) > 0
        today = utcnow().date()
        assert _program(today - timedelta(days=9), today)["usd"]["revenue"] == 21000
    finally:
        holder.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": report_rollups._LOCK_KEY})
        holder.close()
    assert report_rollups.fold_if_due() > 0
    assert _marked(session) == 0
