"""The double-entry rewards ledger: accounts, balanced transactions, balances and verification.

Every function works on the host's Flask-SQLAlchemy session and flushes; the caller commits. When a
function raises, roll the session back: a posting is all or nothing.

Sign convention: a positive balance on an advocate's account is money owed to the advocate; the
program's accounts hold the other side (``reward_expense`` goes negative as rewards are earned).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import weakref
from collections import defaultdict
from functools import partial
from typing import Any
from typing import Iterable

from sqlalchemy import and_
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update

from advocacy_portal.db import after_commit
from advocacy_portal.db import dialect_insert
from advocacy_portal.db import get_session
from advocacy_portal.db import insert_or_ignore
from advocacy_portal.models import ADVOCATE_ACCOUNT_KINDS
from advocacy_portal.models import PROGRAM_ACCOUNT_KINDS
from advocacy_portal.models import LedgerAccount
from advocacy_portal.models import LedgerEntry
from advocacy_portal.models import LedgerTransaction
from advocacy_portal.models import utcnow

PROGRAM = "program"


class LedgerError(Exception):
    """A posting the ledger refuses; nothing of it was applied once the session is rolled back."""


class UnbalancedTransaction(LedgerError):
    """The entries of a transaction do not sum to zero in each currency."""


class IdempotencyConflict(LedgerError):
    """A transaction with this idempotency key exists already, with different content."""


class InsufficientFunds(LedgerError):
    """The posting would take a guarded account (available, reserved) below zero."""


def advocate_owner(advocate_id: int) -> str:
    return f"advocate:{advocate_id}"


#: Account ids per engine, keyed by ``(owner, kind, currency)``. An account row never changes identity
#: and is never deleted (entries refer to it), so an id, once committed, stays right for the process.
_ACCOUNT_IDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def account_id(owner: str, kind: str, currency: str, advocate_id: int | None = None) -> int:
    """The id of an account, created on first use (safe when two requests race to create it).

    Ids are cached per process once the transaction that saw them commits.
    """
    currency = currency.lower()
    session = get_session()
    engine = session.get_bind(mapper=LedgerAccount.__mapper__)
    key = (owner, kind, currency)
    cached = _ACCOUNT_IDS.get(engine, {}).get(key)
    if cached is not None:
        return cached
    found = _find_account(owner, kind, currency, advocate_id)
    # Cached only once the transaction commits: an account created by a transaction that rolls back
    # never enters the cache.
    after_commit(partial(_remember_account, engine, key, found), app_context=False)
    return found


def _remember_account(engine, key: tuple[str, str, str], found: int) -> None:
    _ACCOUNT_IDS.setdefault(engine, {})[key] = found


def _find_account(owner: str, kind: str, currency: str, advocate_id: int | None) -> int:
    session = get_session()
    query = select(LedgerAccount.id).where(
        LedgerAccount.owner == owner, LedgerAccount.kind == kind, LedgerAccount.currency == currency
    )
    found = session.scalar(query)
    if found is not None:
        return found
    created = insert_or_ignore(
        LedgerAccount,
        {
            "owner": owner,
            "advocate_id": advocate_id,
            "kind": kind,
            "currency": currency,
            "balance_minor": 0,
            "created_at": utcnow(),
        },
        ["owner", "kind", "currency"],
    )
    return created if created is not None else session.scalar(query)


def advocate_account(advocate_id: int, kind: str, currency: str) -> int:
    """The id of one of an advocate's accounts (``pending``, ``available``, ``reserved``, ``redeemed``)."""
    if kind not in ADVOCATE_ACCOUNT_KINDS:
        raise ValueError(f"not an advocate account kind: {kind!r}")
    return account_id(advocate_owner(advocate_id), kind, currency, advocate_id)


def program_account(kind: str, currency: str) -> int:
    """The id of one of the program's accounts (``reward_expense``, ``clawbacks``, ``adjustments``)."""
    if kind not in PROGRAM_ACCOUNT_KINDS:
        raise ValueError(f"not a program account kind: {kind!r}")
    return account_id(PROGRAM, kind, currency)


class Posting:
    """The outcome of :func:`post`: the transaction (loaded on first use) and whether this call created
    it (``False``: a retry with the same key and content returned the original)."""

    def __init__(self, transaction_id: int, created: bool, transaction: LedgerTransaction | None = None):
        self.transaction_id = transaction_id
        self.created = created
        self._transaction = transaction

    @property
    def transaction(self) -> LedgerTransaction:
        if self._transaction is None:
            self._transaction = get_session().get(LedgerTransaction, self.transaction_id)
        return self._transaction


def _content_hash(reason: str, entries: list[tuple[int, int, str]], references: dict[str, Any]) -> str:
    canonical = json.dumps(
        {"reason": reason, "entries": sorted(entries), "references": references},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def post(
    idempotency_key: str,
    reason: str,
    entries: Iterable[tuple[int, int, str]],
    *,
    memo: str | None = None,
    conversion_id: int | None = None,
    reward_id: int | None = None,
    redemption_id: int | None = None,
    actor_user_id: str | None = None,
    details: dict[str, Any] | None = None,
    guarded: Iterable[int] = (),
) -> Posting:
    """Post one balanced transaction, exactly once per ``idempotency_key``.

    Each account's ``balance_minor`` is moved by ``UPDATE ... SET balance_minor = balance_minor +
    :delta`` in the same database transaction as the entries, so concurrent postings never lose an
    update.

    :param entries: ``(account_id, amount_minor, currency)``; zero amounts are dropped.
    :param guarded: account ids that must not go below zero by this posting.
    :returns: a :class:`Posting`; posting the same key and content again returns the original
        transaction and changes nothing.
    :raises UnbalancedTransaction: when the entries do not sum to zero per currency, or are empty.
    :raises IdempotencyConflict: when the key was used for a different posting.
    :raises InsufficientFunds: when a guarded account would go negative (roll back).
    """
    entries = [(int(account), int(amount), currency.lower()) for account, amount, currency in entries]
    entries = [entry for entry in entries if entry[1] != 0]
    if not entries:
        raise UnbalancedTransaction("a transaction needs at least one non-zero entry")
    totals: dict[str, int] = defaultdict(int)
    for _account, amount, currency in entries:
        totals[currency] += amount
    unbalanced = {currency: total for currency, total in totals.items() if total != 0}
    if unbalanced:
        raise UnbalancedTransaction(f"entries do not sum to zero: {unbalanced}")
    references = {
        "conversion_id": conversion_id,
        "reward_id": reward_id,
        "redemption_id": redemption_id,
        "actor_user_id": actor_user_id,
    }
    content_hash = _content_hash(reason, entries, references)
    session = get_session()
    now = utcnow()
    session.flush()
    # One statement inserts the transaction and returns it as a loaded object (for the signals).
    transaction = session.scalars(
        dialect_insert(LedgerTransaction)
        .values(
            idempotency_key=idempotency_key,
            content_hash=content_hash,
            reason=reason,
            memo=memo,
            details=details,
            created_at=now,
            **references,
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(LedgerTransaction)
    ).one_or_none()
    if transaction is None:
        existing = session.scalar(
            select(LedgerTransaction).where(LedgerTransaction.idempotency_key == idempotency_key)
        )
        if existing.content_hash != content_hash:
            raise IdempotencyConflict(
                f"ledger transaction {idempotency_key!r} exists with different content"
            )
        return Posting(existing.id, False, existing)

    transaction_id = transaction.id
    guarded = set(guarded)
    per_account: dict[int, int] = defaultdict(int)
    currency_of: dict[int, str] = {}
    for account, amount, currency in entries:
        if currency_of.setdefault(account, currency) != currency:
            raise UnbalancedTransaction(f"account {account} appears in two currencies")
        per_account[account] += amount
    connection = session.connection(bind_arguments={"mapper": LedgerAccount.__mapper__})
    table = LedgerAccount.__table__
    # A fixed order of row locks, so two postings touching the same accounts cannot deadlock.
    for account in sorted(per_account):
        delta = per_account[account]
        condition = table.c.id == account
        if account in guarded and delta < 0:
            condition = and_(condition, table.c.balance_minor + delta >= 0)
        held = connection.execute(
            update(table)
            .where(condition)
            .values(balance_minor=table.c.balance_minor + delta)
            .returning(table.c.currency)
        ).scalar_one_or_none()
        if held is None:
            if account in guarded and delta < 0:
                raise InsufficientFunds(f"account {account} cannot go below zero")
            raise UnbalancedTransaction(f"no account {account}")
        if held != currency_of[account]:
            raise UnbalancedTransaction(f"account {account} does not hold {currency_of[account]}")
    connection.execute(
        LedgerEntry.__table__.insert(),
        [
            {
                "transaction_id": transaction_id,
                "account_id": account,
                "amount_minor": amount,
                "currency": currency,
                "created_at": now,
            }
            for account, amount, currency in entries
        ],
    )
    # Balances changed behind the ORM's back: loaded accounts must be read again.
    for instance in list(session.identity_map.values()):
        if isinstance(instance, LedgerAccount) and instance.id in per_account:
            session.expire(instance, ["balance_minor"])
    return Posting(transaction_id, True, transaction)


def transfer(
    idempotency_key: str,
    reason: str,
    source: int,
    destination: int,
    amount_minor: int,
    currency: str,
    **kwargs,
) -> Posting:
    """Move ``amount_minor`` from account ``source`` to account ``destination`` (see :func:`post`)."""
    return post(
        idempotency_key,
        reason,
        [(source, -amount_minor, currency), (destination, amount_minor, currency)],
        **kwargs,
    )


def balance(account: int) -> int:
    """The stored balance of an account."""
    return get_session().scalar(
        select(LedgerAccount.balance_minor).where(LedgerAccount.id == account)
    ) or 0


def balance_for_update(account: int) -> int:
    """The balance of an account, with its row locked until the commit (PostgreSQL)."""
    return get_session().scalar(
        select(LedgerAccount.balance_minor).where(LedgerAccount.id == account).with_for_update()
    ) or 0


def balances(advocate) -> dict[str, dict[str, int]]:
    """An advocate's balances: ``{"pending": {"usd": 1200}, "available": {...}, "reserved": {...},
    "redeemed": {...}}``. Every kind is present, empty when the advocate has nothing there. One
    indexed read, whatever the number of entries."""
    result: dict[str, dict[str, int]] = {kind: {} for kind in ADVOCATE_ACCOUNT_KINDS}
    rows = get_session().execute(
        select(LedgerAccount.kind, LedgerAccount.currency, LedgerAccount.balance_minor).where(
            LedgerAccount.owner == advocate_owner(advocate.id)
        )
    )
    for kind, currency, amount in rows:
        result[kind][currency] = amount
    return result


def program_balances() -> dict[str, dict[str, int]]:
    """The program's balances, like :func:`balances`."""
    result: dict[str, dict[str, int]] = {kind: {} for kind in PROGRAM_ACCOUNT_KINDS}
    rows = get_session().execute(
        select(LedgerAccount.kind, LedgerAccount.currency, LedgerAccount.balance_minor).where(
            LedgerAccount.owner == PROGRAM
        )
    )
    for kind, currency, amount in rows:
        result[kind][currency] = amount
    return result


def verify() -> list[str]:
    """Check the whole ledger; returns the problems found (empty: all is well).

    Recomputes every account's balance from its entries, checks that every transaction sums to zero
    per currency, that entries match their account's currency, and that no reserved account is
    negative.
    """
    session = get_session()
    problems = []
    sums = dict(
        session.execute(
            select(LedgerEntry.account_id, func.sum(LedgerEntry.amount_minor)).group_by(
                LedgerEntry.account_id
            )
        ).all()
    )
    for account in session.scalars(select(LedgerAccount).order_by(LedgerAccount.id)):
        recomputed = int(sums.get(account.id) or 0)
        if recomputed != account.balance_minor:
            problems.append(
                f"account {account.id} ({account.owner} {account.kind} {account.currency}): "
                f"stored balance {account.balance_minor}, entries sum to {recomputed}"
            )
        if account.kind == "reserved" and account.balance_minor < 0:
            problems.append(f"account {account.id} (reserved) is negative: {account.balance_minor}")
    unbalanced = session.execute(
        select(LedgerEntry.transaction_id, LedgerEntry.currency, func.sum(LedgerEntry.amount_minor))
        .group_by(LedgerEntry.transaction_id, LedgerEntry.currency)
        .having(func.sum(LedgerEntry.amount_minor) != 0)
    ).all()
    for transaction_id, currency, total in unbalanced:
        problems.append(f"transaction {transaction_id} does not balance in {currency}: {total}")
    mismatched = session.execute(
        select(LedgerEntry.id, LedgerEntry.currency, LedgerAccount.currency)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerEntry.currency != LedgerAccount.currency)
    ).all()
    for entry_id, entry_currency, account_currency in mismatched:
        problems.append(f"entry {entry_id} is in {entry_currency} on a {account_currency} account")
    empty = session.scalars(
        select(LedgerTransaction.id).where(
            ~select(LedgerEntry.id)
            .where(LedgerEntry.transaction_id == LedgerTransaction.id)
            .exists()
        )
    ).all()
    for transaction_id in empty:
        problems.append(f"transaction {transaction_id} has no entries")
    return problems


def counts() -> tuple[int, int, int]:
    """How many accounts, transactions and entries the ledger holds."""
    session = get_session()
    return (
        session.scalar(select(func.count()).select_from(LedgerAccount)) or 0,
        session.scalar(select(func.count()).select_from(LedgerTransaction)) or 0,
        session.scalar(select(func.count()).select_from(LedgerEntry)) or 0,
    )


#: The reason of the one transaction that stands for deleted ones (see :func:`carry_forward`).
CARRIED_FORWARD = "balance.carried_forward"
#: The PostgreSQL setting, local to one database transaction, under which the append-only trigger
#: lets :func:`carry_forward` delete whole transactions (it still refuses every UPDATE and TRUNCATE).
FOLD_SETTING = "advocacy.ledger_fold"


def carry_forward(transaction_ids: Iterable[int], *, memo: str, details: dict[str, Any] | None = None) -> Posting | None:
    """Delete whole, balanced ledger transactions (their entries first) and post their net effect per
    account as one ``balance.carried_forward`` transaction, dated at the newest deleted one.

    This is the only way rows ever leave the ledger: ``privacy purge`` uses it for an erased person's
    records past ``ADVOCACY_FINANCIAL_RETENTION_DAYS``. Every account's balance is unchanged (the new
    entries sum to what the deleted ones did), every remaining transaction still sums to zero, so
    ``ledger verify`` passes; and since the carried-forward transaction is no newer than what it
    replaces, figures of any period after the newest deleted transaction are unchanged too.

    The deletion and the new transaction share the caller's database transaction, so the fold happens
    once or not at all; on PostgreSQL the append-only trigger allows these DELETEs only while
    :data:`FOLD_SETTING` is on, which this function sets and clears around them.

    :returns: the carried-forward :class:`Posting`, or ``None`` when nothing was given or the deleted
        transactions netted to zero on every account (then none is needed).
    :raises UnbalancedTransaction: when the given transactions do not sum to zero per currency.
    """
    ids = sorted({int(transaction_id) for transaction_id in transaction_ids})
    if not ids:
        return None
    session = get_session()
    session.flush()
    net = session.execute(
        select(LedgerEntry.account_id, LedgerEntry.currency, func.sum(LedgerEntry.amount_minor))
        .where(LedgerEntry.transaction_id.in_(ids))
        .group_by(LedgerEntry.account_id, LedgerEntry.currency)
    ).all()
    totals: dict[str, int] = defaultdict(int)
    for _account, currency, amount in net:
        totals[currency] += int(amount)
    unbalanced = {currency: total for currency, total in totals.items() if total != 0}
    if unbalanced:
        raise UnbalancedTransaction(f"the transactions to carry forward do not sum to zero: {unbalanced}")
    newest = session.scalar(select(func.max(LedgerTransaction.created_at)).where(LedgerTransaction.id.in_(ids)))
    postgresql = session.get_bind(mapper=LedgerEntry.__mapper__).dialect.name == "postgresql"
    if postgresql:
        session.execute(text("SELECT set_config(:name, 'on', true)"), {"name": FOLD_SETTING})
    try:
        session.execute(delete(LedgerEntry).where(LedgerEntry.transaction_id.in_(ids))
                        .execution_options(synchronize_session=False))
        session.execute(delete(LedgerTransaction).where(LedgerTransaction.id.in_(ids))
                        .execution_options(synchronize_session=False))
    finally:
        if postgresql:
            session.execute(text("SELECT set_config(:name, 'off', true)"), {"name": FOLD_SETTING})
    # Deleted behind the ORM's back: loaded copies must not be flushed or refreshed.
    for instance in list(session.identity_map.values()):
        state = sa_inspect(instance)
        if isinstance(instance, LedgerTransaction) and state.identity and state.identity[0] in ids:
            session.expunge(instance)
        elif isinstance(instance, LedgerEntry) and state.dict.get("transaction_id") in ids:
            session.expunge(instance)
    entries = sorted((int(account), int(amount), currency) for account, currency, amount in net if amount)
    if not entries:
        return None
    details = dict(details or {}, transactions=len(ids))
    references = {"conversion_id": None, "reward_id": None, "redemption_id": None, "actor_user_id": None}
    # One fold, one key: the deletes above make a second run find nothing to fold.
    transaction = LedgerTransaction(
        idempotency_key=f"{CARRIED_FORWARD}:{secrets.token_hex(12)}",
        content_hash=_content_hash(CARRIED_FORWARD, entries, references),
        reason=CARRIED_FORWARD, memo=memo, details=details, created_at=newest,
    )
    session.add(transaction)
    session.flush()
    session.execute(LedgerEntry.__table__.insert(), [
        {"transaction_id": transaction.id, "account_id": account, "amount_minor": amount, "currency": currency,
         "created_at": newest}
        for account, amount, currency in entries
    ])
    return Posting(transaction.id, True, transaction)


#: The PostgreSQL setting, local to one database transaction, under which the append-only trigger
#: lets :func:`redact` rewrite a transaction's notes (and nothing else of it).
REDACT_SETTING = "advocacy.ledger_redact"
#: What :func:`redact` may change: words and the staff member's id, never money, accounts or dates.
REDACTABLE = ("memo", "details", "actor_user_id")


def redact(changes: dict[int, dict[str, Any]]) -> int:
    """Rewrite the notes of ledger transactions: ``{transaction_id: {"memo": ..., "details": ...,
    "actor_user_id": ...}}`` (flushed; the caller commits). Erasure uses it to take a person's email
    and name out of the words staff wrote on an adjustment; entries, amounts, reasons, references and
    dates cannot change, so balances, ``ledger verify`` and every figure are untouched. On PostgreSQL
    the append-only trigger allows these UPDATEs only while :data:`REDACT_SETTING` is on (set and
    cleared here) and only when no other column changes.

    :returns: the number of transactions rewritten.
    :raises ValueError: for a column other than :data:`REDACTABLE`.
    """
    for values in changes.values():
        unknown = set(values) - set(REDACTABLE)
        if unknown:
            raise ValueError(f"only {', '.join(REDACTABLE)} of a ledger transaction can be redacted, not {sorted(unknown)}")
    changes = {transaction_id: values for transaction_id, values in changes.items() if values}
    if not changes:
        return 0
    session = get_session()
    session.flush()
    postgresql = session.get_bind(mapper=LedgerTransaction.__mapper__).dialect.name == "postgresql"
    if postgresql:
        session.execute(text("SELECT set_config(:name, 'on', true)"), {"name": REDACT_SETTING})
    try:
        for transaction_id, values in sorted(changes.items()):
            session.execute(update(LedgerTransaction).where(LedgerTransaction.id == transaction_id).values(**values)
                            .execution_options(synchronize_session=False))
    finally:
        if postgresql:
            session.execute(text("SELECT set_config(:name, 'off', true)"), {"name": REDACT_SETTING})
    for instance in list(session.identity_map.values()):
        if isinstance(instance, LedgerTransaction) and instance.id in changes:
            session.expire(instance, list(REDACTABLE))
    return len(changes)
