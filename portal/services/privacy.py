"""Privacy: a person's export, their erasure (and its replay after a backup restore), and retention.

Every table's handling is a rule of :mod:`advocacy_portal.services.privacy_rules`; this module walks
them. Like every service it flushes and leaves the commit to the caller, so an erasure is one
transaction: it happens everywhere or nowhere. Photos are deleted from their storage only once it commits.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from dataclasses import field
from datetime import timedelta
from typing import Any
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy import or_
from sqlalchemy import select

from advocacy_portal.config import config_value
from advocacy_portal.db import after_commit
from advocacy_portal.db import get_session
from advocacy_portal.models import Advocate
from advocacy_portal.models import AuditEntry
from advocacy_portal.models import Conversion
from advocacy_portal.models import Erasure
from advocacy_portal.models import OutboxTask
from advocacy_portal.models import Redemption
from advocacy_portal.models import Referral
from advocacy_portal.models import StripeCustomer
from advocacy_portal.models import Testimonial
from advocacy_portal.models import utcnow
from advocacy_portal.services import audit
from advocacy_portal.services.links import secret_keys
from advocacy_portal.services.privacy_rules import RULES
from advocacy_portal.services.privacy_rules import Person
from advocacy_portal.services.privacy_rules import plain

log = logging.getLogger(__name__)

#: The export document's ``schema`` and ``version`` (bumped on an incompatible change). Version 2:
#: the export is a zip (:func:`export_archive`) with the document as ``export.json`` and the photos as
#: files; each testimonial row has ``photo_file``, the photo's path in the zip (``null`` without one,
#: or for the document alone, as ``privacy export`` prints it without ``--zip``).
EXPORT_SCHEMA = "advocacy-portal.person-export"
EXPORT_VERSION = 2
#: The document's name inside the export zip.
EXPORT_DOCUMENT = "export.json"
#: Surrogates start with this, so a surrogate is never taken for a host user id.
SURROGATE_PREFIX = "erased-"


# -- finding a person ------------------------------------------------------------------------------


def find_person(user_id, emails: Iterable[str] = (), names: Iterable[str] = ()) -> Person:
    """Everything that identifies host user ``user_id`` in the plugin's tables: their advocate row,
    the emails stored for them and the names they wrote testimonials under, plus ``emails`` and
    ``names`` the caller knows (the host user's current address and name)."""
    session = get_session()
    user_id = str(user_id)
    person = Person(user_id=user_id)
    person.emails.update(email.strip().lower() for email in emails if email)
    person.names.update(name.strip() for name in names if name and name.strip())
    for advocate in session.scalars(select(Advocate).where(Advocate.user_id == user_id)):
        person.advocate_ids.append(advocate.id)
        person.emails.update(e.lower() for e in (advocate.email, advocate.email_normalized) if e)
    for email, name in session.execute(
        select(Testimonial.author_email, Testimonial.display_name).where(Testimonial.author_user_id == user_id)
    ):
        if email:
            person.emails.add(email.lower())
        if name and name.strip():
            person.names.add(name.strip())
    friend_email = session.scalar(select(Referral.friend_email_normalized).where(Referral.friend_user_id == user_id))
    if friend_email:
        person.emails.add(friend_email.lower())
    from advocacy_portal.services.referrals import normalize_email

    person.emails.update({normalize_email(email) for email in person.emails} - {None})
    return person


# -- the erasure list --------------------------------------------------------------------------------


def _hash_keys() -> list[bytes]:
    configured = config_value("ERASURE_HASH_SECRET")
    if configured:
        return [configured.encode() if isinstance(configured, str) else configured]
    # Newest key first: it hashes new erasures; the fallbacks still recognise older ones.
    return [
        hmac.new(key if isinstance(key, bytes) else str(key).encode(), b"advocacy.erasure", hashlib.sha256).digest()
        for key in reversed(secret_keys())
    ]


def user_hashes(user_id) -> list[str]:
    """The erasure-list hashes of a host user id, under the current key first, then every fallback."""
    return [hmac.new(key, str(user_id).encode(), hashlib.sha256).hexdigest() for key in _hash_keys()]


def erasure_of(user_id) -> Erasure | None:
    """The erasure-list entry of a host user id, or ``None``."""
    return get_session().scalar(select(Erasure).where(Erasure.user_hash.in_(user_hashes(user_id))))


# -- erasure ----------------------------------------------------------------------------------------


@dataclass
class ErasureReport:
    """What an erasure did: the erasure-list entry's id and surrogate, and the rows changed per table."""

    erasure_id: int
    surrogate: str
    counts: dict[str, int] = field(default_factory=dict)
    photos_deleted: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def erase(user_id, *, emails: Iterable[str] = (), names: Iterable[str] = (), actor=None,
          reason: str | None = None) -> ErasureReport:
    """Erase host user ``user_id`` from every plugin table, as the advocate and as a friend (flushed;
    the caller commits, once, so it is all or nothing).

    Their testimonials (and, after the commit, their photos) are deleted; their ids, emails and names
    are removed from referrals, clicks, the outbox (mail log), webhook messages and the audit log, and
    their emails and names from every column of free text others wrote
    (:data:`~advocacy_portal.services.privacy_rules.FREE_TEXT`: adjustment memos, fraud review reasons,
    case notes, key and endpoint labels);
    their financial records stay under a random surrogate with amounts, dates and Stripe ids, so the
    ledger still balances; their advocate row gets a new code, so every link minted before answers 404.
    The user id goes on the erasure list as a keyed hash only; the audit entry names no one.

    Erasing someone erased before (or with no data at all) is safe: it reuses their surrogate.

    :param emails: addresses the host knows for the user (searched for too).
    :param names: names the host knows for the user.
    :param actor: the staff member acting (a :class:`~advocacy_portal.Customer`), or ``None``.
    """
    session = get_session()
    user_id = str(user_id)
    if user_id.startswith(SURROGATE_PREFIX):
        raise ValueError("this is the surrogate of an erased person, not a host user id")
    entry = erasure_of(user_id)
    if entry is None:
        entry = Erasure(user_hash=user_hashes(user_id)[0], surrogate=SURROGATE_PREFIX + secrets.token_hex(12))
        session.add(entry)
        session.flush()
    person = find_person(user_id, emails, names)
    person.surrogate = entry.surrogate
    report = ErasureReport(entry.id, entry.surrogate)
    for rule in sorted(RULES.values(), key=lambda rule: (rule.order, rule.table)):
        if rule.erase is not None:
            changed = rule.erase(session, person)
            if changed:
                report.counts[rule.table] = changed
    # Last, what staff and others wrote about the person in rows that stay (memos, notes, reasons).
    from advocacy_portal.services.privacy_rules import erase_free_text

    for table, changed in erase_free_text(session, person).items():
        report.counts[table] = report.counts.get(table, 0) + changed
    session.flush()
    report.photos_deleted = len(person.photo_keys)
    if person.photo_keys:
        keys = list(person.photo_keys)
        after_commit(lambda: _delete_photos(keys))
    audit.record_action(actor, "privacy.erase", "erasure", entry.id, after={"rows": report.counts,
                        "photos": report.photos_deleted}, reason=reason)
    log.info("Erased a person (erasure %s): %s rows in %s tables", entry.id, report.total, len(report.counts))
    return report


def _delete_photos(keys: list[str]) -> None:
    from advocacy_portal.services.photos import get_storage

    storage = get_storage()
    for key in keys:
        try:
            storage.delete(key)
        except Exception:  # the row is gone; a photo the storage cannot delete is logged for staff
            log.exception("Could not delete an erased person's photo from the photo storage")


#: Columns that hold host user ids: after a backup restore, erased people are found through them.
IDENTITY_COLUMNS = (
    Advocate.user_id, Referral.friend_user_id, Testimonial.author_user_id, Conversion.customer_user_id,
    StripeCustomer.user_id, Redemption.requested_by_user_id, AuditEntry.actor_user_id,
)


def replay_erasures(extra_hashes: Iterable[str] = (), user_ids: Iterable[str] = ()) -> list[ErasureReport]:
    """Erase again everyone on the erasure list who is back (a backup restored from before their
    erasure): every user id in the plugin's tables whose hash is on the list, in ``extra_hashes`` (the
    list as saved by ``flask advocacy privacy erasure-list``, kept apart from the database backups),
    or in ``user_ids`` (ids the host knows it deleted). Flushed; the caller commits.
    """
    session = get_session()
    wanted = set(session.scalars(select(Erasure.user_hash))) | {h.strip() for h in extra_hashes if h.strip()}
    forced = {str(user_id) for user_id in user_ids}
    reports = []
    seen: set[str] = set()
    for column in IDENTITY_COLUMNS:
        for user_id in session.scalars(select(column).where(column.is_not(None)).distinct()):
            if user_id in seen or user_id.startswith(SURROGATE_PREFIX):
                continue
            seen.add(user_id)
            if user_id in forced or wanted.intersection(user_hashes(user_id)):
                reports.append(erase(user_id, reason="replayed after a restore"))
    for user_id in forced - seen:
        if erasure_of(user_id) is None:  # nothing left of them here; keep them on the list
            reports.append(erase(user_id, reason="replayed after a restore"))
    for user_hash in wanted:
        if session.scalar(select(Erasure.id).where(Erasure.user_hash == user_hash)) is None:
            # A restored database lost this entry: put it back (a fresh surrogate; the old rows are gone).
            session.add(Erasure(user_hash=user_hash, surrogate=SURROGATE_PREFIX + secrets.token_hex(12)))
    session.flush()
    return reports


# -- export -------------------------------------------------------------------------------------------


def export_person(user_id, *, emails: Iterable[str] = (), names: Iterable[str] = ()) -> dict[str, Any]:
    """Everything the plugin holds about host user ``user_id``, as one JSON-ready document::

        {"schema": "advocacy-portal.person-export", "version": 2, "generated_at": "...",
         "user_id": "42", "balances": {...}, "tables": {"advocacy_advocates": [...], ...}}

    ``tables`` has a key for every table whose rule exports (see the README's record of processing),
    an empty list when the person has nothing there. The other person of a referral is masked
    (``j***@example.com``); IP hashes are never exported (clicks are counted per month instead).
    """
    session = get_session()
    person = find_person(user_id, emails, names)
    tables = {}
    for name in sorted(RULES):
        rule = RULES[name]
        if rule.export is not None:
            tables[name] = rule.export(session, person)
    balances: dict[str, dict[str, int]] = {}
    for account in tables.get("advocacy_ledger_accounts", []):
        balances.setdefault(account["kind"], {})[account["currency"]] = account["balance_minor"]
    return {
        "schema": EXPORT_SCHEMA,
        "version": EXPORT_VERSION,
        "generated_at": plain(utcnow()),
        "user_id": person.user_id,
        "balances": balances,
        "tables": tables,
    }


def export_archive(user_id, *, emails: Iterable[str] = (), names: Iterable[str] = ()) -> tuple[bytes, dict[str, Any]]:
    """The export as a zip: :func:`export_person`'s document as ``export.json`` and each testimonial
    photo as ``photos/testimonial-<id>.<png|jpg>`` (named in the row's ``photo_file``). A photo the
    storage cannot read is left out (``photo_file`` stays ``null``) and logged.

    :returns: the zip's bytes and the document.
    """
    import io
    import json
    import zipfile

    from advocacy_portal.services.photos import get_storage

    document = export_person(user_id, emails=emails, names=names)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        storage = None
        for row in document["tables"].get("advocacy_testimonials", []):
            key = row.get("photo_key")
            if not key:
                continue
            storage = storage or get_storage()
            extension = "png" if key.lower().endswith(".png") else "jpg"
            path = f"photos/testimonial-{row['id']}.{extension}"
            try:
                with storage.open(key) as handle:
                    data = handle.read()
            except Exception:  # a missing or unreadable photo: the rest of the export still goes out
                log.exception("Could not read testimonial %s's photo for a data export", row["id"])
                continue
            # Photos are compressed already: stored as they are.
            archive.writestr(zipfile.ZipInfo(path, date_time=_zip_time()), data, compress_type=zipfile.ZIP_STORED)
            row["photo_file"] = path
        text = json.dumps(document, indent=2, ensure_ascii=False, default=str)
        archive.writestr(zipfile.ZipInfo(EXPORT_DOCUMENT, date_time=_zip_time()), text + "\n",
                         compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue(), document


def _zip_time() -> tuple[int, int, int, int, int, int]:
    now = utcnow()
    return (now.year, now.month, now.day, now.hour, now.minute, now.second)


# -- retention -----------------------------------------------------------------------------------------


@dataclass
class FinancialPurge:
    """What the purge deleted of erased people's financial records past their retention."""

    people: int = 0
    ledger_transactions: int = 0
    ledger_entries: int = 0
    carried_forward: int = 0
    rewards: int = 0
    redemptions: int = 0
    fraud_reviews: int = 0
    payments: int = 0
    payments_detached: int = 0

    def add(self, other: "FinancialPurge") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class PurgeReport:
    """What ``privacy purge`` removed, per kind of data."""

    ip_hashes: int = 0
    mail_log: int = 0
    testimonials: int = 0
    financial: int = 0
    nps_cases: int = 0
    records: FinancialPurge = field(default_factory=FinancialPurge)

    def lines(self) -> list[str]:
        records = self.records
        return [
            f"Cleared the IP hashes of {self.ip_hashes} clicks.",
            f"Deleted {self.mail_log} sent or abandoned emails from the mail log "
            f"(older than ADVOCACY_MAIL_LOG_RETENTION_DAYS).",
            f"Deleted {self.testimonials} rejected, unpublished or withdrawn testimonials "
            f"(older than ADVOCACY_UNPUBLISHED_TESTIMONIAL_RETENTION_DAYS).",
            f"Deleted the financial records of {records.people} erased people older than "
            f"ADVOCACY_FINANCIAL_RETENTION_DAYS: {records.ledger_transactions} ledger transactions "
            f"({records.ledger_entries} entries, carried forward in {records.carried_forward} transactions, "
            f"balances unchanged), {records.rewards} rewards, {records.redemptions} redemptions, "
            f"{records.fraud_reviews} fraud reviews, {records.payments} payments "
            f"({records.payments_detached} more kept without the surrogate: another advocate's reward).",
            f"Removed the Stripe ids of {self.financial} erased people's financial records "
            f"(older than ADVOCACY_FINANCIAL_RETENTION_DAYS).",
            f"Deleted {self.nps_cases} closed follow-up cases with their messages "
            f"(closed before ADVOCACY_NPS_CASE_RETENTION_DAYS).",
        ]


def purge(now=None) -> PurgeReport:
    """Apply every retention setting (flushed; the caller commits). See :class:`PurgeReport`."""
    from advocacy_portal.services.mail import TOPIC
    from advocacy_portal.services.referrals import forget_ip_hashes

    session = get_session()
    now = now or utcnow()
    report = PurgeReport(ip_hashes=forget_ip_hashes(now))

    mail_cutoff = now - timedelta(days=config_value("MAIL_LOG_RETENTION_DAYS"))
    report.mail_log = session.execute(
        sa.delete(OutboxTask)
        .where(OutboxTask.topic == TOPIC, OutboxTask.state.in_(("done", "dead")), OutboxTask.created_at < mail_cutoff)
        .execution_options(synchronize_session=False)
    ).rowcount or 0

    testimonial_cutoff = now - timedelta(days=config_value("UNPUBLISHED_TESTIMONIAL_RETENTION_DAYS"))
    old = list(session.scalars(select(Testimonial).where(
        Testimonial.state.in_(("rejected", "unpublished", "withdrawn")), Testimonial.updated_at < testimonial_cutoff
    )))
    keys = [testimonial.photo_key for testimonial in old if testimonial.photo_key]
    for testimonial in old:
        session.delete(testimonial)
    report.testimonials = len(old)
    if keys:
        after_commit(lambda: _delete_photos(keys))

    financial_cutoff = now - timedelta(days=config_value("FINANCIAL_RETENTION_DAYS"))
    for entry in session.scalars(select(Erasure).order_by(Erasure.id)).all():
        deleted = purge_financial_records(entry.surrogate, financial_cutoff)
        if deleted.ledger_transactions or deleted.rewards or deleted.redemptions or deleted.payments \
                or deleted.payments_detached:
            deleted.people = 1
        report.records.add(deleted)
        if entry.erased_at < financial_cutoff and entry.financial_purged_at is None:
            _purge_stripe_ids(session, entry.surrogate)
            entry.financial_purged_at = now
            report.financial += 1

    from advocacy_portal.models import NpsCase
    from advocacy_portal.models import NpsCaseEvent

    case_cutoff = now - timedelta(days=config_value("NPS_CASE_RETENTION_DAYS"))
    old_cases = select(NpsCase.id).where(NpsCase.status == "closed", NpsCase.closed_at < case_cutoff)
    session.execute(sa.delete(NpsCaseEvent).where(NpsCaseEvent.case_id.in_(old_cases))
                    .execution_options(synchronize_session=False))
    report.nps_cases = session.execute(
        sa.delete(NpsCase).where(NpsCase.status == "closed", NpsCase.closed_at < case_cutoff)
        .execution_options(synchronize_session=False)
    ).rowcount or 0
    session.flush()
    return report


def purge_financial_records(surrogate: str, cutoff) -> FinancialPurge:
    """Delete the financial records of an erased person (by their surrogate) dated before ``cutoff``
    (flushed; the caller commits).

    - Ledger: every transaction on the surrogate advocate's accounts created before ``cutoff`` is
      deleted whole, and their net effect per account posted as one ``balance.carried_forward``
      transaction dated at the newest deleted one (:func:`~advocacy_portal.services.ledger.carry_forward`):
      balances, ``ledger verify`` and every figure of a period after the cut-off are unchanged. A
      later purge folds the carried-forward transaction into the next one, so there is at most one.
    - The surrogate advocate's rewards, redemptions and fraud reviews from before ``cutoff`` that no
      remaining ledger transaction refers to are deleted.
    - The surrogate's own payments from before ``cutoff`` are deleted; one that earned another
      advocate a reward (that advocate's record) is kept, but without the surrogate: an amount and a
      date of nobody.
    - Payments of the surrogate advocate's friends stay: they are the friends' records.
    """
    from advocacy_portal.models import FraudReview
    from advocacy_portal.models import LedgerAccount
    from advocacy_portal.models import LedgerEntry
    from advocacy_portal.models import LedgerTransaction
    from advocacy_portal.models import Reward
    from advocacy_portal.models import StripeEvent
    from advocacy_portal.services import ledger

    session = get_session()
    session.flush()
    done = FinancialPurge()
    advocate_ids = list(session.scalars(select(Advocate.id).where(Advocate.user_id == surrogate)))
    owners = [ledger.advocate_owner(advocate_id) for advocate_id in advocate_ids]

    if owners:
        accounts = select(LedgerAccount.id).where(LedgerAccount.owner.in_(owners))
        touched = select(LedgerEntry.transaction_id).where(LedgerEntry.account_id.in_(accounts))
        # Never a transaction that also moves another advocate's money (none does today).
        shared = (select(LedgerEntry.transaction_id)
                  .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
                  .where(LedgerAccount.owner.not_in([*owners, ledger.PROGRAM])))
        old = session.execute(
            select(LedgerTransaction.id, LedgerTransaction.reason)
            .where(LedgerTransaction.id.in_(touched), LedgerTransaction.id.not_in(shared),
                   LedgerTransaction.created_at < cutoff)
        ).all()
        # Only when something new is past the cut-off: a lone carried-forward transaction stays as it is.
        if any(reason != ledger.CARRIED_FORWARD for _id, reason in old):
            ids = [transaction_id for transaction_id, _reason in old]
            done.ledger_entries = session.scalar(
                select(sa.func.count()).select_from(LedgerEntry).where(LedgerEntry.transaction_id.in_(ids))
            ) or 0
            posting = ledger.carry_forward(
                ids, memo="Balance carried forward: records older than the financial retention period deleted",
                details={"cutoff": cutoff.isoformat()},
            )
            done.ledger_transactions = len(ids)
            done.carried_forward = int(posting is not None)

        referenced_rewards = select(LedgerTransaction.reward_id).where(LedgerTransaction.reward_id.is_not(None))
        reward_ids = list(session.scalars(select(Reward.id).where(
            Reward.advocate_id.in_(advocate_ids), Reward.created_at < cutoff, Reward.id.not_in(referenced_rewards)
        )))
        done.fraud_reviews = _delete(session, FraudReview, or_(
            FraudReview.reward_id.in_(reward_ids),
            sa.and_(FraudReview.advocate_id.in_(advocate_ids), FraudReview.created_at < cutoff,
                    FraudReview.reward_id.is_(None)),
        ))
        done.rewards = _delete(session, Reward, Reward.id.in_(reward_ids))
        referenced_redemptions = select(LedgerTransaction.redemption_id).where(
            LedgerTransaction.redemption_id.is_not(None))
        done.redemptions = _delete(session, Redemption, Redemption.advocate_id.in_(advocate_ids),
                                   Redemption.created_at < cutoff, Redemption.id.not_in(referenced_redemptions))

    paid_at = sa.func.coalesce(Conversion.paid_at, Conversion.created_at)
    own = list(session.scalars(select(Conversion.id).where(Conversion.customer_user_id == surrogate,
                                                             paid_at < cutoff)))
    if own:
        in_use = set(session.scalars(select(Reward.conversion_id).where(Reward.conversion_id.in_(own))))
        in_use |= set(session.scalars(select(LedgerTransaction.conversion_id)
                                      .where(LedgerTransaction.conversion_id.in_(own))))
        kept = sorted(in_use)
        gone = sorted(set(own) - in_use)
        if kept:
            done.payments_detached = session.execute(
                sa.update(Conversion).where(Conversion.id.in_(kept)).values(customer_user_id=None)
                .execution_options(synchronize_session=False)
            ).rowcount or 0
        if gone:
            session.execute(sa.update(StripeEvent).where(StripeEvent.conversion_id.in_(gone))
                            .values(conversion_id=None).execution_options(synchronize_session=False))
            session.execute(sa.update(Redemption).where(Redemption.used_conversion_id.in_(gone))
                            .values(used_conversion_id=None).execution_options(synchronize_session=False))
            done.fraud_reviews += _delete(session, FraudReview, FraudReview.conversion_id.in_(gone))
            done.payments = _delete(session, Conversion, Conversion.id.in_(gone))
    session.expire_all()
    return done


def _delete(session, model, *where) -> int:
    return session.execute(sa.delete(model).where(*where).execution_options(synchronize_session=False)).rowcount or 0


def _purge_stripe_ids(session, surrogate: str) -> None:
    """Remove the Stripe ids of a surrogate's remaining payments and payouts and its Stripe customer
    mapping; amounts and dates stay until their own retention ends."""
    for conversion in session.scalars(select(Conversion).where(Conversion.customer_user_id == surrogate)):
        conversion.payment_key = f"erased:{conversion.id}"
        for column in ("checkout_session_id", "payment_intent_id", "charge_id", "invoice_id", "subscription_id",
                       "stripe_customer_id", "dispute_id"):
            setattr(conversion, column, None)
    advocate_ids = select(Advocate.id).where(Advocate.user_id == surrogate)
    for redemption in session.scalars(select(Redemption).where(Redemption.advocate_id.in_(advocate_ids))):
        for column in ("stripe_customer_id", "stripe_balance_transaction_id", "stripe_coupon_id",
                       "stripe_promotion_code_id"):
            setattr(redemption, column, None)
    session.execute(sa.delete(StripeCustomer).where(StripeCustomer.user_id == surrogate)
                    .execution_options(synchronize_session=False))
