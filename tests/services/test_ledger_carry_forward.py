"""Folding old ledger transactions into one balance-carried-forward transaction (the retention of an
erased person's records): balances, `ledger verify` and every later figure are unchanged, on SQLite
and PostgreSQL, for random histories and random folds; anything else still cannot delete a row."""

from __future__ import annotations

import itertools
from collections import defaultdict

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sqlalchemy import func
from sqlalchemy import select

from advocacy_portal.db import get_session
from advocacy_portal.models import LedgerAccount
from advocacy_portal.models import LedgerEntry
from advocacy_portal.models import LedgerTransaction
from advocacy_portal.services import ledger
from advocacy_portal.services import referrals
from tests.fixtures import needs_postgres

SERIAL = itertools.count()


@pytest.fixture
def book(app_ctx):
    advocate = referrals.ensure_advocate("1", "a@example.com")
    accounts = [ledger.advocate_account(advocate.id, kind, "usd") for kind in ("pending", "available", "redeemed")]
    accounts += [ledger.program_account(kind, "usd") for kind in ("reward_expense", "adjustments")]
    get_session().commit()
    return accounts


def _balances():
    return dict(get_session().execute(select(LedgerAccount.id, LedgerAccount.balance_minor)).all())


def _sums_after(moment):
    """Per account, the sum of entries dated strictly after ``moment`` (a later period's figure)."""
    return dict(get_session().execute(
        select(LedgerEntry.account_id, func.sum(LedgerEntry.amount_minor))
        .where(LedgerEntry.created_at > moment).group_by(LedgerEntry.account_id)
    ).all())


transfers = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(1, 10_000)), min_size=1, max_size=8)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=transfers, fold=st.data())
def test_a_fold_keeps_every_balance_and_every_later_figure(book, history, fold):
    posted = []
    for source, destination, amount in history:
        if source == destination:
            continue
        posting = ledger.transfer(f"t{next(SERIAL)}", "adjustment", book[source], book[destination], amount, "usd")
        posted.append(posting.transaction_id)
    get_session().commit()
    if not posted:
        return
    # Fold any set of whole transactions (the purge folds one advocate's, interleaved with others').
    folded = fold.draw(st.lists(st.sampled_from(posted), min_size=1, unique=True))
    newest = get_session().scalar(select(func.max(LedgerTransaction.created_at))
                                  .where(LedgerTransaction.id.in_(folded)))
    before, later_before = _balances(), _sums_after(newest)
    net = defaultdict(int)
    for account, amount in get_session().execute(
        select(LedgerEntry.account_id, LedgerEntry.amount_minor).where(LedgerEntry.transaction_id.in_(folded))
    ):
        net[account] += amount

    posting = ledger.carry_forward(folded, memo="Balance carried forward (test)")
    get_session().commit()

    assert _balances() == before
    assert _sums_after(newest) == later_before
    assert ledger.verify() == []
    # (SQLite may give the new transaction a freed id: what counts is that no folded one is left.)
    assert get_session().scalar(select(func.count()).select_from(LedgerTransaction).where(
        LedgerTransaction.id.in_(folded), LedgerTransaction.reason != ledger.CARRIED_FORWARD)) == 0
    if posting is None:
        assert all(amount == 0 for amount in net.values())
    else:
        carried = posting.transaction
        assert carried.reason == ledger.CARRIED_FORWARD and carried.created_at == newest
        entries = dict(get_session().execute(select(LedgerEntry.account_id, LedgerEntry.amount_minor)
                                             .where(LedgerEntry.transaction_id == carried.id)).all())
        assert entries == {account: amount for account, amount in net.items() if amount}


def test_an_empty_fold_changes_nothing(book):
    ledger.transfer("u1", "adjustment", book[3], book[0], 700, "usd")
    get_session().commit()
    assert ledger.carry_forward([], memo="nothing") is None
    assert get_session().scalar(select(func.count()).select_from(LedgerEntry)) == 2
    assert _balances()[book[0]] == 700 and ledger.verify() == []


@needs_postgres
def test_postgresql_still_refuses_deletes_outside_a_fold(book):
    ledger.transfer("p1", "adjustment", book[3], book[0], 700, "usd")
    get_session().commit()
    ledger.carry_forward(get_session().scalars(select(LedgerTransaction.id)).all(), memo="fold")
    # The setting is cleared right after the fold's own deletes, within the same transaction.
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        get_session().execute(sa.text("DELETE FROM advocacy_ledger_entries"))
    get_session().rollback()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        get_session().execute(sa.text("UPDATE advocacy_ledger_transactions SET memo = 'x'"))
    get_session().rollback()
    assert ledger.verify() == []


def test_redact_rewrites_only_the_words_of_a_transaction(book):
    posting = ledger.transfer("r1", "adjustment", book[3], book[1], 900, "usd", memo="Bonus for Ada Lovelace",
                              actor_user_id="7000001")
    get_session().commit()
    with pytest.raises(ValueError, match="only memo, details, actor_user_id"):
        ledger.redact({posting.transaction_id: {"reason": "other"}})
    assert ledger.redact({posting.transaction_id: {"memo": "Bonus for [erased]", "actor_user_id": "erased-x"}}) == 1
    get_session().commit()
    changed = get_session().get(LedgerTransaction, posting.transaction_id)
    assert (changed.memo, changed.actor_user_id, changed.reason) == ("Bonus for [erased]", "erased-x", "adjustment")
    assert _balances()[book[1]] == 900 and ledger.verify() == []


@needs_postgres
def test_postgresql_lets_a_redaction_change_nothing_but_words(book):
    ledger.transfer("r2", "adjustment", book[3], book[1], 900, "usd", memo="Bonus")
    get_session().commit()
    get_session().execute(sa.text("SELECT set_config('advocacy.ledger_redact', 'on', true)"))
    get_session().execute(sa.text("UPDATE advocacy_ledger_transactions SET memo = 'Bonus, redacted'"))
    for statement in ("UPDATE advocacy_ledger_transactions SET reason = 'reward.accrue'",
                      "UPDATE advocacy_ledger_entries SET amount_minor = 1"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            with get_session().begin_nested():
                get_session().execute(sa.text(statement))
    get_session().rollback()
    assert ledger.verify() == []
