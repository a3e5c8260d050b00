"""Testimonials and product reviews written by customers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from advocacy_portal.models.base import Base
from advocacy_portal.models.base import utcnow

#: What a customer wrote: a ``testimonial`` about the business, or a ``review`` of one product.
TESTIMONIAL_KINDS = ("testimonial", "review")

#: The author's answer to "may we publish this?".
CONSENT_CHOICES = ("publish_named", "publish_anonymous", "do_not_publish")

#: ``pending``: waiting for staff (the author may still edit it). ``approved``: published when the
#: consent allows. ``rejected``: refused by staff, with a reason. ``unpublished``: was approved, taken
#: down by staff. ``withdrawn``: the author withdrew consent; final.
TESTIMONIAL_STATES = ("pending", "approved", "rejected", "unpublished", "withdrawn")


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class Testimonial(Base):
    """A testimonial or product review. The quote (``body``) is never edited by staff: a highlight
    is a pair of offsets into it."""

    __tablename__ = "advocacy_testimonials"
    __table_args__ = (
        CheckConstraint(_in("kind", TESTIMONIAL_KINDS), name="kind"),
        CheckConstraint(_in("consent", CONSENT_CHOICES), name="consent"),
        CheckConstraint(_in("state", TESTIMONIAL_STATES), name="state"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating"),
        CheckConstraint("(kind = 'review') = (product_key IS NOT NULL)", name="product_iff_review"),
        CheckConstraint(
            "(highlight_start IS NULL AND highlight_end IS NULL) OR "
            "(highlight_start >= 0 AND highlight_end > highlight_start)",
            name="highlight",
        ),
        CheckConstraint(
            "(state = 'rejected') = (rejection_reason IS NOT NULL)", name="reason_iff_rejected"
        ),
        Index("ix_advocacy_testimonials_state_submitted", "state", "submitted_at"),
        Index("ix_advocacy_testimonials_public", "state", "consent", "featured", "published_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="testimonial")
    #: The host's user id of the author, and their email at the time (for the emails).
    author_user_id: Mapped[str] = mapped_column(String(255), index=True)
    author_email: Mapped[str | None] = mapped_column(String(320))
    rating: Mapped[int] = mapped_column()
    title: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    display_name: Mapped[str] = mapped_column(String(80))
    role: Mapped[str | None] = mapped_column(String(120))
    #: Key of the photo in the photo storage.
    photo_key: Mapped[str | None] = mapped_column(String(255))
    #: Key of the reviewed product in the host's catalogue (reviews only).
    product_key: Mapped[str | None] = mapped_column(String(64), index=True)

    consent: Mapped[str] = mapped_column(String(24))
    #: The consent wording the author saw and agreed to, word for word, and when.
    consent_text: Mapped[str] = mapped_column(Text)
    consent_at: Mapped[datetime] = mapped_column(default=utcnow)

    state: Mapped[str] = mapped_column(String(16), default="pending")
    featured: Mapped[bool] = mapped_column(default=False)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    #: The excerpt staff picked: ``body[highlight_start:highlight_end]``.
    highlight_start: Mapped[int | None] = mapped_column()
    highlight_end: Mapped[int | None] = mapped_column()

    #: Trust labels, computed at submission and again at approval.
    verified_customer: Mapped[bool] = mapped_column(default=False)
    incentivised: Mapped[bool] = mapped_column(default=False)
    incentive_reason: Mapped[str | None] = mapped_column(String(255))

    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    moderated_at: Mapped[datetime | None] = mapped_column()
    published_at: Mapped[datetime | None] = mapped_column()
    withdrawn_at: Mapped[datetime | None] = mapped_column()
    moderated_by_user_id: Mapped[str | None] = mapped_column(String(255))
    moderated_by_email: Mapped[str | None] = mapped_column(String(320))

    #: Where it was asked for: ``"nps"`` when the customer came from the NPS survey's thank-you page
    #: (labelled "Collected via our customer survey"); ``None`` otherwise.
    source: Mapped[str | None] = mapped_column(String(16))

    #: A random value of the form the author filled in: a double-clicked submit stores one row.
    submission_nonce: Mapped[str] = mapped_column(String(64), unique=True)
    #: Bumped by every change, so a staff action on a page that is out of date is refused.
    version: Mapped[int] = mapped_column(default=1)

    @property
    def is_public(self) -> bool:
        """Shown on the wall and in the API: approved, with consent to publish."""
        return self.state == "approved" and self.consent != "do_not_publish"

    @property
    def is_anonymous(self) -> bool:
        return self.consent == "publish_anonymous"

    @property
    def highlight(self) -> str | None:
        """The picked excerpt of the body, or ``None``."""
        if self.highlight_start is None or self.highlight_end is None:
            return None
        return self.body[self.highlight_start : self.highlight_end]

    @property
    def campaign(self) -> str:
        """The referral campaign of this testimonial's link: ``t<id>``."""
        return f"t{self.id}"

    def __repr__(self) -> str:
        return f"<Testimonial {self.id} {self.kind} {self.state}>"
