"""The double-entry ledger: balanced postings, idempotency keys, verification, append-only storage."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import func
from sqlalchemy import select

from advocacy_portal.db import get_session
from advocacy_portal.models import LedgerEntry
from advocacy_portal.models import LedgerTransaction
from advocacy_portal.services import ledger
from advocacy_portal.services import referrals
from tests.fixtures import needs_postgres


@pytest.fixture
def accounts(app_ctx):
    advocate = referrals.ensure_advocate("1", "a@example.com")
    pending = ledger.advocate_account(advocate.id, "pending", "usd")
    expense = ledger.program_account("reward_expense", "usd")
    get_session().commit()
    return advocate, pending, expense


def count(model) -> int:
    return get_session().scalar(select(func.count()).select_from(model))


def test_a_posting_moves_both_sides_and_keeps_balances_in_step(accounts):
    advocate, pending, expense = accounts
    posting = ledger.transfer("k1", "reward.accrue", expense, pending, 1250, "USD", memo="test")
    get_session().commit()
    assert posting.created
    assert ledger.balances(advocate)["pending"] == {"usd": 1250}
    assert ledger.program_balances()["reward_expense"] == {"usd": -1250}
    assert sorted(e.amount_minor for e in get_session().scalars(select(LedgerEntry))) == [-1250, 1250]
    assert ledger.verify() == []


def test_a_retry_returns_the_original_and_other_content_under_the_key_is_refused(accounts):
    advocate, pending, expense = accounts
    first = ledger.transfer("same-key", "reward.accrue", expense, pending, 500, "usd")
    get_session().commit()
    retry = ledger.transfer("same-key", "reward.accrue", expense, pending, 500, "usd")
    assert (retry.created, retry.transaction.id) == (False, first.transaction.id)
    with pytest.raises(ledger.IdempotencyConflict):
        ledger.transfer("same-key", "reward.accrue", expense, pending, 501, "usd")
    with pytest.raises(ledger.IdempotencyConflict):
        ledger.transfer("same-key", "reward.void", expense, pending, 500, "usd")
    get_session().rollback()
    assert ledger.balances(advocate)["pending"] == {"usd": 500}
    assert (count(LedgerTransaction), count(LedgerEntry)) == (1, 2)


def test_unbalanced_empty_and_mixed_currency_postings_are_refused(accounts):
    _advocate, pending, expense = accounts
    eur = ledger.program_account("reward_expense", "eur")
    for entries in ([(pending, 100, "usd"), (expense, -99, "usd")], [], [(pending, 0, "usd")],
                    [(pending, 100, "usd"), (eur, -100, "eur")]):
        with pytest.raises(ledger.UnbalancedTransaction):
            ledger.post("bad", "reward.accrue", entries)
    # Entries that balance per currency but name an account of another currency.
    with pytest.raises(ledger.UnbalancedTransaction):
        ledger.post("bad2", "reward.accrue", [(pending, 100, "eur"), (eur, -100, "eur")])
    get_session().rollback()
    assert count(LedgerTransaction) == 0


def test_a_guarded_account_cannot_go_negative(accounts):
    advocate, pending, expense = accounts
    available = ledger.advocate_account(advocate.id, "available", "usd")
    reserved = ledger.advocate_account(advocate.id, "reserved", "usd")
    ledger.transfer("credit", "adjustment", expense, available, 300, "usd")
    get_session().commit()
    with pytest.raises(ledger.InsufficientFunds):
        ledger.transfer("over", "redemption.reserve", available, reserved, 301, "usd", guarded=[available])
    get_session().rollback()
    ledger.transfer("ok", "redemption.reserve", available, reserved, 300, "usd", guarded=[available])
    get_session().commit()
    assert ledger.balances(advocate)["available"] == {"usd": 0}
    assert ledger.verify() == []


def test_verify_command_fails_after_tampering(app, runner, accounts):
    advocate, pending, expense = accounts
    ledger.transfer("k", "reward.accrue", expense, pending, 700, "usd")
    get_session().commit()
    ok = runner.invoke(args=["advocacy", "ledger", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "Ledger OK: 2 accounts, 1 transactions, 2 entries balance." in ok.output
    get_session().execute(sa.text(
        "UPDATE advocacy_ledger_accounts SET balance_minor = balance_minor + 1 WHERE id = :id"), {"id": pending})
    get_session().commit()
    tampered = runner.invoke(args=["advocacy", "ledger", "verify"])
    assert tampered.exit_code == 1
    assert "stored balance 701, entries sum to 700" in tampered.output
    assert "ledger verification failed: 1 problem(s)" in tampered.output


@needs_postgres
@pytest.mark.parametrize("statement", [
    "UPDATE advocacy_ledger_entries SET amount_minor = amount_minor + 1",
    "DELETE FROM advocacy_ledger_entries",
    "UPDATE advocacy_ledger_transactions SET memo = 'changed'",
    "DELETE FROM advocacy_ledger_transactions",
    "TRUNCATE advocacy_ledger_entries CASCADE",
])
def test_postgresql_refuses_to_change_or_remove_ledger_rows(accounts, statement):
    _advocate, pending, expense = accounts
    ledger.transfer("k", "reward.accrue", expense, pending, 700, "usd")
    get_session().commit()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        get_session().execute(sa.text(statement))
    get_session().rollback()
    assert (count(LedgerTransaction), count(LedgerEntry)) == (1, 2)
    assert ledger.verify() == []
