"""Staff exports: CSV of referrals, payments, ledger entries, NPS answers and audit entries for a period, streamed.

Each kind is an :class:`ExportKind` in :data:`EXPORTS` (add one with :func:`register_export`): a
select of plain columns and a function turning one row into the CSV's cells. :func:`csv_chunks`
reads the rows in batches of ``ADVOCACY_EXPORT_BATCH_ROWS`` by keyset (``id > last``), so memory
stays the same whatever the number of rows, and yields the CSV text one batch at a time.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import Callable
from typing import Iterator

from sqlalchemy import Select
from sqlalchemy import func
from sqlalchemy import select

from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.models import Advocate
from advocacy_portal.models import AuditEntry
from advocacy_portal.models import Conversion
from advocacy_portal.models import LedgerAccount
from advocacy_portal.models import LedgerEntry
from advocacy_portal.models import LedgerTransaction
from advocacy_portal.models import NpsResponse
from advocacy_portal.models import Referral
from advocacy_portal.models import Testimonial
from advocacy_portal.services.money import to_major


@dataclass(frozen=True)
class ExportKind:
    """One kind of export.

    :param query: ``(start, end) -> Select`` of plain columns, the first being the table's id (the
        keyset), restricted to the period ``[start, end)`` (either may be ``None``).
    :param row: one result row → its CSV cells.
    """

    name: str
    label: str
    header: tuple[str, ...]
    id_column: Any
    query: Callable[[datetime | None, datetime | None], Select]
    row: Callable[[Any], list[Any]]


#: Every kind of export, by name (``referrals``, ``conversions``, ``ledger``, ``nps``, ``audit``).
EXPORTS: dict[str, ExportKind] = {}


def register_export(kind: ExportKind) -> ExportKind:
    """Add (or replace) a kind of export; it appears on the staff export page and in
    ``flask advocacy export``."""
    EXPORTS[kind.name] = kind
    return kind


def _between(query: Select, column, start, end) -> Select:
    if start is not None:
        query = query.where(column >= start)
    if end is not None:
        query = query.where(column < end)
    return query


def _time(value) -> str:
    return value.isoformat() if value is not None else ""


#: A cell starting with one of these would be read as a formula by spreadsheet software.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A text cell a spreadsheet will not run as a formula (``=HYPERLINK(...)`` → ``'=HYPERLINK(...)``);
    numbers are left as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


def _money(amount, currency) -> str:
    return "" if amount is None or not currency else str(to_major(amount, currency))


register_export(ExportKind(
    name="referrals",
    label="Referrals (friends who signed up through a link)",
    header=("id", "signed_up_at", "advocate_id", "advocate_email", "friend_user_id", "friend_email",
            "campaign", "state", "refused_because", "first_paid_at"),
    id_column=Referral.id,
    query=lambda start, end: _between(
        select(Referral.id, Referral.created_at, Referral.advocate_id, Advocate.email, Referral.friend_user_id,
               Referral.friend_email_normalized, Referral.campaign, Referral.status, Referral.flag_reason,
               Referral.first_paid_at)
        .join(Advocate, Advocate.id == Referral.advocate_id), Referral.created_at, start, end),
    row=lambda r: [r[0], _time(r[1]), r[2], r[3] or "", r[4], r[5] or "", r[6] or "",
                   "refused" if r[7] == "flagged" else "counted", r[8] or "", _time(r[9])],
))

register_export(ExportKind(
    name="conversions",
    label="Payments (every payment Stripe reported, referred or not)",
    header=("id", "paid_at", "payment", "kind", "amount", "currency", "refunded", "dispute", "payer_user_id",
            "advocate_id", "referral_id", "campaign", "reward_outcome"),
    id_column=Conversion.id,
    query=lambda start, end: _between(
        select(Conversion.id, Conversion.paid_at, Conversion.payment_key, Conversion.kind, Conversion.amount_minor,
               Conversion.currency, Conversion.refunded_minor, Conversion.dispute_status,
               Conversion.customer_user_id, Conversion.advocate_id, Conversion.referral_id, Conversion.campaign,
               Conversion.reward_outcome), Conversion.paid_at, start, end),
    row=lambda r: [r[0], _time(r[1]), r[2], r[3], _money(r[4], r[5]), (r[5] or "").upper(), _money(r[6], r[5]),
                   r[7] or "", r[8] or "", r[9] or "", r[10] or "", r[11] or "", r[12] or ""],
))

register_export(ExportKind(
    name="ledger",
    label="Ledger entries (every posting of the rewards ledger)",
    header=("id", "posted_at", "transaction_id", "what", "account_owner", "account", "amount", "currency",
            "memo"),
    id_column=LedgerEntry.id,
    query=lambda start, end: _between(
        select(LedgerEntry.id, LedgerEntry.created_at, LedgerEntry.transaction_id, LedgerTransaction.reason,
               LedgerAccount.owner, LedgerAccount.kind, LedgerEntry.amount_minor, LedgerEntry.currency,
               LedgerTransaction.memo)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id),
        LedgerEntry.created_at, start, end),
    row=lambda r: [r[0], _time(r[1]), r[2], r[3], r[4], r[5], _money(r[6], r[7]), r[7].upper(), r[8] or ""],
))


def _nps_query(start, end) -> Select:
    # Each segment is an indexed lookup per answer (constant memory), not a set of every friend.
    referred = select(Referral.id).where(Referral.friend_user_id == NpsResponse.user_id,
                                         Referral.status != "flagged").exists()
    advocate = select(Advocate.id).where(Advocate.user_id == NpsResponse.user_id).exists()
    author = select(Testimonial.id).where(Testimonial.author_user_id == NpsResponse.user_id).exists()
    return _between(
        select(NpsResponse.id, NpsResponse.created_at, NpsResponse.user_id, NpsResponse.email, NpsResponse.score,
               NpsResponse.channel, NpsResponse.comment, referred, advocate, author, NpsResponse.changes),
        NpsResponse.created_at, start, end)


def _nps_row(r) -> list[Any]:
    from advocacy_portal.services.nps import category

    return [r[0], _time(r[1]), r[2], r[3] or "", r[4], category(r[4]), r[5], r[6] or "",
            int(bool(r[7])), int(bool(r[8])), int(bool(r[9])), r[10]]


def _audit_row(r) -> list[Any]:
    from advocacy_portal.services import audit_presenters

    entry = AuditEntry(action=r[3], subject_type=r[4], subject_id=r[5], before=r[6], after=r[7])
    return [r[0], _time(r[1]), r[2] or "system", audit_presenters.action_label(r[3]),
            audit_presenters.subject_label(r[4]), r[5], audit_presenters.summary(entry), r[8] or ""]


register_export(ExportKind(
    name="audit",
    label="Audit log (every staff action, with what it changed)",
    header=("id", "at", "who", "action", "record", "record_id", "changes", "reason"),
    id_column=AuditEntry.id,
    query=lambda start, end: _between(
        select(AuditEntry.id, AuditEntry.created_at, AuditEntry.actor_email, AuditEntry.action,
               AuditEntry.subject_type, AuditEntry.subject_id, AuditEntry.before, AuditEntry.after,
               AuditEntry.reason), AuditEntry.created_at, start, end),
    row=_audit_row,
))


register_export(ExportKind(
    name="nps",
    label="NPS answers (score, category, comment, and whether the customer was referred, an advocate, an author)",
    header=("id", "answered_at", "user_id", "email", "score", "category", "channel", "comment", "referred",
            "advocate", "testimonial_author", "changes"),
    id_column=NpsResponse.id,
    query=_nps_query,
    row=_nps_row,
))


def count(name: str, start: datetime | None = None, end: datetime | None = None) -> int:
    """How many rows an export of ``name`` over the period has.

    :raises KeyError: for an unknown kind.
    """
    kind = EXPORTS[name]
    return get_session().scalar(select(func.count()).select_from(kind.query(start, end).subquery())) or 0


def rows(name: str, start: datetime | None = None, end: datetime | None = None,
         batch: int | None = None) -> Iterator[list[Any]]:
    """The CSV cells of every row of the export, oldest first, read ``batch`` rows at a time by keyset.

    :raises KeyError: for an unknown kind.
    """
    kind = EXPORTS[name]
    size = int(batch or config_value("EXPORT_BATCH_ROWS"))
    session = get_session()
    last = None
    while True:
        query = kind.query(start, end)
        if last is not None:
            query = query.where(kind.id_column > last)
        found = session.execute(query.order_by(kind.id_column).limit(size)).all()
        if not found:
            return
        for row in found:
            yield [safe_cell(cell) for cell in kind.row(row)]
        last = found[-1][0]
        if len(found) < size:
            return


def csv_chunks(name: str, start: datetime | None = None, end: datetime | None = None,
               on_row: Callable[[], None] | None = None) -> Iterator[str]:
    """The export as CSV text: the header line, then one chunk per batch of rows.

    :param on_row: called after each row (a progress bar).
    :raises KeyError: for an unknown kind.
    """
    kind = EXPORTS[name]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(kind.header)
    yield buffer.getvalue()
    size = int(config_value("EXPORT_BATCH_ROWS"))
    buffer.seek(0)
    buffer.truncate()
    written = 0
    for cells in rows(name, start, end, size):
        writer.writerow(cells)
        written += 1
        if on_row is not None:
            on_row()
        if written % size == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()
