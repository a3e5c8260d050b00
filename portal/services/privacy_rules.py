"""The privacy registry: for every ``advocacy_*`` table, what it holds about a person, why, for how
long, how it is exported and how it is erased.

:func:`advocacy_portal.services.privacy.export_person` and :func:`~advocacy_portal.services.privacy.erase`
walk :data:`RULES`; a test walks the models' metadata and fails for a table without a rule, so a new
table cannot ship without a decision. Adding one is a few lines::

    register(TableRule(
        "advocacy_nps_answers", DELETE,
        purpose="The customer's answer to the NPS survey, to follow up on it",
        retention="Until erased",
        export=lambda session, person: rows(session, NpsAnswer, NpsAnswer.user_id == person.user_id),
        erase=lambda session, person: delete_where(session, NpsAnswer, NpsAnswer.user_id == person.user_id),
    ))

Categories (``TableRule.category``):

``delete``
    The rows are the person's own (testimonials): erasure deletes them.
``anonymise``
    The rows are kept for the program's figures or for other people (the friend's referral, the
    outbox, the audit log), with the person's identifiers removed or replaced by the surrogate.
``surrogate``
    Financial records (payments, ledger, rewards, redemptions): kept, amounts, dates and Stripe ids
    intact so the ledger still balances and revenue figures hold, under a random surrogate instead of
    the user id; deleted by ``privacy purge`` once older than ``ADVOCACY_FINANCIAL_RETENTION_DAYS``
    (the ledger's transactions folded into one balance-carried-forward transaction).
``not_personal``
    Nothing about a customer (configuration, hashes, staff-made keys).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from typing import Any
from typing import Callable

import sqlalchemy as sa
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from advocacy_portal.models import Advocate
from advocacy_portal.models import ApiKey
from advocacy_portal.models import AuditEntry
from advocacy_portal.models import Conversion
from advocacy_portal.models import Erasure
from advocacy_portal.models import FriendPromotionCode
from advocacy_portal.models import LedgerAccount
from advocacy_portal.models import LedgerEntry
from advocacy_portal.models import LedgerTransaction
from advocacy_portal.models import LinkQrCode
from advocacy_portal.models import OutboxTask
from advocacy_portal.models import Redemption
from advocacy_portal.models import Referral
from advocacy_portal.models import ReferralClick
from advocacy_portal.models import Reward
from advocacy_portal.models import StripeCustomer
from advocacy_portal.models import StripeEvent
from advocacy_portal.models import Testimonial
from advocacy_portal.models import WebhookAttempt
from advocacy_portal.models import WebhookDelivery
from advocacy_portal.models import WebhookEndpoint
from advocacy_portal.models import WebhookMessage
from advocacy_portal.models import utcnow

DELETE = "delete"
ANONYMISE = "anonymise"
SURROGATE = "surrogate"
NOT_PERSONAL = "not_personal"
CATEGORIES = (DELETE, ANONYMISE, SURROGATE, NOT_PERSONAL)

#: What replaces an email address or a name inside kept text.
ERASED = "[erased]"


@dataclass
class Person:
    """Whom an export or an erasure is about: the host user id and everything that identifies them
    in the plugin's tables (gathered by :func:`advocacy_portal.services.privacy.find_person`)."""

    user_id: str
    #: Email addresses (as stored, and normalised), lower case.
    emails: set[str] = field(default_factory=set)
    #: Names the person wrote under (testimonial display names) or the host gave.
    names: set[str] = field(default_factory=set)
    #: The person's advocate row ids (at most one).
    advocate_ids: list[int] = field(default_factory=list)
    #: The random id that replaces ``user_id`` in kept records (erasure only).
    surrogate: str | None = None
    #: Photo keys to delete from the photo storage once the erasure commits.
    photo_keys: list[str] = field(default_factory=list)

    @property
    def owners(self) -> list[str]:
        return [f"advocate:{advocate_id}" for advocate_id in self.advocate_ids]

    def needles(self) -> list[str]:
        """The substrings searched for in free text and JSON: emails, names, and the id as a JSON
        string (``"42"``), never the bare id, which as ``42`` would match every number."""
        texts = {value.lower() for value in self.emails | self.names if value and len(value) >= 3}
        return sorted(texts)


@dataclass(frozen=True)
class TableRule:
    """How one table is exported and erased (see the module's docstring)."""

    table: str
    category: str
    #: Why the plugin keeps the data (the README's record of processing repeats it).
    purpose: str
    #: How long, and which setting changes it.
    retention: str
    #: ``(session, person) -> list of JSON-ready dicts``; ``None`` for a table that holds nothing about
    #: a person.
    export: Callable[[Session, Person], list[dict]] | None = None
    #: ``(session, person) -> rows changed or deleted``; ``None``: nothing to erase.
    erase: Callable[[Session, Person], int] | None = None
    #: Erasure runs the rules in this order (the person is found first, the advocate row last).
    order: int = 50


#: Every table's rule, by table name.
RULES: dict[str, TableRule] = {}


def register(rule: TableRule) -> TableRule:
    """Add (or replace) the rule of a table."""
    if rule.category not in CATEGORIES:
        raise ValueError(f"unknown privacy category {rule.category!r}")
    if rule.category != NOT_PERSONAL and rule.export is None:
        raise ValueError(f"{rule.table}: a table holding personal data needs an export")
    RULES[rule.table] = rule
    return rule


# -- helpers ----------------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """A column value as JSON: times as ISO 8601 text."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def row_dict(obj, exclude: tuple[str, ...] = ()) -> dict:
    """Every column of a model instance, JSON-ready."""
    return {
        column.key: plain(getattr(obj, column.key))
        for column in obj.__table__.columns
        if column.key not in exclude
    }


def rows(session: Session, model, *where, exclude: tuple[str, ...] = (), order=None) -> list[dict]:
    """``row_dict`` of every row of ``model`` matching ``where`` (none when ``where`` is empty)."""
    if not where:
        return []
    query = select(model).where(*where).order_by(order if order is not None else model.id)
    return [row_dict(obj, exclude) for obj in session.scalars(query)]


def delete_where(session: Session, model, *where) -> int:
    result = session.execute(sa.delete(model).where(*where).execution_options(synchronize_session=False))
    return result.rowcount or 0


def mask_email(email: str | None) -> str:
    """``j***@example.com`` (the other person in a referral)."""
    if not email or "@" not in email:
        return "someone"
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def scrub(value: Any, person: Person) -> Any:
    """``value`` (text or JSON) with the person's identifiers removed: a string equal to the user id
    becomes the surrogate, emails and names inside text become ``[erased]``."""
    if isinstance(value, str):
        if value == person.user_id:
            return person.surrogate or ERASED
        for needle in person.needles():
            value = re.sub(re.escape(needle), ERASED, value, flags=re.IGNORECASE)
        return value
    if isinstance(value, dict):
        return {key: scrub(item, person) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item, person) for item in value]
    return value


def mentions(column, person: Person, *, json_column: bool = False):
    """A SQL condition: ``column`` mentions the person (an email or a name anywhere, case-insensitive;
    the user id as a whole value, or as a JSON string)."""
    text = sa.func.lower(sa.cast(column, sa.Text))
    conditions = [text.like(f"%{needle}%", escape="\\") for needle in _escaped(person.needles())]
    if json_column:
        conditions.append(sa.cast(column, sa.Text).like(f'%"{_escape(person.user_id)}"%', escape="\\"))
    else:
        conditions.append(sa.cast(column, sa.Text) == person.user_id)
    return or_(*conditions)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _escaped(values):
    return [_escape(value) for value in values]


def scrub_columns(session: Session, model, columns: list[str], person: Person, *, json_columns=(),
                  where=None) -> int:
    """Scrub ``columns`` of every row of ``model`` that mentions the person; returns rows changed."""
    table_columns = [getattr(model, name) for name in columns]
    condition = or_(*(mentions(column, person, json_column=column.key in json_columns)
                      for column in table_columns))
    query = select(model).where(condition)
    if where is not None:
        query = query.where(where)
    changed = 0
    for obj in session.scalars(query):
        touched = False
        for name in columns:
            old = getattr(obj, name)
            if old is None:
                continue
            if name in json_columns and isinstance(old, str):
                new = _scrub_json_text(old, person)
            else:
                new = scrub(old, person)
            if new != old:
                setattr(obj, name, new)
                touched = True
        changed += touched
    session.flush()
    return changed


def _scrub_json_text(text: str, person: Person) -> str:
    """A JSON document kept as text (a webhook body): scrubbed value by value, so it stays JSON."""
    try:
        document = json.loads(text)
    except ValueError:
        return scrub(text, person)
    return json.dumps(scrub(document, person), separators=(",", ":"), sort_keys=False)


# -- advocates, clicks, referrals ---------------------------------------------------------------------


def _export_advocates(session, person):
    return rows(session, Advocate, Advocate.id.in_(person.advocate_ids))


def _erase_advocates(session, person):
    from advocacy_portal.services.referrals import forget_link_owner
    from advocacy_portal.services.referrals import new_advocate_code

    changed = 0
    for advocate in session.scalars(select(Advocate).where(Advocate.id.in_(person.advocate_ids))):
        advocate.user_id = person.surrogate
        advocate.email = None
        advocate.email_normalized = None
        advocate.inviter_name = None
        # A new code retires every link and widget share at once: tokens minted before name the old one
        # (this process's link cache forgets it now, other processes within ADVOCACY_LINK_CACHE_SECONDS).
        forget_link_owner(advocate.code)
        advocate.code = new_advocate_code()
        advocate.link_issued_at = utcnow()
        changed += 1
    session.flush()
    return changed


register(TableRule(
    "advocacy_advocates", SURROGATE,
    purpose="The customer's referral identity: their public link code and email (to refuse self-referrals)",
    retention="While the customer exists; on erasure the row stays under a surrogate (their rewards "
              "and friends' referrals point to it), its email removed and its links retired",
    export=_export_advocates, erase=_erase_advocates, order=90,
))


def _erase_qr_codes(session, person):
    if not person.advocate_ids:
        return 0
    return delete_where(session, LinkQrCode, LinkQrCode.advocate_id.in_(person.advocate_ids))


register(TableRule(
    "advocacy_link_qr_codes", DELETE,
    purpose="The QR code of the customer's referral link, drawn once and kept for the widget",
    retention="While the link is current; deleted when the link is reset or the customer erased",
    export=lambda session, person: rows(
        session, LinkQrCode, LinkQrCode.advocate_id.in_(person.advocate_ids or [-1]), exclude=("path",),
        order=LinkQrCode.created_at,
    ),
    erase=_erase_qr_codes, order=85,
))


def _export_clicks(session, person):
    """Clicks on the person's links, counted per month, source, device class and campaign: the IP
    hashes are never exported (they are keyed hashes of other people's addresses)."""
    if not person.advocate_ids:
        return []
    counter: Counter = Counter()
    query = select(ReferralClick.clicked_at, ReferralClick.source, ReferralClick.device_class,
                   ReferralClick.campaign).where(ReferralClick.advocate_id.in_(person.advocate_ids))
    for clicked_at, source, device, campaign in session.execute(query):
        counter[(clicked_at.strftime("%Y-%m"), source, device, campaign)] += 1
    return [
        {"month": month, "source": source, "device_class": device, "campaign": campaign, "clicks": count}
        for (month, source, device, campaign), count in sorted(counter.items(), key=lambda item: str(item[0]))
    ]


def _erase_clicks(session, person):
    # The friend's own click (found through their referral) and the hashes on the advocate's clicks.
    friend_clicks = select(Referral.click_id).where(
        Referral.friend_user_id == person.user_id, Referral.click_id.is_not(None)
    )
    result = session.execute(
        sa.update(ReferralClick)
        .where(or_(ReferralClick.advocate_id.in_(person.advocate_ids), ReferralClick.id.in_(friend_clicks)))
        .where(or_(ReferralClick.ip_hash != "", ReferralClick.device_hash != "",
                   ReferralClick.referrer_host.is_not(None)))
        .values(ip_hash="", device_hash="", referrer_host=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


register(TableRule(
    "advocacy_referral_clicks", ANONYMISE,
    purpose="Counting clicks on referral links (keyed hashes of the visitor's IP and device cluster, to "
            "drop repeats and for the fraud rules)",
    retention="Counts kept; hashes blanked after ADVOCACY_CLICK_DEDUPE_SECONDS by `privacy purge`, those of "
              "a click that brought a signup after ADVOCACY_FRAUD_HASH_RETENTION_DAYS",
    export=_export_clicks, erase=_erase_clicks, order=20,
))


def _export_referrals(session, person):
    found = []
    if person.advocate_ids:
        for referral in session.scalars(
            select(Referral).where(Referral.advocate_id.in_(person.advocate_ids)).order_by(Referral.id)
        ):
            found.append({
                "role": "advocate", "id": referral.id, "friend": mask_email(referral.friend_email_normalized),
                "status": referral.status, "flag_reason": referral.flag_reason, "campaign": referral.campaign,
                "clicked_at": plain(referral.clicked_at), "created_at": plain(referral.created_at),
                "first_paid_at": plain(referral.first_paid_at),
            })
    own = session.scalar(select(Referral).where(Referral.friend_user_id == person.user_id))
    if own is not None:
        advocate = session.get(Advocate, own.advocate_id)
        found.append({
            "role": "friend", "id": own.id, "friend_user_id": own.friend_user_id,
            "friend_email_normalized": own.friend_email_normalized,
            "advocate": mask_email(advocate.email if advocate else None),
            "status": own.status, "flag_reason": own.flag_reason, "campaign": own.campaign,
            "clicked_at": plain(own.clicked_at), "created_at": plain(own.created_at),
            "first_paid_at": plain(own.first_paid_at),
        })
    return found


def _erase_referrals(session, person):
    result = session.execute(
        sa.update(Referral)
        .where(Referral.friend_user_id == person.user_id)
        .values(friend_user_id=person.surrogate, friend_email_normalized=None, click_id=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


register(TableRule(
    "advocacy_referrals", ANONYMISE,
    purpose="Crediting a friend's signup to the advocate whose link they followed (once per friend)",
    retention="Kept for the program's figures and the advocate's rewards; on the friend's erasure the "
              "friend's id is replaced by the surrogate, their email and click removed",
    export=_export_referrals, erase=_erase_referrals, order=30,
))


# -- payments and the ledger ---------------------------------------------------------------------------


def _export_conversions(session, person):
    found = [dict(row, role="customer") for row in rows(session, Conversion, Conversion.customer_user_id == person.user_id)]
    if person.advocate_ids:
        # Friends' payments that earned the advocate a reward: amounts only, not the friend's ids.
        for conversion in session.scalars(
            select(Conversion).where(Conversion.advocate_id.in_(person.advocate_ids)).order_by(Conversion.id)
        ):
            found.append({
                "role": "advocate", "id": conversion.id, "amount_minor": conversion.amount_minor,
                "currency": conversion.currency, "paid_at": plain(conversion.paid_at),
                "refunded_minor": conversion.refunded_minor, "dispute_status": conversion.dispute_status,
                "campaign": conversion.campaign, "reward_outcome": conversion.reward_outcome,
            })
    return found


def _erase_conversions(session, person):
    result = session.execute(
        sa.update(Conversion).where(Conversion.customer_user_id == person.user_id)
        .values(customer_user_id=person.surrogate).execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


register(TableRule(
    "advocacy_conversions", SURROGATE,
    purpose="Payments seen through Stripe, to reward the advocate and report attributed revenue",
    retention="Kept (accounting); on erasure under a surrogate, deleted once older than "
              "ADVOCACY_FINANCIAL_RETENTION_DAYS (one that earned another advocate a reward is kept without it)",
    export=_export_conversions, erase=_erase_conversions, order=40,
))


def _export_stripe_customers(session, person):
    return rows(session, StripeCustomer, StripeCustomer.user_id == person.user_id)


def _erase_stripe_customers(session, person):
    result = session.execute(
        sa.update(StripeCustomer).where(StripeCustomer.user_id == person.user_id)
        .values(user_id=person.surrogate).execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


register(TableRule(
    "advocacy_stripe_customers", SURROGATE,
    purpose="The customer's Stripe customer id, so payouts and payments reach the same Stripe customer",
    retention="On erasure under a surrogate; deleted after ADVOCACY_FINANCIAL_RETENTION_DAYS",
    export=_export_stripe_customers, erase=_erase_stripe_customers, order=40,
))


def _conversion_ids(session, person):
    return select(Conversion.id).where(or_(
        Conversion.customer_user_id == person.user_id, Conversion.advocate_id.in_(person.advocate_ids)
    ))


def _export_stripe_events(session, person):
    return rows(session, StripeEvent, StripeEvent.conversion_id.in_(_conversion_ids(session, person)))


register(TableRule(
    "advocacy_stripe_events", SURROGATE,
    purpose="Stripe events received (ids, types, outcomes), so a repeated delivery changes nothing",
    retention="Kept; they name no person (the event bodies live in the outbox, see advocacy_outbox)",
    export=_export_stripe_events, order=40,
))


def _account_ids(person):
    return select(LedgerAccount.id).where(LedgerAccount.owner.in_(person.owners))


def _export_accounts(session, person):
    return rows(session, LedgerAccount, LedgerAccount.owner.in_(person.owners)) if person.owners else []


def _export_transactions(session, person):
    if not person.owners:
        return []
    transaction_ids = select(LedgerEntry.transaction_id).where(LedgerEntry.account_id.in_(_account_ids(person)))
    return rows(session, LedgerTransaction, LedgerTransaction.id.in_(transaction_ids))


def _export_entries(session, person):
    if not person.owners:
        return []
    return rows(session, LedgerEntry, LedgerEntry.account_id.in_(_account_ids(person)))


_LEDGER_RETENTION = ("Kept: the ledger is append-only and must balance (`flask advocacy ledger verify`); "
                     "its accounts name the advocate row, which erasure moves to a surrogate. An erased "
                     "person's transactions older than ADVOCACY_FINANCIAL_RETENTION_DAYS are deleted by "
                     "`privacy purge`, their net amounts kept as one balance-carried-forward transaction")

register(TableRule(
    "advocacy_ledger_accounts", SURROGATE, purpose="The advocate's reward balances",
    retention=_LEDGER_RETENTION, export=_export_accounts, order=40,
))
register(TableRule(
    "advocacy_ledger_transactions", SURROGATE,
    purpose="Every change of reward money, with its reason (staff adjustments: the staff member's id)",
    retention=_LEDGER_RETENTION + ". On erasure the person's email and name in staff memos are replaced",
    export=_export_transactions, order=40,
))
register(TableRule(
    "advocacy_ledger_entries", SURROGATE, purpose="The signed amounts of each ledger transaction",
    retention=_LEDGER_RETENTION, export=_export_entries, order=40,
))


def _export_rewards(session, person):
    return rows(session, Reward, Reward.advocate_id.in_(person.advocate_ids)) if person.advocate_ids else []


register(TableRule(
    "advocacy_rewards", SURROGATE, purpose="What each friend's payment earned the advocate, and under which rule",
    retention="Kept with the ledger, under the surrogate advocate; deleted once older than "
              "ADVOCACY_FINANCIAL_RETENTION_DAYS", export=_export_rewards, order=40,
))


def _export_redemptions(session, person):
    return rows(session, Redemption, or_(Redemption.advocate_id.in_(person.advocate_ids),
                                         Redemption.requested_by_user_id == person.user_id))


def _erase_redemptions(session, person):
    changed = session.execute(
        sa.update(Redemption).where(Redemption.requested_by_user_id == person.user_id)
        .values(requested_by_user_id=person.surrogate).execution_options(synchronize_session=False)
    ).rowcount or 0
    return changed + scrub_columns(session, Redemption, ["last_error"], person)


register(TableRule(
    "advocacy_redemptions", SURROGATE,
    purpose="Payouts of rewards (Stripe balance credits or promotion codes)",
    retention="Kept with the ledger, under the surrogate; deleted once older than ADVOCACY_FINANCIAL_RETENTION_DAYS",
    export=_export_redemptions, erase=_erase_redemptions, order=40,
))


def _export_friend_codes(session, person):
    referral_ids = select(Referral.id).where(Referral.friend_user_id == person.user_id)
    return rows(session, FriendPromotionCode, FriendPromotionCode.referral_id.in_(referral_ids))


register(TableRule(
    "advocacy_friend_promotion_codes", SURROGATE,
    purpose="The promotion code a referred friend got for their first purchase",
    retention="Kept with the friend's referral (a code, no identifier)", export=_export_friend_codes, order=40,
))


# -- testimonials ----------------------------------------------------------------------------------------


def _export_testimonials(session, person):
    from advocacy_portal.services.links import absolute_url
    from advocacy_portal.services.photos import photo_url

    found = []
    for row in rows(session, Testimonial, Testimonial.author_user_id == person.user_id):
        try:
            url = photo_url(row["photo_key"])
            # Absolute, so the link in a downloaded file still works (for the author while unpublished).
            row["photo_url"] = (absolute_url(url) or url) if url and url.startswith("/") else url
        except Exception:  # a storage without URLs (or outside a request): the key is still exported
            row["photo_url"] = None
        row["photo_file"] = None  # the photo's path in the export zip (filled in by export_archive)
        found.append(row)
    return found


def _erase_testimonials(session, person):
    person.photo_keys.extend(
        key for key in session.scalars(
            select(Testimonial.photo_key).where(Testimonial.author_user_id == person.user_id,
                                                Testimonial.photo_key.is_not(None))
        )
    )
    # Moderated by the person (a staff member being erased): the decision stays, the name goes.
    session.execute(
        sa.update(Testimonial).where(Testimonial.moderated_by_user_id == person.user_id)
        .values(moderated_by_user_id=person.surrogate, moderated_by_email=None)
        .execution_options(synchronize_session=False)
    )
    return delete_where(session, Testimonial, Testimonial.author_user_id == person.user_id)


register(TableRule(
    "advocacy_testimonials", DELETE,
    purpose="Testimonials and reviews the customer wrote, their name, photo and consent answer",
    retention="Until withdrawn or erased; rejected, unpublished and withdrawn ones are deleted after "
              "ADVOCACY_UNPUBLISHED_TESTIMONIAL_RETENTION_DAYS by `privacy purge`",
    export=_export_testimonials, erase=_erase_testimonials, order=10,
))


# -- logs: audit, outbox (mail log), outgoing webhooks ----------------------------------------------------


def _audit_about(person):
    conditions = [AuditEntry.actor_user_id == person.user_id,
                  sa.and_(AuditEntry.subject_type == "customer", AuditEntry.subject_id == person.user_id)]
    if person.advocate_ids:
        conditions.append(sa.and_(AuditEntry.subject_type == "advocate",
                                  AuditEntry.subject_id.in_([str(i) for i in person.advocate_ids])))
    return or_(*conditions, mentions(AuditEntry.before, person, json_column=True),
               mentions(AuditEntry.after, person, json_column=True))


def _export_audit(session, person):
    return rows(session, AuditEntry, _audit_about(person))


def _erase_audit(session, person):
    changed = session.execute(
        sa.update(AuditEntry).where(AuditEntry.subject_type == "customer", AuditEntry.subject_id == person.user_id)
        .values(subject_id=person.surrogate).execution_options(synchronize_session=False)
    ).rowcount or 0
    changed += session.execute(
        sa.update(AuditEntry).where(AuditEntry.actor_user_id == person.user_id)
        .values(actor_user_id=person.surrogate, actor_email=None).execution_options(synchronize_session=False)
    ).rowcount or 0
    return changed + scrub_columns(session, AuditEntry, ["actor_email", "before", "after", "reason"], person,
                                   json_columns=("before", "after"))


register(TableRule(
    "advocacy_audit_log", ANONYMISE,
    purpose="Who did what to which record (staff actions, exports, erasures)",
    retention="Kept; on erasure the person's ids, emails and names inside entries are replaced",
    export=_export_audit, erase=_erase_audit, order=60,
))


def _export_outbox(session, person):
    from advocacy_portal.services.mail import TOPIC

    found = []
    query = select(OutboxTask).where(mentions(OutboxTask.payload, person, json_column=True)).order_by(OutboxTask.id)
    for task in session.scalars(query):
        payload = task.payload or {}
        if task.topic == TOPIC:
            found.append({"kind": "email", "id": task.id, "to": payload.get("to"), "subject": payload.get("subject"),
                          "text": payload.get("text"), "state": task.state, "created_at": plain(task.created_at),
                          "sent_at": plain(task.done_at)})
        else:
            found.append({"kind": task.topic, "id": task.id, "state": task.state,
                          "created_at": plain(task.created_at), "payload": payload})
    return found


def _erase_outbox(session, person):
    from advocacy_portal.services.mail import TOPIC

    changed = 0
    for task in session.scalars(select(OutboxTask).where(mentions(OutboxTask.payload, person, json_column=True))):
        to_them = task.topic == TOPIC and str((task.payload or {}).get("to", "")).lower() in person.emails
        if to_them or task.state != "queued":
            # Mail to them (sent or not) and finished tasks are a log: deleted.
            session.delete(task)
        else:
            task.payload = scrub(task.payload, person)
        changed += 1
    session.flush()
    return changed


register(TableRule(
    "advocacy_outbox", ANONYMISE,
    purpose="Side effects waiting or done: emails (the mail log: address, subject, text), Stripe event "
            "bodies, webhook deliveries",
    retention="Sent mail deleted after ADVOCACY_MAIL_LOG_RETENTION_DAYS by `privacy purge`; on erasure "
              "mail to the person and finished tasks naming them are deleted, waiting ones scrubbed",
    export=_export_outbox, erase=_erase_outbox, order=20,
))


def _message_ids(person):
    return select(WebhookMessage.id).where(mentions(WebhookMessage.body, person, json_column=True))


def _export_webhook_messages(session, person):
    found = []
    for message in session.scalars(select(WebhookMessage).where(WebhookMessage.id.in_(_message_ids(person)))
                                   .order_by(WebhookMessage.id)):
        row = row_dict(message)
        try:
            row["body"] = json.loads(message.body)
        except ValueError:
            pass
        found.append(row)
    return found


def _erase_webhook_messages(session, person):
    return scrub_columns(session, WebhookMessage, ["body"], person, json_columns=("body",))


register(TableRule(
    "advocacy_webhook_messages", ANONYMISE,
    purpose="Events sent to the host's other systems (CRM, chat): advocate and friend ids and emails",
    retention="Kept for replays; on erasure the person's ids, emails and names in bodies are replaced",
    export=_export_webhook_messages, erase=_erase_webhook_messages, order=20,
))


def _export_webhook_deliveries(session, person):
    return rows(session, WebhookDelivery, WebhookDelivery.message_id.in_(_message_ids(person)))


register(TableRule(
    "advocacy_webhook_deliveries", ANONYMISE,
    purpose="One message to one endpoint: its state and last error",
    retention="Kept with their message",
    export=_export_webhook_deliveries,
    erase=lambda session, person: scrub_columns(session, WebhookDelivery, ["last_error"], person),
    order=20,
))


def _export_webhook_attempts(session, person):
    deliveries = select(WebhookDelivery.id).where(WebhookDelivery.message_id.in_(_message_ids(person)))
    return rows(session, WebhookAttempt, WebhookAttempt.delivery_id.in_(deliveries))


register(TableRule(
    "advocacy_webhook_attempts", ANONYMISE,
    purpose="Each HTTP request of a delivery, with the start of the answer",
    retention="Kept with their delivery; answers mentioning the person are scrubbed on erasure",
    export=_export_webhook_attempts,
    erase=lambda session, person: scrub_columns(session, WebhookAttempt, ["error", "response_snippet", "details"],
                                                person, json_columns=("details",)),
    order=20,
))


# -- not about customers ----------------------------------------------------------------------------------


def _erase_staff_refs(session, person):
    changed = 0
    for column in ("created_by_user_id", "revoked_by_user_id"):
        changed += session.execute(
            sa.update(ApiKey).where(getattr(ApiKey, column) == person.user_id)
            .values({column: person.surrogate}).execution_options(synchronize_session=False)
        ).rowcount or 0
    return changed


register(TableRule(
    "advocacy_api_keys", NOT_PERSONAL,
    purpose="Hashes of back-office API keys, and the staff member who made each",
    retention="Until deleted by staff; a staff member's erasure replaces their id",
    erase=_erase_staff_refs, order=20,
))
register(TableRule(
    "advocacy_webhook_endpoints", NOT_PERSONAL, purpose="The host's webhook URLs and secrets",
    retention="Until deleted by staff",
))
register(TableRule(
    "advocacy_erasures", NOT_PERSONAL,
    purpose="The erasure list: keyed hashes of erased user ids and their surrogates, to erase them "
            "again after a backup restore",
    retention="Kept for good (holds no personal data without ADVOCACY_ERASURE_HASH_SECRET)",
))

# The models this registry covers, so a reader sees at a glance that each one has a rule above.
_COVERED = (Advocate, ApiKey, AuditEntry, Conversion, Erasure, FriendPromotionCode, LedgerAccount, LedgerEntry,
            LedgerTransaction, OutboxTask, Redemption, Referral, ReferralClick, Reward, StripeCustomer, StripeEvent,
            Testimonial, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookMessage)


def missing_rules(metadata) -> list[str]:
    """Tables of ``metadata`` without a rule (the registry test fails on any)."""
    return sorted(name for name in metadata.tables if name not in RULES)


# -- NPS surveys and follow-up cases ---------------------------------------------------------------


def _nps_models():
    from advocacy_portal.models import NpsCase
    from advocacy_portal.models import NpsCaseEvent
    from advocacy_portal.models import NpsInvitation
    from advocacy_portal.models import NpsResponse
    from advocacy_portal.models import NpsUnsubscribe

    return NpsInvitation, NpsResponse, NpsCase, NpsCaseEvent, NpsUnsubscribe


def _export_nps_invitations(session, person):
    invitation = _nps_models()[0]
    return rows(session, invitation, invitation.user_id == person.user_id)


def _export_nps_responses(session, person):
    response = _nps_models()[1]
    return rows(session, response, response.user_id == person.user_id)


def _export_nps_cases(session, person):
    case = _nps_models()[2]
    return rows(session, case, case.user_id == person.user_id)


def _export_nps_case_events(session, person):
    case, event = _nps_models()[2], _nps_models()[3]
    own_cases = select(case.id).where(case.user_id == person.user_id)
    return rows(session, event, or_(event.case_id.in_(own_cases), event.author_user_id == person.user_id))


def _export_nps_unsubscribes(session, person):
    unsubscribe = _nps_models()[4]
    return rows(session, unsubscribe, unsubscribe.user_id == person.user_id)


def _erase_nps(session, person):
    """The person's asks, answers and cases (with their messages) are theirs: deleted. Where the person
    is the staff member who owned a case, wrote in one or sent a survey, their id and name go."""
    invitation, response, case, event, unsubscribe = _nps_models()
    changed = 0
    own_cases = select(case.id).where(case.user_id == person.user_id)
    changed += delete_where(session, event, event.case_id.in_(own_cases))
    changed += delete_where(session, case, case.user_id == person.user_id)
    changed += delete_where(session, response, response.user_id == person.user_id)
    changed += delete_where(session, invitation, invitation.user_id == person.user_id)
    changed += delete_where(session, unsubscribe, unsubscribe.user_id == person.user_id)
    for statement in (
        sa.update(case).where(case.owner_user_id == person.user_id)
        .values(owner_user_id=None, owner_email=None, owner_first_name=None),
        sa.update(event).where(event.author_user_id == person.user_id).values(author_user_id=None, author_name=None),
        sa.update(invitation).where(invitation.sent_by_user_id == person.user_id).values(sent_by_user_id=None),
    ):
        changed += session.execute(statement.execution_options(synchronize_session=False)).rowcount or 0
    session.flush()
    return changed


_NPS_RETENTION = "Until erased; closed cases removed by `privacy purge` after ADVOCACY_NPS_CASE_RETENTION_DAYS"

register(TableRule(
    "advocacy_nps_case_events", DELETE,
    purpose="The history of a follow-up case: messages between the customer and staff, notes, status changes",
    retention=_NPS_RETENTION, export=_export_nps_case_events, order=12,
))
register(TableRule(
    "advocacy_nps_cases", DELETE,
    purpose="Following up a customer's problem (a low score or their own request) to resolution",
    retention=_NPS_RETENTION, export=_export_nps_cases, order=13,
))
register(TableRule(
    "advocacy_nps_responses", DELETE,
    purpose="The customer's NPS answer and comment, for the score and the follow-up",
    retention="Until erased", export=_export_nps_responses, order=14,
))
register(TableRule(
    "advocacy_nps_invitations", DELETE,
    purpose="The log of every survey asked (to whom, when, through what), for throttling and response rates",
    retention="Until erased", export=_export_nps_invitations, erase=_erase_nps, order=15,
))
register(TableRule(
    "advocacy_nps_unsubscribes", DELETE,
    purpose="Honouring a customer's request to get no more surveys",
    retention="Until erased", export=_export_nps_unsubscribes, order=16,
))
register(TableRule(
    "advocacy_nps_root_causes", NOT_PERSONAL,
    purpose="The shop's list of root causes for cases (no customer data)", retention="Until staff retire one",
))


register(TableRule(
    "advocacy_id_blocks", NOT_PERSONAL,
    purpose="Blocks of click ids reserved by each process (SQLite), so batched clicks keep their ids",
    retention="Kept (a counter per table)",
))


# -- fraud review ----------------------------------------------------------------------------------------


def _fraud_models():
    from advocacy_portal.models import FraudAllowance
    from advocacy_portal.models import FraudReview

    return FraudReview, FraudAllowance


def _export_fraud_reviews(session, person):
    review = _fraud_models()[0]
    if not person.advocate_ids:
        return []
    # Only the outcome about the person's own rewards: the rules' detail names the friend too.
    return rows(session, review, review.advocate_id.in_(person.advocate_ids), exclude=("ip_hash", "detail"))


def _erase_fraud_reviews(session, person):
    """Reviews stay with the (surrogate) reward they decided; a staff member's id and email go, and the
    person's identifiers inside the free text."""
    review = _fraud_models()[0]
    changed = session.execute(
        sa.update(review).where(review.decided_by_user_id == person.user_id)
        .values(decided_by_user_id=person.surrogate, decided_by_email=None)
        .execution_options(synchronize_session=False)
    ).rowcount or 0
    return changed + scrub_columns(session, review, ["detail", "decision_reason", "decided_by_email"], person)


def _export_fraud_allowances(session, person):
    allowance = _fraud_models()[1]
    conditions = [allowance.friend_user_id == person.user_id]
    if person.advocate_ids:
        conditions.append(allowance.advocate_id.in_(person.advocate_ids))
    return rows(session, allowance, or_(*conditions), exclude=("ip_hash",))


def _erase_fraud_allowances(session, person):
    allowance = _fraud_models()[1]
    changed = delete_where(session, allowance, allowance.friend_user_id == person.user_id)
    changed += session.execute(
        sa.update(allowance).where(allowance.created_by_user_id == person.user_id)
        .values(created_by_user_id=person.surrogate, created_by_email=None)
        .execution_options(synchronize_session=False)
    ).rowcount or 0
    return changed + scrub_columns(session, allowance, ["reason", "created_by_email"], person)


register(TableRule(
    "advocacy_fraud_reviews", SURROGATE,
    purpose="Why a reward was blocked or held for review, and the staff decision on it",
    retention="Kept with the reward (accounting); under the surrogate advocate after erasure, deleted with "
              "the reward after ADVOCACY_FINANCIAL_RETENTION_DAYS",
    export=_export_fraud_reviews, erase=_erase_fraud_reviews, order=45,
))
register(TableRule(
    "advocacy_fraud_allowances", ANONYMISE,
    purpose="Households staff allowed (an advocate and friend pair, or an IP hash) past the hold rules",
    retention="Until staff remove it; deleted when the friend is erased",
    export=_export_fraud_allowances, erase=_erase_fraud_allowances, order=45,
))


# -- rollups: counts per day, per advocate and in total (no person named) ----------------------------

for _table, _purpose in (
    ("advocacy_click_days", "Clicks per day, for the staff figures"),
    ("advocacy_advocate_click_days", "Clicks per advocate and day (an advocate id and a count), for the staff figures"),
    ("advocacy_advocate_click_totals", "Clicks per advocate in all (an advocate id and a count)"),
    ("advocacy_rollup_marks", "How far the click rollups are folded (a watermark), when the report was"),
    ("advocacy_report_days", "Signups, payments, revenue and reward cost per day and advocate (an advocate id "
                             "and sums), for the staff figures"),
    ("advocacy_report_advocate_totals", "Each advocate's report figures of all time (an advocate id and sums), "
                                        "for the leaderboard"),
    ("advocacy_report_dirty_days", "Days whose report figures changed since the last fold (a date)"),
):
    register(TableRule(_table, NOT_PERSONAL, purpose=_purpose,
                       retention="Kept; rebuilt from the clicks by `flask advocacy rollups rebuild`"))


# -- free text: what staff (or other customers) wrote that may name the person -------------------------

#: Every column of free text whose rows are not the person's own (so they stay after the person's
#: erasure) but whose words may name them: adjustment memos, fraud review reasons, case notes, audit
#: entries, key and endpoint labels. On erasure the person's emails and names inside become
#: ``[erased]`` and their id, as a whole value, the surrogate (:func:`erase_free_text`). A test fails
#: for a ``Text`` or ``JSON`` column in neither this nor :data:`NOT_FREE_TEXT`.
FREE_TEXT: dict[str, tuple[str, ...]] = {
    "advocacy_api_keys": ("name",),
    "advocacy_audit_log": ("reason", "before", "after"),
    "advocacy_fraud_allowances": ("reason",),
    "advocacy_fraud_reviews": ("detail", "decision_reason"),
    "advocacy_ledger_transactions": ("memo", "details"),
    "advocacy_nps_case_events": ("body", "author_name"),
    "advocacy_nps_cases": ("subject", "root_cause_text"),
    "advocacy_nps_invitations": ("reason", "skip_reason"),
    "advocacy_nps_responses": ("comment",),
    "advocacy_nps_root_causes": ("label",),
    "advocacy_outbox": ("last_error",),
    "advocacy_redemptions": ("last_error",),
    "advocacy_referrals": ("flag_reason",),
    "advocacy_stripe_events": ("reason",),
    "advocacy_testimonials": ("title", "body", "rejection_reason", "incentive_reason"),
    "advocacy_webhook_attempts": ("error", "response_snippet", "details"),
    "advocacy_webhook_deliveries": ("last_error",),
    "advocacy_webhook_endpoints": ("description", "disabled_reason"),
    "advocacy_webhook_messages": ("body",),
}
#: ``Text`` and ``JSON`` columns that are not free text: structured data the plugin writes, handled
#: (where they can hold personal data) by their table's rule above.
NOT_FREE_TEXT: dict[str, tuple[str, ...]] = {
    "advocacy_api_keys": ("scopes",),
    "advocacy_fraud_reviews": ("rules",),
    "advocacy_link_qr_codes": ("path",),  # SVG path data of the link's QR code, deleted with the link
    "advocacy_outbox": ("payload",),
    "advocacy_rewards": ("rule",),
    "advocacy_testimonials": ("consent_text",),
    "advocacy_webhook_endpoints": ("event_types",),
}


def _model_of(table: str):
    from advocacy_portal.models import Base

    for mapper in Base.registry.mappers:
        if getattr(mapper.class_, "__tablename__", None) == table:
            return mapper.class_
    return None


def erase_free_text(session: Session, person: Person) -> dict[str, int]:
    """Scrub every :data:`FREE_TEXT` column of every row that mentions the person (the rows the
    person owned are gone by now); ledger memos through :func:`advocacy_portal.services.ledger.redact`,
    as the ledger is append-only. Returns the rows changed per table."""
    changed: dict[str, int] = {}
    for table, columns in sorted(FREE_TEXT.items()):
        model = _model_of(table)
        if model is None:
            continue
        json_columns = tuple(name for name in columns if isinstance(getattr(model, name).type, sa.JSON))
        if table == "advocacy_ledger_transactions":
            count = _redact_ledger(session, person)
        else:
            count = scrub_columns(session, model, list(columns), person, json_columns=json_columns)
        if count:
            changed[table] = count
    return changed


def _redact_ledger(session: Session, person: Person) -> int:
    from advocacy_portal.services import ledger

    condition = or_(mentions(LedgerTransaction.memo, person),
                    mentions(LedgerTransaction.details, person, json_column=True),
                    LedgerTransaction.actor_user_id == person.user_id)
    changes = {}
    for transaction_id, memo, details, actor in session.execute(
        select(LedgerTransaction.id, LedgerTransaction.memo, LedgerTransaction.details,
               LedgerTransaction.actor_user_id).where(condition)
    ):
        values = {}
        if memo is not None and scrub(memo, person) != memo:
            values["memo"] = scrub(memo, person)
        if details is not None and scrub(details, person) != details:
            values["details"] = scrub(details, person)
        if actor == person.user_id:
            values["actor_user_id"] = person.surrogate
        if values:
            changes[transaction_id] = values
    return ledger.redact(changes)
