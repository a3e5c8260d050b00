"""The public JSON API of published testimonials: ``<prefix>/api/testimonials``.

Only approved items whose author consented to publication; an anonymous author's name, role and
photo are left out. Answers carry an ``ETag`` (a repeat with ``If-None-Match`` gets ``304``) and
``Cache-Control: public, no-cache`` (or ``max-age=ADVOCACY_API_CACHE_SECONDS`` when set). Errors are JSON:
``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

from flask import jsonify
from flask import request

from advocacy_portal.blueprints import inputs
from advocacy_portal.blueprints.common import allow_listed_origins
from advocacy_portal.blueprints.common import json_error
from advocacy_portal.blueprints.common import limit_request_size
from advocacy_portal.blueprints.common import site_root
from advocacy_portal.blueprints.common import preflight
from advocacy_portal.blueprints.common import read_only_json
from advocacy_portal.blueprints.testimonials import api_bp
from advocacy_portal.config import config_value
from advocacy_portal.services import testimonial_presenters
from advocacy_portal.services import testimonial_queries

api_bp.url_value_preprocessor(limit_request_size)
# Browsers on the sites that embed the widget read this API; other sites' pages may not.
allow_listed_origins(api_bp)
read_only_json(
    api_bp,
    ["/testimonials"],
    {
        400: "The request could not be read.",
        404: "There is no such API endpoint: <prefix>/api/openapi.json lists them.",
        405: "This API is read-only: use GET.",
        413: "The request body is too large.",
    },
)


def _bad(message: str):
    return json_error(400, "bad_request", message)


def _number(name: str, default: int, low: int, high: int):
    try:
        return inputs.int_arg(name, default, low, high, strict=True)
    except inputs.BadInput as error:
        raise ValueError(error.description) from None


@api_bp.route("/testimonials", methods=["GET", "OPTIONS"], provide_automatic_options=False)
def testimonials():
    """Published testimonials and reviews, newest first with featured ones on top.

    Query: ``page``, ``per_page``, ``product`` (a product key), ``rating`` (1-5), ``kind``
    (``testimonial`` or ``review``).
    """
    if request.method == "OPTIONS":
        return preflight()
    try:
        page_number = _number("page", 1, 1, 1_000_000)
        per_page = _number(
            "per_page", config_value("API_PAGE_SIZE"), 1, config_value("API_MAX_PAGE_SIZE")
        )
        rating = _number("rating", 0, 1, 5) or None
    except ValueError as error:
        return _bad(str(error))
    kind = request.args.get("kind") or None
    if kind not in (None, "testimonial", "review"):
        return _bad("'kind' must be 'testimonial' or 'review'")
    product = request.args.get("product") or None
    products = testimonial_queries.products()
    if product is not None and product not in products:
        return _bad("unknown 'product'")
    page = testimonial_queries.published(
        page=page_number, per_page=per_page, product=product, rating=rating, kind=kind
    )
    advocates = testimonial_queries.advocates_of(page.items)
    overall = testimonial_queries.overall_rating(product)
    body = {
        "items": [
            testimonial_presenters.public_item(item, advocates, host_url=site_root() + "/")
            for item in page.items
        ],
        "page": page.page,
        "per_page": page.per_page,
        "total": page.total,
        "pages": page.pages,
        "ratings": {
            # The figures and the wall's own words for them (the locale's number format), so the
            # widget shows what the wall shows.
            "overall": testimonial_presenters.rating_json(overall) if overall else None,
            "products": [
                {"key": r.product, "name": r.name, **testimonial_presenters.rating_json(r)}
                for r in testimonial_queries.ratings(product)
            ],
        },
    }
    return _cached_json(body)


def _cached_json(body: dict):
    response = jsonify(body)
    seconds = config_value("API_CACHE_SECONDS")
    # 0 (the default): caches keep the answer but ask again every time (a cheap 304 thanks to the ETag),
    # so a withdrawn or unpublished testimonial disappears at once, as its author was promised.
    response.headers["Cache-Control"] = f"public, max-age={seconds}" if seconds else "public, no-cache"
    response.vary.add("Accept-Encoding")
    # A strong ETag of the exact JSON: any visible change (an item approved, withdrawn, featured,
    # relabelled) gives a new one.
    response.add_etag()
    return response.make_conditional(request)
