"""The audit log for people: actions and fields in words, each entry as the fields it changed
(before → after), values shown as text (money formatted, states labelled), never raw JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from advocacy_portal.models import AuditEntry
from advocacy_portal.services.money import format_money

#: Actions in words; an unknown action is shown by its dotted name with dots turned into spaces.
ACTION_LABELS = {
    "testimonial.submit": "Testimonial submitted",
    "testimonial.edit": "Testimonial edited",
    "testimonial.approve": "Testimonial approved",
    "testimonial.reject": "Testimonial rejected",
    "testimonial.publish": "Testimonial published",
    "testimonial.unpublish": "Testimonial unpublished",
    "testimonial.feature": "Testimonial featured",
    "testimonial.unfeature": "Testimonial no longer featured",
    "testimonial.highlight": "Testimonial highlight changed",
    "testimonial.withdraw": "Testimonial withdrawn",
    "testimonial.delete": "Testimonial deleted",
    "ledger.adjust": "Manual adjustment",
    "api_key.create": "API key created",
    "api_key.revoke": "API key revoked",
    "webhook.create": "Webhook endpoint added",
    "webhook.update": "Webhook endpoint changed",
    "webhook.delete": "Webhook endpoint deleted",
    "webhook.rotate_secret": "Webhook secret rotated",
    "webhook.end_rotation": "Old webhook secret retired",
    "webhook.test": "Webhook test sent",
    "webhook.replay": "Webhook delivery replayed",
    "outbox.replay": "Outbox task replayed",
    "fraud.approve": "Held reward approved",
    "fraud.void": "Held reward voided",
    "fraud.reopen": "Reward held again",
    "fraud.allow": "Household allowed",
    "fraud.disallow": "Household no longer allowed",
}

#: Kinds of records in words.
SUBJECT_LABELS = {
    "testimonial": "Testimonial",
    "advocate": "Advocate",
    "api_key": "API key",
    "webhook_endpoint": "Webhook endpoint",
    "outbox_task": "Outbox task",
    "fraud_review": "Fraud review",
    "fraud_allowance": "Allowed household",
}

#: Field names in words.
FIELD_LABELS = {
    "state": "State",
    "kind": "Kind",
    "rating": "Rating",
    "consent": "Consent",
    "body": "Text",
    "title": "Title",
    "display_name": "Name shown",
    "role": "Role",
    "featured": "Featured",
    "highlight_start": "Highlight start",
    "highlight_end": "Highlight end",
    "moderation_reason": "Moderation reason",
    "amount_minor": "Amount",
    "currency": "Currency",
    "transaction_id": "Ledger transaction",
    "name": "Name",
    "prefix": "Key prefix",
    "scopes": "Scopes",
    "revoked": "Revoked",
    "url": "URL",
    "description": "Description",
    "event_types": "Events",
    "enabled": "Enabled",
    "message_id": "Message",
    "decision_reason": "Decision reason",
    "advocate_id": "Advocate",
    "friend_user_id": "Friend (user id)",
}

#: Values of state-like fields in words.
VALUE_LABELS = {
    "pending": "Pending", "approved": "Approved", "rejected": "Rejected", "published": "Published",
    "withdrawn": "Withdrawn", "held": "Held for review", "voided": "Voided", "blocked": "Blocked",
    "publish_named": "Publish with name", "publish_anonymous": "Publish anonymously",
    "do_not_publish": "Do not publish", "testimonial": "Testimonial", "review": "Review",
    "pair": "Advocate and friend", "ip": "IP address",
}


@dataclass(frozen=True)
class Change:
    """One field of an entry: its label, the value before and after, as text (``None``: not set)."""

    field: str
    label: str
    before: str | None
    after: str | None


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action) or action.replace(".", " ").replace("_", " ").capitalize()


def subject_label(subject_type: str) -> str:
    return SUBJECT_LABELS.get(subject_type) or subject_type.replace("_", " ").capitalize()


def show_value(field: str, value: Any, data: dict[str, Any] | None = None) -> str | None:
    """A stored value as text: money with its currency, yes/no, lists joined, states labelled, other text
    as it is (so an emoji shows as itself, never as ``\\ud83d`` escapes)."""
    if value is None:
        return None
    if field == "amount_minor" and isinstance(value, int) and data and data.get("currency"):
        return format_money(value, data["currency"])
    if field == "currency" and isinstance(value, str):
        return value.upper()
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(show_value(field, item) or "—") for item in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{FIELD_LABELS.get(k, k)}: {show_value(k, v, value) or '—'}" for k, v in value.items())
    if isinstance(value, str) and value in VALUE_LABELS and field in ("state", "consent", "kind"):
        return VALUE_LABELS[value]
    return str(value)


def changes(entry: AuditEntry) -> list[Change]:
    """The fields an entry recorded, each with before and after; fields equal on both sides are left
    out when the entry has both (an edit shows only what changed)."""
    before, after = entry.before or {}, entry.after or {}
    result = []
    for field in list(dict.fromkeys([*before, *after])):
        old, new = before.get(field), after.get(field)
        if entry.before is not None and entry.after is not None and old == new:
            continue
        result.append(Change(field, FIELD_LABELS.get(field) or field.replace("_", " ").capitalize(),
                             show_value(field, old, before), show_value(field, new, after)))
    return result


def summary(entry: AuditEntry) -> str:
    """The changes of an entry on one line, for the CSV export: ``State: Pending → Approved``."""
    parts = []
    for change in changes(entry):
        if change.before is None:
            parts.append(f"{change.label}: {change.after}")
        elif change.after is None:
            parts.append(f"{change.label}: {change.before} (removed)")
        else:
            parts.append(f"{change.label}: {change.before} → {change.after}")
    return "; ".join(parts)
