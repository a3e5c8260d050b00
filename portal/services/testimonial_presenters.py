"""Testimonials as the outside world sees them: the public JSON of the wall, the API and the widget.

Plain functions of a testimonial and plain values: the view passes what it read from the request
(its host URL), so this module never touches ``request``.
"""

from __future__ import annotations

from flask import url_for

from advocacy_portal.models import Advocate
from advocacy_portal.models import Testimonial
from advocacy_portal.services import photos
from advocacy_portal.services.formatting import format_number
from advocacy_portal.services.testimonial_queries import products
from advocacy_portal.services.testimonial_queries import Rating
from advocacy_portal.services.testimonial_queries import referral_token

#: A count of ratings in words, by what was counted (``Rating.counted``): one, several.
COUNTED_NOUNS = {
    "review": ("review", "reviews"),
    "testimonial": ("testimonial", "testimonials"),
    "rating": ("rating", "ratings"),
}


def rating_words(rating: Rating) -> dict:
    """An average rating in the page's words, the one wording of the wall, the host macro, the widget
    and the API: the figures formatted for ``ADVOCACY_LOCALE`` (Babel, one decimal: ``"4.7"``, in
    German ``"4,7"``) and named after what was counted (``"3 ratings"`` when testimonials and
    reviews are mixed, ``"1 review"``, ``"3 testimonials"``).

    :returns: ``average`` and ``count`` (formatted), ``noun``, ``text`` (``"4.7 out of 5 from 3
        ratings"``) and ``short`` (``"4.7 out of 5 (3 reviews)"``).
    """
    average = format_number(rating.average, 1)
    count = format_number(rating.count)
    noun = COUNTED_NOUNS[rating.counted][rating.count != 1]
    return {
        "average": average,
        "count": count,
        "noun": noun,
        "text": f"{average} out of 5 from {count} {noun}",
        "short": f"{average} out of 5 ({count} {noun})",
    }


def rating_json(rating: Rating) -> dict:
    """A rating as the API and the widget read it: the figures (``average`` rounded once, by
    :func:`~advocacy_portal.services.testimonial_queries.rounded_rating`) and the same words as the
    wall (``average_text``, ``count_text``, ``counted``, ``text``)."""
    words = rating_words(rating)
    return {
        "average": rating.average,
        "count": rating.count,
        "average_text": words["average"],
        "count_text": words["count"],
        "counted": words["noun"],
        "text": words["text"],
    }


def public_item(
    testimonial: Testimonial,
    advocates: dict[str, Advocate] | None = None,
    *,
    host_url: str | None = None,
) -> dict:
    """The public JSON of a published testimonial: what the wall, the API and the widget show.

    Anonymous consent hides the name, role and photo. Needs an app context (and a request or
    ``SERVER_NAME``) for the absolute URLs.

    :param advocates: the authors' advocates as
        :func:`~advocacy_portal.services.testimonial_queries.advocates_of` loads them.
    :param host_url: the request's ``host_url``, which makes a photo's path absolute (without it the
        photo URL is left as the storage gives it).
    """
    anonymous = testimonial.is_anonymous
    # A referral link carries its advocate's code, readable in the token and the same on the
    # author's named testimonials and on every link they share: it would tell who wrote an
    # anonymous testimonial. Anonymous ones go without it (staff still see it in moderation).
    token = None if anonymous else referral_token(testimonial, advocates)
    highlight = None
    if testimonial.highlight is not None:
        highlight = {
            "start": testimonial.highlight_start,
            "end": testimonial.highlight_end,
            "text": testimonial.highlight,
        }
    return {
        "id": testimonial.id,
        "kind": testimonial.kind,
        "rating": testimonial.rating,
        "title": testimonial.title,
        "body": testimonial.body,
        "display_name": "Anonymous customer" if anonymous else testimonial.display_name,
        "role": None if anonymous else testimonial.role,
        "anonymous": anonymous,
        "product": (
            {"key": testimonial.product_key, "name": products().get(testimonial.product_key, testimonial.product_key)}
            if testimonial.product_key else None
        ),
        "labels": {
            "verified_customer": testimonial.verified_customer,
            "incentivised": testimonial.incentivised,
            "incentive_disclosure": testimonial.incentive_reason if testimonial.incentivised else None,
            "collected_via_survey": testimonial.source == "nps",
        },
        "featured": testimonial.featured,
        "published_at": testimonial.published_at.isoformat() if testimonial.published_at else None,
        "photo_url": None if anonymous else _absolute(photos.photo_url(testimonial.photo_key), host_url),
        "referral_url": (
            url_for("advocacy_links.follow", token=token, _external=True) if token else None
        ),
        "highlight": highlight,
    }


def _absolute(url: str | None, host_url: str | None) -> str | None:
    if url and url.startswith("/") and host_url:
        return host_url.rstrip("/") + url
    return url
