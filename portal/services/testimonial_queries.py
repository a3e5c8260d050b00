"""Testimonials and product reviews, the reads: consent wording, the author's own list, the
moderation queue, the published wall and its ratings, and the referral figures of each testimonial.

The writes are in :mod:`advocacy_portal.services.testimonials`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP
from decimal import Decimal

import math
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime

from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import select

from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.models import CONSENT_CHOICES
from advocacy_portal.models import TESTIMONIAL_STATES
from advocacy_portal.models import Advocate
from advocacy_portal.models import Referral
from advocacy_portal.models import ReferralClick
from advocacy_portal.models import Testimonial
from advocacy_portal.services import audit
from advocacy_portal.services import trust
from advocacy_portal.services.links import make_link_token
from advocacy_portal.services.paging import Page
from advocacy_portal.proxies import current_portal


SUBJECT = "testimonial"


class TestimonialError(Exception):
    """An action that cannot be done to this testimonial now; ``str()`` is the message for people."""


class NotFound(TestimonialError):
    """No such testimonial (or not the caller's)."""


class StaleTestimonial(TestimonialError):
    """The testimonial changed since the page that asked for the action was loaded."""


def consent_wording(choice: str, kind: str = "testimonial") -> str:
    """The exact wording shown for a consent choice (from the settings): a review's names only what
    its form asks for (a name, no role or photo)."""
    key = {
        "publish_named": "CONSENT_{}PUBLISH_NAMED_TEXT",
        "publish_anonymous": "CONSENT_{}PUBLISH_ANONYMOUS_TEXT",
        "do_not_publish": "CONSENT_{}DO_NOT_PUBLISH_TEXT",
    }[choice]
    return config_value(key.format("REVIEW_" if kind == "review" else ""))


def consent_choices(kind: str = "testimonial") -> list[tuple[str, str]]:
    """``[(choice, wording), ...]`` in the order the form of ``kind`` shows them."""
    return [(choice, consent_wording(choice, kind)) for choice in CONSENT_CHOICES]


def reviews_enabled() -> bool:
    """Product reviews are on when the host supplies a product catalogue with products in it."""
    return bool(products())


def products() -> dict[str, str]:
    """The host's product catalogue, ``{key: name}``."""
    return current_portal.products()


# -- the author's side -------------------------------------------------------------------------------


def get_own(testimonial_id: int, author_user_id) -> Testimonial:
    """The author's own testimonial.

    :raises NotFound: when it does not exist or belongs to someone else (the same answer, so ids of
        other people's testimonials are not revealed).
    """
    testimonial = get_session().get(Testimonial, testimonial_id)
    if testimonial is None or testimonial.author_user_id != str(author_user_id):
        raise NotFound("There is no such testimonial.")
    return testimonial


def list_own(author_user_id) -> list[Testimonial]:
    """The author's testimonials and reviews, newest first."""
    return list(
        get_session().scalars(
            select(Testimonial)
            .where(Testimonial.author_user_id == str(author_user_id))
            .order_by(Testimonial.submitted_at.desc(), Testimonial.id.desc())
        )
    )


# -- moderation ---------------------------------------------------------------------------------------


def history(testimonial_id) -> list:
    """The audit entries of a testimonial, oldest first."""
    return audit.history(SUBJECT, testimonial_id)


@dataclass(frozen=True)
class QueueFilters:
    """Filters of the moderation queue; ``None`` means any."""

    state: str | None = "pending"
    rating: int | None = None
    product: str | None = None
    kind: str | None = None
    submitted_from: datetime | None = None
    submitted_until: datetime | None = None


def _paginate(query, page: int, per_page: int) -> Page:
    session = get_session()
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    items = list(session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    return Page(items=items, page=page, per_page=per_page, total=total)


def moderation_queue(filters: QueueFilters, page: int = 1, per_page: int | None = None) -> Page:
    """Testimonials for staff, oldest first while pending (first come, first served), else newest."""
    query = select(Testimonial)
    if filters.state:
        query = query.where(Testimonial.state == filters.state)
    if filters.rating:
        query = query.where(Testimonial.rating == filters.rating)
    if filters.product:
        query = query.where(Testimonial.product_key == filters.product)
    if filters.kind:
        query = query.where(Testimonial.kind == filters.kind)
    if filters.submitted_from:
        query = query.where(Testimonial.submitted_at >= filters.submitted_from)
    if filters.submitted_until:
        query = query.where(Testimonial.submitted_at < filters.submitted_until)
    if filters.state == "pending":
        query = query.order_by(Testimonial.submitted_at, Testimonial.id)
    else:
        query = query.order_by(Testimonial.submitted_at.desc(), Testimonial.id.desc())
    return _paginate(query, page, per_page or config_value("WALL_PAGE_SIZE"))


def state_counts() -> dict[str, int]:
    """How many testimonials are in each state."""
    rows = get_session().execute(select(Testimonial.state, func.count()).group_by(Testimonial.state))
    counts = {state: 0 for state in TESTIMONIAL_STATES}
    counts.update({state: count for state, count in rows})
    return counts


# -- publishing -----------------------------------------------------------------------------------------


def _public_query(product: str | None = None, rating: int | None = None, kind: str | None = None):
    query = select(Testimonial).where(
        Testimonial.state == "approved", Testimonial.consent != "do_not_publish"
    )
    if product:
        query = query.where(Testimonial.product_key == product)
    if rating:
        query = query.where(Testimonial.rating == rating)
    if kind:
        query = query.where(Testimonial.kind == kind)
    return query


def published(
    page: int = 1,
    per_page: int = 12,
    *,
    product: str | None = None,
    rating: int | None = None,
    kind: str | None = None,
) -> Page:
    """Approved, consented testimonials: featured first, then newest."""
    query = _public_query(product, rating, kind).order_by(
        Testimonial.featured.desc(), Testimonial.published_at.desc(), Testimonial.id.desc()
    )
    return _paginate(query, page, per_page)


def rounded_rating(average) -> float:
    """The one rounding of an average rating, for the wall, the widget, the JSON-LD and the API: one
    decimal, halves up (``4.666…`` → ``4.7``, ``4.25`` → ``4.3``)."""
    return float(Decimal(str(average)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Rating:
    """Average rating and number of published reviews of one product (``product`` ``None``: all
    published testimonials and reviews)."""

    product: str | None
    name: str | None
    average: float
    count: int
    #: What was counted: ``"review"`` (product reviews only), ``"testimonial"`` (testimonials only) or
    #: ``"rating"`` (both), so the words say "3 reviews", "3 testimonials" or "3 ratings".
    counted: str = "review"


def ratings(product: str | None = None) -> list[Rating]:
    """Average rating and count per product of the published reviews, by product key; with
    ``product``, only that one."""
    query = (
        select(Testimonial.product_key, func.avg(Testimonial.rating), func.count())
        .where(
            Testimonial.state == "approved",
            Testimonial.consent != "do_not_publish",
            Testimonial.kind == "review",
        )
        .group_by(Testimonial.product_key)
        .order_by(Testimonial.product_key)
    )
    if product:
        query = query.where(Testimonial.product_key == product)
    names = products()
    return [
        Rating(product=key, name=names.get(key, key), average=rounded_rating(average), count=count)
        for key, average, count in get_session().execute(query)
    ]


def overall_rating(product: str | None = None, kind: str | None = None) -> Rating | None:
    """Average and count of every published item (or of one product's reviews, or of one kind),
    ``None`` if there is none."""
    query = select(
        func.avg(Testimonial.rating), func.count(), func.sum(case((Testimonial.kind == "review", 1), else_=0))
    ).where(Testimonial.state == "approved", Testimonial.consent != "do_not_publish")
    if product:
        query = query.where(Testimonial.product_key == product)
    if kind:
        query = query.where(Testimonial.kind == kind)
    average, count, reviews = get_session().execute(query).one()
    if not count:
        return None
    counted = "review" if reviews == count else "testimonial" if not reviews else "rating"
    return Rating(product=product, name=products().get(product) if product else None,
                  average=rounded_rating(average), count=count, counted=counted)


def referral_token(testimonial: Testimonial, advocates: dict[str, Advocate] | None = None) -> str | None:
    """The signed token of the author's referral link with campaign ``t<id>``, without writing
    anything (``None`` if the author is not an advocate yet).

    :param advocates: the authors' advocates as :func:`advocates_of` loads them; when given, an
        author missing from it has no advocate and nothing more is queried (no query per item).
    """
    if advocates is None:
        advocates = advocates_of([testimonial])
    advocate = advocates.get(testimonial.author_user_id)
    if advocate is None:
        return None
    return make_link_token(advocate.code, advocate.link_issued_at, testimonial.campaign)


def advocates_of(testimonials) -> dict[str, Advocate]:
    """The advocate rows of the authors of ``testimonials``, by user id (one query)."""
    user_ids = {testimonial.author_user_id for testimonial in testimonials}
    if not user_ids:
        return {}
    return {
        advocate.user_id: advocate
        for advocate in get_session().scalars(select(Advocate).where(Advocate.user_id.in_(user_ids)))
    }


# -- referral figures -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferralFigures:
    """What one testimonial's referral link brought."""

    clicks: int = 0
    signups: int = 0
    revenue: dict[str, int] = field(default_factory=dict)


def referral_figures(testimonials) -> dict[int, ReferralFigures]:
    """Clicks, signups and revenue (``{currency: minor units}``) of each testimonial's link, by id.

    Counts only clicks and signups of the author's own link with the testimonial's campaign.
    """
    testimonials = list(testimonials)
    if not testimonials:
        return {}
    by_campaign = {t.campaign: t for t in testimonials}
    session = get_session()
    clicks = dict(
        session.execute(
            select(ReferralClick.campaign, func.count())
            .join(Advocate, Advocate.id == ReferralClick.advocate_id)
            .where(ReferralClick.campaign.in_(by_campaign))
            .where(_owned_by_author(by_campaign, ReferralClick.campaign))
            .group_by(ReferralClick.campaign)
        ).all()
    )
    signups = dict(
        session.execute(
            select(Referral.campaign, func.count())
            .join(Advocate, Advocate.id == Referral.advocate_id)
            .where(Referral.campaign.in_(by_campaign), Referral.status == "signed_up")
            .where(_owned_by_author(by_campaign, Referral.campaign))
            .group_by(Referral.campaign)
        ).all()
    )
    revenue = trust.revenue_by_campaign(
        list(by_campaign), authors={campaign: t.author_user_id for campaign, t in by_campaign.items()}
    )
    return {
        t.id: ReferralFigures(
            clicks=clicks.get(campaign, 0),
            signups=signups.get(campaign, 0),
            revenue=dict(revenue.get(campaign, {})),
        )
        for campaign, t in by_campaign.items()
    }


def _owned_by_author(by_campaign: dict[str, Testimonial], campaign_column):
    # The campaign "t<id>" counts only on its author's link.
    return Advocate.user_id == case(
        {campaign: t.author_user_id for campaign, t in by_campaign.items()},
        value=campaign_column,
    )
