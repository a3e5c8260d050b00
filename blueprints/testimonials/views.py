"""The customer's testimonial and review forms, their own page, photos, and the public wall."""

from __future__ import annotations

import logging

from flask import abort
from flask import current_app
from flask import flash
from flask import g
from flask import has_request_context
from flask import redirect
from flask import render_template
from flask import request
from flask import send_file
from flask import url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from advocacy_portal.blueprints import inputs
from advocacy_portal.blueprints.common import csrf_failed
from advocacy_portal.blueprints.common import CSRF_MESSAGE
from advocacy_portal.blueprints.common import customer_required
from advocacy_portal.blueprints.common import private_page
from advocacy_portal.blueprints.common import render_error
from advocacy_portal.blueprints.common import site_root
from advocacy_portal.blueprints.testimonials import bp
from advocacy_portal.blueprints.testimonials.forms import RATING_CHOICES
from advocacy_portal.blueprints.testimonials.forms import ReviewForm
from advocacy_portal.blueprints.testimonials.forms import TestimonialForm
from advocacy_portal.blueprints.testimonials.forms import WithdrawForm
from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.proxies import get_portal
from advocacy_portal.models import Testimonial
from advocacy_portal.services import photos
from advocacy_portal.services import testimonial_presenters
from advocacy_portal.services import testimonial_queries
from advocacy_portal.services import testimonials as testimonial_service

log = logging.getLogger(__name__)

THANKS = "Thank you! We read every testimonial; you will see here when yours is published."
_FORM_ENDPOINTS = {"advocacy_testimonials.new", "advocacy_testimonials.edit"}
#: The forms whose text is kept when their CSRF token has expired: they check the token themselves
#: (Flask-WTF's FlaskForm), so the host's global CSRFProtect does not throw their text away first.
_KEEP_TEXT_ENDPOINTS = {"advocacy_testimonials.new", "advocacy_testimonials.edit", "advocacy_testimonials.new_review"}
#: Shown above a form sent with an expired (or missing) CSRF token, re-rendered with its text.
EXPIRED_FORM_KEPT = (
    "This form had expired, so nothing was saved yet. We kept what you wrote: check it and send it again."
    " (A photo has to be chosen again.)"
)


@bp.url_value_preprocessor
def _allow_photo_uploads(endpoint, values):
    # The testimonial form carries a photo: its body may be larger than the plugin's usual limit.
    # Up to twice the photo limit reaches the form, which then says "too large" and keeps the text.
    if endpoint in _KEEP_TEXT_ENDPOINTS:
        csrf = current_app.extensions.get("csrf")
        if csrf is not None and hasattr(csrf, "exempt"):
            csrf.exempt(current_app.view_functions[endpoint])
    if endpoint in _FORM_ENDPOINTS:
        request.max_content_length = (
            2 * config_value("PHOTO_MAX_BYTES") + config_value("MAX_REQUEST_BYTES")
        )


def _store_photo(form) -> str | None:
    """Check and store the uploaded photo; ``None`` when there is none. Adds a form error and
    returns ``False`` when the file is refused."""
    upload = form.photo.data
    if not upload or not getattr(upload, "filename", ""):
        return None
    data = upload.read(config_value("PHOTO_MAX_BYTES") + 1)
    try:
        processed, content_type = photos.process_photo(data, upload.filename, upload.mimetype)
    except photos.PhotoRejected as error:
        form.photo.errors = list(form.photo.errors) + [str(error)]
        return False
    return photos.get_storage().save(processed, content_type)


def _discard_photo(key: str | None) -> None:
    if key:
        try:
            photos.get_storage().delete(key)
        except Exception:  # a leftover file is harmless; losing the request is not
            log.exception("Could not delete photo %s", key)


def _expired(form, testimonial: Testimonial | None = None):
    """The form again, with a fresh CSRF token and everything the customer typed (400): an expired
    session must not cost them their words. Nothing is saved from the expired post."""
    form.csrf_token.errors = []
    form.form_errors.append(EXPIRED_FORM_KEPT)
    return _render_form(form, status=400, testimonial=testimonial)


# -- the author's side --------------------------------------------------------------------------------


@bp.get("/testimonials/")
@customer_required
def mine():
    """The customer's own testimonials and reviews, with their state."""
    items = testimonial_queries.list_own(g.advocacy_customer.id)
    return private_page(
        render_template(
            config_value("MY_TESTIMONIALS_TEMPLATE"),
            items=items,
            withdraw_forms={item.id: WithdrawForm(prefix=f"withdraw-{item.id}", formdata=None) for item in items},
            products=testimonial_queries.products(),
            reviews_enabled=testimonial_queries.reviews_enabled(),
        )
    )


@bp.route("/testimonials/new", methods=["GET", "POST"])
@customer_required
def new():
    """Write a testimonial."""
    form = TestimonialForm()
    if request.method == "POST":
        if form.validate_on_submit():
            if form.is_spam:
                # A bot filled the honeypot: the same answer as a person gets, nothing stored.
                flash(THANKS, "success")
                return redirect(url_for(".mine"), code=303)
            photo_key = _store_photo(form)
            if photo_key is not False:
                return _submit(form, "testimonial", photo_key)
        elif csrf_failed(form):
            return _expired(form)
    return _render_form(form, status=400 if form.errors else 200)


@bp.route("/reviews/new", methods=["GET", "POST"])
@customer_required
def new_review():
    """Review a product of the host's catalogue."""
    if not testimonial_queries.reviews_enabled():
        return render_template(config_value("REVIEWS_OFF_TEMPLATE")), 404
    form = ReviewForm()
    if request.method == "GET" and request.args.get("product") in testimonial_queries.products():
        form.product.data = request.args["product"]
    if request.method == "POST":
        if form.validate_on_submit():
            if form.is_spam:
                flash(THANKS, "success")
                return redirect(url_for(".mine"), code=303)
            return _submit(form, "review", None)
        if csrf_failed(form):
            return _expired(form)
    return _render_form(form, status=400 if form.errors else 200)


#: The answer (409) to a copy of a form that was already sent, with other content.
FORM_USED_MESSAGE = (
    "This form was already sent, so nothing new was saved. Open the form again to write another "
    "testimonial, or edit the one you sent from your testimonials page."
)


def _submit(form, kind: str, photo_key: str | None):
    customer = g.advocacy_customer
    try:
        submission = testimonial_service.submit(
            customer,
            nonce=form.nonce.data,
            kind=kind,
            rating=form.rating.data,
            body=form.body.data,
            title=form.title.data if kind == "review" else None,
            display_name=form.display_name.data,
            role=form.role.data if kind == "testimonial" else None,
            photo_key=photo_key,
            product_key=form.product.data if kind == "review" else None,
            consent=form.consent.data,
            source="nps" if request.form.get("source") == "nps" else None,
        )
        get_session().commit()
    except testimonial_service.FormAlreadyUsed:
        get_session().rollback()
        _discard_photo(photo_key)
        return render_error(409, FORM_USED_MESSAGE)
    except ValueError as error:
        get_session().rollback()
        _discard_photo(photo_key)
        form.form_errors.append(f"{error}: reload the page and try again.")
        return _render_form(form, status=400)
    except SQLAlchemyError:
        get_session().rollback()
        _discard_photo(photo_key)
        raise
    if not submission.created:
        _discard_photo(photo_key)  # a repeated submit: the first one kept its own photo
    flash(THANKS, "success")
    return redirect(url_for(".mine"), code=303)


def _render_form(form, status: int = 200, testimonial: Testimonial | None = None):
    review = isinstance(form, ReviewForm)
    template = config_value("REVIEW_FORM_TEMPLATE" if review else "TESTIMONIAL_FORM_TEMPLATE")
    return private_page(
        render_template(
            template,
            form=form,
            testimonial=testimonial,
            incentive=config_value("TESTIMONIAL_INCENTIVE"),
            photo_url=photos.photo_url(testimonial.photo_key) if testimonial else None,
        ),
        status,
    )


def _own_or_404(testimonial_id: int) -> Testimonial:
    try:
        return testimonial_queries.get_own(testimonial_id, g.advocacy_customer.id)
    except testimonial_queries.NotFound:
        abort(404, "There is no such testimonial among yours.")


@bp.route("/testimonials/<advocacy_id:testimonial_id>/edit", methods=["GET", "POST"])
@customer_required
def edit(testimonial_id: int):
    """Change a testimonial that still waits for review."""
    testimonial = _own_or_404(testimonial_id)
    if testimonial.state != "pending":
        flash("This testimonial was already reviewed, so it can no longer be edited. "
              "You can still withdraw your consent.", "error")
        return redirect(url_for(".mine"), code=303)
    form_class = ReviewForm if testimonial.kind == "review" else TestimonialForm
    if request.method == "GET":
        form = form_class(obj=testimonial)
        if testimonial.kind == "review":
            form.product.data = testimonial.product_key
        return _render_form(form, testimonial=testimonial)
    form = form_class()
    if not form.validate_on_submit():
        if csrf_failed(form):
            return _expired(form, testimonial)
        return _render_form(form, status=400, testimonial=testimonial)
    changes = {
        "rating": form.rating.data,
        "body": form.body.data,
        "display_name": form.display_name.data,
        "consent": form.consent.data,
    }
    new_photo = None
    if testimonial.kind == "review":
        changes.update(title=form.title.data, product_key=form.product.data)
    else:
        changes["role"] = form.role.data or None
        new_photo = _store_photo(form)
        if new_photo is False:
            return _render_form(form, status=400, testimonial=testimonial)
        if new_photo or form.remove_photo.data:
            changes["photo_key"] = new_photo
    old_photo = testimonial.photo_key
    try:
        testimonial_service.edit_own(testimonial, g.advocacy_customer, **changes)
        get_session().commit()
    except (testimonial_queries.TestimonialError, ValueError) as error:
        get_session().rollback()
        _discard_photo(new_photo)
        flash(str(error), "error")
        return redirect(url_for(".mine"), code=303)
    if "photo_key" in changes and old_photo:
        _discard_photo(old_photo)
    flash("Your changes are saved.", "success")
    return redirect(url_for(".mine"), code=303)


@bp.post("/testimonials/<advocacy_id:testimonial_id>/withdraw")
@customer_required
def withdraw(testimonial_id: int):
    """Withdraw consent: the testimonial comes down at once and is never published again."""
    testimonial = _own_or_404(testimonial_id)
    form = WithdrawForm(prefix=f"withdraw-{testimonial.id}")
    if not form.validate_on_submit():
        if csrf_failed(form):
            return render_error(400, CSRF_MESSAGE)
        flash("Tick the box to confirm that you withdraw your consent.", "error")
        return redirect(url_for(".mine"), code=303)
    photo_key = testimonial.photo_key
    testimonial_service.withdraw(testimonial, g.advocacy_customer)
    get_session().commit()
    _discard_photo(photo_key)  # consent withdrawn: the photo is deleted, not merely hidden
    flash("Your consent is withdrawn: the testimonial is no longer published, and never will be.", "success")
    return redirect(url_for(".mine"), code=303)


# -- photos -----------------------------------------------------------------------------------------------


@bp.get("/photos/<key>")
def photo(key: str):
    """A stored photo: public when its testimonial is published with the author's name; otherwise
    only for its author and staff."""
    testimonial = get_session().scalar(select(Testimonial).where(Testimonial.photo_key == key).limit(1))
    if testimonial is None:
        abort(404, "There is no such photo.")
    public = testimonial.is_public and not testimonial.is_anonymous
    if not public and not _may_see_private(testimonial):
        abort(404, "There is no such photo.")
    try:
        handle = photos.get_storage().open(key)
    except KeyError:
        abort(404, "There is no such photo.")
    mimetype = "image/png" if key.endswith(".png") else "image/jpeg"
    response = send_file(handle, mimetype=mimetype, etag=key, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
    if public:
        # Caches keep it but ask again each time (a cheap 304): once the testimonial is withdrawn
        # or unpublished, the photo stops being served at once, not an hour later.
        response.headers["Cache-Control"] = "public, no-cache"
    else:
        response.headers["Cache-Control"] = "private, no-store"
    return response


def _may_see_private(testimonial: Testimonial) -> bool:
    if getattr(current_app, "login_manager", None) is None or not current_user.is_authenticated:
        return False
    user = current_user._get_current_object()
    portal = get_portal()
    if portal.is_staff(user):
        return True
    customer = portal.identify(user)
    return customer is not None and customer.id == testimonial.author_user_id


# -- the public wall -------------------------------------------------------------------------------------


@bp.get("/wall")
def wall():
    """Published testimonials and reviews: featured first, filters by rating and product, with
    schema.org structured data."""
    products = testimonial_queries.products()
    product = request.args.get("product") or None
    if product is not None and product not in products:
        product = None
    rating = inputs.int_arg("rating", None, 1, 5)
    page = testimonial_queries.published(
        page=inputs.page_arg(),
        per_page=config_value("WALL_PAGE_SIZE"),
        product=product,
        rating=rating,
    )
    data = wall_data(page.items, product=product)
    return render_template(
        config_value("WALL_TEMPLATE"),
        page=page,
        wall=data,
        products=products,
        product=product,
        rating=rating,
        rating_choices=RATING_CHOICES,
    )


def wall_data(testimonials, product: str | None = None) -> dict:
    """What the wall (and the ``advocacy_testimonials`` template global) renders: public items,
    ratings and the schema.org JSON-LD."""
    advocates = testimonial_queries.advocates_of(testimonials)
    host_url = site_root() + "/" if has_request_context() else None
    items = [testimonial_presenters.public_item(t, advocates, host_url=host_url) for t in testimonials]
    ratings = testimonial_queries.ratings(product)
    overall = testimonial_queries.overall_rating(product)
    return {
        "items": items,
        "ratings": ratings,
        "overall": overall,
        # The one wording of a rating (the widget and the API send the same): locale's figures,
        # named after what was counted ("3 ratings", "1 review", "3 testimonials").
        "overall_words": testimonial_presenters.rating_words(overall) if overall else None,
        "product_words": {r.product: testimonial_presenters.rating_words(r) for r in ratings},
        "json_ld": json_ld(items, ratings, product),
    }


def _business_name() -> str:
    if config_value("BUSINESS_NAME"):
        return config_value("BUSINESS_NAME")
    # Never the host name ("127.0.0.1:5000"): the program's name is at least a name people gave it.
    return config_value("PROGRAM_NAME")


def _review_ld(item: dict, item_reviewed: dict) -> dict:
    review = {
        "@type": "Review",
        "itemReviewed": item_reviewed,
        "reviewRating": {"@type": "Rating", "ratingValue": item["rating"], "bestRating": 5, "worstRating": 1},
        "author": {"@type": "Person", "name": item["display_name"]},
        "reviewBody": item["body"],
    }
    if item["title"]:
        review["name"] = item["title"]
    if item["published_at"]:
        review["datePublished"] = item["published_at"][:10]
    return review


def json_ld(items: list[dict], ratings, product: str | None = None) -> dict:
    """schema.org ``Organization`` (testimonials) and ``Product`` (reviews) with ``Review`` and
    ``AggregateRating``, as one ``@graph``. Render it with ``|tojson`` inside the script block."""
    graph = []
    testimonials = [item for item in items if item["kind"] == "testimonial"]
    # A page about one product describes that product only.
    # The same figure as the wall, the widget and the API show: every published item (one rating).
    organization_rating = None if product else testimonial_queries.overall_rating()
    if testimonials or organization_rating:
        organization = {"@type": "Organization", "@id": "#organization", "name": _business_name()}
        if has_request_context():
            organization["@id"] = site_root() + "/#organization"
            organization["url"] = site_root() + "/"
        if organization_rating:
            organization["aggregateRating"] = _aggregate(organization_rating)
        if testimonials:
            reviewed = {"@type": "Organization", "@id": organization["@id"], "name": organization["name"]}
            organization["review"] = [_review_ld(item, reviewed) for item in testimonials]
        graph.append(organization)
    for rating in ratings:
        product_reviews = [
            item for item in items if item["kind"] == "review" and item["product"]["key"] == rating.product
        ]
        entry = {
            "@type": "Product",
            "@id": f"#product-{rating.product}",
            "name": rating.name,
            "sku": rating.product,
            "aggregateRating": _aggregate(rating),
        }
        if product_reviews:
            reviewed = {"@type": "Product", "@id": entry["@id"], "name": rating.name}
            entry["review"] = [_review_ld(item, reviewed) for item in product_reviews]
        graph.append(entry)
    return {"@context": "https://schema.org", "@graph": graph}


def _aggregate(rating) -> dict:
    # Counted as the wall words it: "3 reviews" is a reviewCount; "3 ratings" (testimonials among
    # them) or "3 testimonials" a ratingCount.
    return {
        "@type": "AggregateRating",
        "ratingValue": rating.average,
        "reviewCount" if rating.counted == "review" else "ratingCount": rating.count,
        "bestRating": 5,
        "worstRating": 1,
    }


def advocacy_testimonials(product: str | None = None, limit: int = 6, kind: str | None = None) -> dict:
    """Template global: published testimonials for a host's own page, with ratings and JSON-LD.

    ``{% from "advocacy/testimonials/macros.html" import testimonial_wall %}``
    ``{{ testimonial_wall(advocacy_testimonials(product="pro", limit=3)) }}``
    """
    limit = max(1, min(int(limit), config_value("API_MAX_PAGE_SIZE")))
    page = testimonial_queries.published(page=1, per_page=limit, product=product, kind=kind)
    return wall_data(page.items, product=product)


@bp.record_once
def _add_template_global(state):
    state.app.add_template_global(advocacy_testimonials, "advocacy_testimonials")
