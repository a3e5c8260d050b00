"""Testimonials and product reviews, the writes: submission, the author's edits and withdrawal,
moderation and highlights, and the emails they queue.

Reads are in :mod:`advocacy_portal.services.testimonial_queries`, the public JSON in
:mod:`advocacy_portal.services.testimonial_presenters`.

Every function works on the host's Flask-SQLAlchemy session and flushes; the caller commits. Staff
actions are written to the audit log in the same transaction; emails go to the outbox the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import url_for
from sqlalchemy import select

from advocacy_portal import signals
from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.db import insert_or_ignore
from advocacy_portal.models import CONSENT_CHOICES
from advocacy_portal.models import Testimonial
from advocacy_portal.models import utcnow
from advocacy_portal.services import audit
from advocacy_portal.services import mail
from advocacy_portal.services import outgoing_webhooks
from advocacy_portal.services import referrals as referral_service
from advocacy_portal.services import trust
from advocacy_portal.services import webhook_events
from advocacy_portal.services.testimonial_queries import SUBJECT
from advocacy_portal.services.testimonial_queries import NotFound
from advocacy_portal.services.testimonial_queries import StaleTestimonial
from advocacy_portal.services.testimonial_queries import TestimonialError
from advocacy_portal.services.testimonial_queries import consent_wording
from advocacy_portal.services.testimonial_queries import products
from advocacy_portal.services.testimonial_queries import referral_token


#: Signals (sent after commit) with ``testimonial``.
testimonial_submitted = signals.testimonial_submitted
testimonial_published = signals.testimonial_published
testimonial_unpublished = signals.testimonial_unpublished


def _snapshot(testimonial: Testimonial, *names: str) -> dict[str, Any]:
    values = {}
    for name in names:
        value = getattr(testimonial, name)
        values[name] = value.isoformat() if isinstance(value, datetime) else value
    return values


# -- the author's side -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    """What :func:`submit` did: the testimonial and whether this call created it (a repeated
    submission of the same form returns the first one)."""

    testimonial: Testimonial
    created: bool


class FormAlreadyUsed(ValueError):
    """A submission nonce came back with other content, or from another author: a copy of a form
    that was already sent (a 409 for the visitor)."""


#: What a repeated submission must repeat to be the same one (a photo is stored anew each time).
_SAME_SUBMISSION = ("kind", "rating", "title", "body", "display_name", "role", "product_key", "consent")

_EDITABLE = ("rating", "title", "body", "display_name", "role", "photo_key", "product_key", "consent")


def submit(
    author,
    *,
    nonce: str,
    rating: int,
    body: str,
    display_name: str,
    consent: str,
    kind: str = "testimonial",
    title: str | None = None,
    role: str | None = None,
    photo_key: str | None = None,
    product_key: str | None = None,
    source: str | None = None,
) -> Submission:
    """Store a new testimonial or review (pending), with its trust labels and the consent wording
    shown, and queue the "thanks" email.

    :param author: a :class:`advocacy_portal.extension.Customer`.
    :param nonce: the form's submission nonce: the same nonce twice stores one testimonial.
    :raises FormAlreadyUsed: when ``nonce`` was used by another author or for other content.
    :raises ValueError: on a consent choice, kind or product that does not exist.
    """
    if consent not in CONSENT_CHOICES:
        raise ValueError(f"unknown consent choice {consent!r}")
    if kind == "review":
        if product_key not in products():
            raise ValueError(f"unknown product {product_key!r}")
    elif kind == "testimonial":
        product_key = None
        title = None
    else:
        raise ValueError(f"unknown kind {kind!r}")
    labels = trust.labels_for(author.id)
    now = utcnow()
    new_id = insert_or_ignore(
        Testimonial,
        {
            "kind": kind,
            "author_user_id": str(author.id),
            "author_email": author.email,
            "rating": int(rating),
            "title": title,
            "body": body,
            "display_name": display_name,
            "role": role or None,
            "photo_key": photo_key,
            "product_key": product_key,
            "consent": consent,
            "consent_text": consent_wording(consent, kind),
            "consent_at": now,
            "state": "pending",
            "featured": False,
            "verified_customer": labels.verified_customer,
            "incentivised": labels.incentivised,
            "incentive_reason": labels.incentive_reason,
            "submitted_at": now,
            "updated_at": now,
            "submission_nonce": nonce,
            "source": "nps" if source == "nps" else None,
            "version": 1,
        },
        ["submission_nonce"],
    )
    session = get_session()
    if new_id is None:
        existing = session.scalar(select(Testimonial).where(Testimonial.submission_nonce == nonce))
        if existing is None or existing.author_user_id != str(author.id):
            raise FormAlreadyUsed("this form was already used")
        wanted = {"kind": kind, "rating": int(rating), "title": title, "body": body,
                  "display_name": display_name, "role": role or None, "product_key": product_key,
                  "consent": consent}
        if any(getattr(existing, name) != wanted[name] for name in _SAME_SUBMISSION):
            raise FormAlreadyUsed("this form was already used for another testimonial")
        return Submission(existing, created=False)
    testimonial = session.get(Testimonial, new_id)
    audit.record_action(
        author, f"{SUBJECT}.submit", SUBJECT, testimonial.id,
        after=_snapshot(testimonial, "kind", "rating", "consent", "state"),
    )
    if author.email:
        _queue_mail(testimonial, "thanks")
    signals.send_after_commit(testimonial_submitted, testimonial=testimonial)
    return Submission(testimonial, created=True)


def edit_own(testimonial: Testimonial, author, **changes: Any) -> Testimonial:
    """Change the author's testimonial while it waits for moderation.

    :raises TestimonialError: once staff moderated it (or it was withdrawn).
    """
    if testimonial.state != "pending":
        raise TestimonialError(
            "This testimonial was already reviewed, so it can no longer be edited. "
            "You can still withdraw your consent."
        )
    unknown = set(changes) - set(_EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    if "consent" in changes and changes["consent"] not in CONSENT_CHOICES:
        raise ValueError("unknown consent choice")
    if testimonial.kind == "review" and "product_key" in changes:
        if changes["product_key"] not in products():
            raise ValueError("unknown product")
    if testimonial.kind == "testimonial":
        changes.pop("product_key", None)
        changes.pop("title", None)
    before = _snapshot(testimonial, *changes)
    for name, value in changes.items():
        setattr(testimonial, name, value)
    if "consent" in changes and changes["consent"] != before["consent"]:
        testimonial.consent_text = consent_wording(changes["consent"], testimonial.kind)
        testimonial.consent_at = utcnow()
    if testimonial.highlight_end is not None and testimonial.highlight_end > len(testimonial.body):
        testimonial.highlight_start = testimonial.highlight_end = None
    testimonial.updated_at = utcnow()
    testimonial.version += 1
    get_session().flush()
    after = _snapshot(testimonial, *changes)
    audit.record_action(author, f"{SUBJECT}.edit", SUBJECT, testimonial.id, before=before, after=after)
    return testimonial


def withdraw(testimonial: Testimonial, author) -> Testimonial:
    """The author withdraws consent: the testimonial is unpublished at once, for good, and its
    photo is let go (``photo_key`` cleared: the caller deletes the file after the commit).

    Withdrawing twice is harmless.
    """
    if testimonial.state == "withdrawn":
        return testimonial
    before = _snapshot(testimonial, "state", "consent", "featured", "published_at", "photo_key")
    was_public = testimonial.is_public
    now = utcnow()
    testimonial.state = "withdrawn"
    testimonial.consent = "do_not_publish"
    testimonial.consent_text = config_value("CONSENT_WITHDRAWN_TEXT")
    testimonial.consent_at = now
    testimonial.withdrawn_at = now
    testimonial.featured = False
    testimonial.published_at = None
    testimonial.rejection_reason = None
    testimonial.photo_key = None
    testimonial.updated_at = now
    testimonial.version += 1
    get_session().flush()
    audit.record_action(
        author, f"{SUBJECT}.withdraw", SUBJECT, testimonial.id,
        before=before,
        after=_snapshot(testimonial, "state", "consent", "featured", "published_at", "photo_key"),
    )
    if was_public:
        signals.send_after_commit(testimonial_unpublished, testimonial=testimonial)
    return testimonial


# -- moderation ---------------------------------------------------------------------------------------


#: Moderation actions, with the states each may start from.
ACTIONS = {
    "approve": ("pending", "rejected", "unpublished"),
    "reject": ("pending", "unpublished"),
    "unpublish": ("approved",),
    "feature": ("approved",),
    "unfeature": ("approved",),
}


_STATE_WORDS = {
    "pending": "waiting for review",
    "approved": "approved",
    "rejected": "rejected",
    "unpublished": "unpublished",
    "withdrawn": "withdrawn by its author",
}


def _for_staff(testimonial_id, expected_version: int | None) -> Testimonial:
    testimonial = get_session().get(Testimonial, testimonial_id) if str(testimonial_id).isdigit() else None
    if testimonial is None:
        raise NotFound(f"Testimonial {testimonial_id} no longer exists.")
    if testimonial.state == "withdrawn":
        raise TestimonialError(
            f"Testimonial {testimonial.id} was withdrawn by its author; it can no longer be published "
            "or changed."
        )
    if expected_version is not None and testimonial.version != expected_version:
        raise StaleTestimonial(
            f"Testimonial {testimonial.id} changed since you opened the page (it is now "
            f"{_STATE_WORDS[testimonial.state]}). Nothing was done: look at it again."
        )
    return testimonial


#: The only reasons a testimonial or review may be rejected for: content-neutral ones (16 CFR 465:
#: no suppression by sentiment), so the wall can truthfully say it shows every approved review.
REJECTION_REASONS = {
    "abusive": "Abusive, hateful or obscene language",
    "off_topic": "Off-topic: not about our products or service",
    "private_data": "Contains someone's private data",
    "fake": "Fake or spam: not a genuine customer experience",
    "confidential": "Reveals confidential information",
}


def rejection_reason(value: str | None) -> str | None:
    """The label of a content-neutral rejection reason named by its key or label, else ``None``."""
    value = (value or "").strip()
    for key, label in REJECTION_REASONS.items():
        if value.lower() in (key, label.lower()):
            return label
    return None


def moderate(
    testimonial_id,
    action: str,
    staff,
    *,
    reason: str | None = None,
    expected_version: int | None = None,
) -> Testimonial:
    """Apply one staff action: ``approve``, ``reject`` (needs ``reason``: a key or label of
    :data:`REJECTION_REASONS`, nothing else), ``unpublish``, ``feature``
    or ``unfeature``; recorded in the audit log with the fields before and after.

    :param expected_version: the version the staff member saw; a different one means someone else
        acted in between, and nothing is done.
    :raises NotFound: the testimonial is gone.
    :raises StaleTestimonial: it changed since ``expected_version``.
    :raises TestimonialError: the action does not apply to its state (the message says why).
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    testimonial = _for_staff(testimonial_id, expected_version)
    reason = (reason or "").strip() or None
    if action == "reject" and not reason:
        raise TestimonialError("Give a reason to reject a testimonial.")
    if action == "reject":
        reason = rejection_reason(reason)
        if reason is None:
            raise TestimonialError(
                "Choose one of the content-neutral reasons to reject ("
                + "; ".join(REJECTION_REASONS.values())
                + "): a review is never refused for being negative."
            )
    if testimonial.state not in ACTIONS[action]:
        if action == "approve" and testimonial.state == "approved":
            raise TestimonialError(f"Testimonial {testimonial.id} is already approved.")
        if action in ("feature", "unfeature"):
            raise TestimonialError(f"Only approved testimonials can be featured; {testimonial.id} is "
                                   f"{_STATE_WORDS[testimonial.state]}.")
        done = {"approve": "approved", "reject": "rejected", "unpublish": "unpublished"}[action]
        raise TestimonialError(
            f"Testimonial {testimonial.id} is {_STATE_WORDS[testimonial.state]}: it cannot be {done}."
        )
    fields = ("state", "featured", "rejection_reason", "published_at", "verified_customer", "incentivised")
    before = _snapshot(testimonial, *fields)
    was_public = testimonial.is_public
    now = utcnow()
    if action == "approve":
        labels = trust.labels_for(testimonial.author_user_id)
        testimonial.verified_customer = labels.verified_customer
        # A label once earned stays: a promise made at submission still applies.
        if labels.incentivised or not testimonial.incentivised:
            testimonial.incentivised = labels.incentivised
            testimonial.incentive_reason = labels.incentive_reason
        testimonial.state = "approved"
        testimonial.rejection_reason = None
        testimonial.published_at = now if testimonial.consent != "do_not_publish" else None
        # The author becomes an advocate, so the testimonial's referral link works.
        referral_service.ensure_advocate(testimonial.author_user_id, testimonial.author_email)
    elif action == "reject":
        testimonial.state = "rejected"
        testimonial.rejection_reason = reason
        testimonial.featured = False
        testimonial.published_at = None
    elif action == "unpublish":
        testimonial.state = "unpublished"
        testimonial.featured = False
        testimonial.published_at = None
    else:
        testimonial.featured = action == "feature"
    testimonial.moderated_at = now
    testimonial.moderated_by_user_id = str(staff.id)
    testimonial.moderated_by_email = getattr(staff, "email", None)
    testimonial.updated_at = now
    testimonial.version += 1
    get_session().flush()
    audit.record_action(
        staff, f"{SUBJECT}.{action}", SUBJECT, testimonial.id,
        before=before, after=_snapshot(testimonial, *fields), reason=reason,
    )
    if testimonial.is_public and not was_public:
        signals.send_after_commit(testimonial_published, testimonial=testimonial)
        outgoing_webhooks.emit("testimonial.published", webhook_events.testimonial_data(testimonial))
        if testimonial.author_email:
            _queue_mail(testimonial, "published")
    elif was_public and not testimonial.is_public:
        signals.send_after_commit(testimonial_unpublished, testimonial=testimonial)
    return testimonial


def set_highlight(
    testimonial_id,
    staff,
    start: int | None,
    end: int | None,
    *,
    expected_version: int | None = None,
) -> Testimonial:
    """Pick the excerpt ``body[start:end]`` to highlight (``None``, ``None`` clears it). The quote
    itself is never changed.

    :raises TestimonialError: offsets outside the text, empty, or only spaces.
    """
    testimonial = _for_staff(testimonial_id, expected_version)
    if start is None and end is None:
        pass
    elif start is None or end is None or not (0 <= start < end <= len(testimonial.body)):
        raise TestimonialError(
            f"The excerpt must lie within the text (characters 0 to {len(testimonial.body)}), "
            "and end after it starts."
        )
    elif not testimonial.body[start:end].strip():
        raise TestimonialError("The excerpt is only blank space: pick some words.")
    before = _snapshot(testimonial, "highlight_start", "highlight_end")
    testimonial.highlight_start, testimonial.highlight_end = start, end
    testimonial.updated_at = utcnow()
    testimonial.version += 1
    get_session().flush()
    after = _snapshot(testimonial, "highlight_start", "highlight_end")
    after["excerpt"] = testimonial.highlight
    audit.record_action(staff, f"{SUBJECT}.highlight", SUBJECT, testimonial.id, before=before, after=after)
    return testimonial


def find_excerpt(body: str, excerpt: str) -> tuple[int, int]:
    """The offsets of ``excerpt`` in ``body`` (its first occurrence).

    :raises TestimonialError: when the text does not contain it word for word.
    """
    excerpt = excerpt.strip()
    index = body.find(excerpt) if excerpt else -1
    if index < 0:
        raise TestimonialError("The excerpt must be copied word for word from the testimonial.")
    return index, index + len(excerpt)


# -- emails -----------------------------------------------------------------------------------------------


def _queue_mail(testimonial: Testimonial, which: str) -> None:
    key = which.upper()
    context = {"testimonial": testimonial, "program_name": config_value("PROGRAM_NAME")}
    try:
        context["my_testimonials_url"] = url_for("advocacy_testimonials.mine", _external=True)
    except RuntimeError:  # no request and no SERVER_NAME: the email goes without the link
        context["my_testimonials_url"] = None
    if which == "published":
        token = referral_token(testimonial)
        context["referral_url"] = None
        if token:
            try:
                context["referral_url"] = url_for("advocacy_links.follow", token=token, _external=True)
            except RuntimeError:
                pass
    mail.queue(
        f"{SUBJECT}.{which}",
        testimonial.author_email,
        config_value(f"MAIL_{key}_SUBJECT"),
        config_value(f"MAIL_{key}_TEXT_TEMPLATE"),
        config_value(f"MAIL_{key}_HTML_TEMPLATE"),
        context,
        subject_type=SUBJECT,
        subject_id=testimonial.id,
    )
