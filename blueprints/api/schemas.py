"""Marshmallow schemas of the back-office API: the query strings it reads (checked with them, so the
OpenAPI document and the checks cannot disagree) and the JSON it answers (documented with them)."""

from __future__ import annotations

from datetime import timezone

from marshmallow import RAISE
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate

from advocacy_portal.blueprints.admin.views import REWARD_OUTCOMES
from advocacy_portal.models import ADVOCATE_ACCOUNT_KINDS
from advocacy_portal.models import PROGRAM_ACCOUNT_KINDS
from advocacy_portal.models import REFERRAL_STATES
from advocacy_portal.models import REWARD_STATES
from advocacy_portal.models import TESTIMONIAL_KINDS
from advocacy_portal.models import TESTIMONIAL_STATES

#: Largest database id a filter accepts (ids are 32-bit integers).
MAX_ID = 2**31 - 1
#: Largest page number accepted.
MAX_PAGE = 1_000_000
#: Text without control characters (which no filter value ever holds, and PostgreSQL refuses NUL).
PLAIN_TEXT = r"^[^\u0000-\u001f\u007f]*$"

# -- query strings ---------------------------------------------------------------------------------


class _Args(Schema):
    class Meta:
        unknown = RAISE


def _page_fields(max_per_page: int) -> dict:
    return {
        "page": fields.Integer(
            load_default=1, validate=validate.Range(1, MAX_PAGE),
            metadata={"description": "Page number, from 1. A page past the last one is empty."},
        ),
        "per_page": fields.Integer(
            validate=validate.Range(1, max_per_page),
            metadata={"description": f"Items per page, 1 to {max_per_page} (default: ADVOCACY_API_PAGE_SIZE)."},
        ),
    }


def _advocate_field():
    return fields.Integer(
        validate=validate.Range(1, MAX_ID), metadata={"description": "Only this advocate's records (an advocate `id`)."}
    )


def _currency_field():
    return fields.String(
        validate=validate.Regexp(r"^[A-Za-z]{3}$"),
        metadata={"description": "ISO 4217 code, any case (`USD`, `eur`)."},
    )


def _period_fields(what: str) -> dict:
    return {
        "start": fields.AwareDateTime(
            default_timezone=timezone.utc,
            metadata={"description": f"Only records {what} at or after this time (ISO 8601; UTC if no offset)."},
        ),
        "end": fields.AwareDateTime(
            default_timezone=timezone.utc,
            metadata={"description": f"Only records {what} before this time (ISO 8601; UTC if no offset)."},
        ),
    }


def _state_field(states, what: str):
    return fields.String(validate=validate.OneOf(list(states)), metadata={"description": f"Only {what} in this state."})


def args_schemas(max_per_page: int) -> dict[str, type[Schema]]:
    """The query-string schema of each list endpoint, for a largest page size of ``max_per_page``."""
    page = _page_fields(max_per_page)
    return {
        "advocates": _Args.from_dict(
            {
                **page,
                "search": fields.String(
                    validate=[validate.Length(1, 320), validate.Regexp(PLAIN_TEXT)],
                    metadata={"description": "Part of the advocate's email address, or their exact user id."},
                ),
            },
            name="AdvocateListArgs",
        ),
        "referrals": _Args.from_dict(
            {
                **page,
                "advocate_id": _advocate_field(),
                "state": _state_field(REFERRAL_STATES, "referrals"),
                "campaign": fields.String(
                    validate=validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"),
                    metadata={"description": "Only referrals through links of this campaign."},
                ),
                **_period_fields("created (the friend signed up)"),
            },
            name="ReferralListArgs",
        ),
        "conversions": _Args.from_dict(
            {
                **page,
                "advocate_id": _advocate_field(),
                "currency": _currency_field(),
                "attributed": fields.Boolean(
                    metadata={"description": "`true`: only payments of referred friends; `false`: only the others."}
                ),
                "reward_outcome": fields.String(
                    validate=validate.OneOf(list(REWARD_OUTCOMES)),
                    metadata={"description": "Only payments with this outcome."},
                ),
                **_period_fields("paid"),
            },
            name="ConversionListArgs",
        ),
        "rewards": _Args.from_dict(
            {
                **page,
                "advocate_id": _advocate_field(),
                "state": _state_field(REWARD_STATES, "rewards"),
                "currency": _currency_field(),
                **_period_fields("earned"),
            },
            name="RewardListArgs",
        ),
        "ledger_entries": _Args.from_dict(
            {
                **page,
                "advocate_id": _advocate_field(),
                "account": fields.String(
                    validate=validate.OneOf([*ADVOCATE_ACCOUNT_KINDS, *PROGRAM_ACCOUNT_KINDS]),
                    metadata={"description": "Only entries on accounts of this kind."},
                ),
                "currency": _currency_field(),
                "reason": fields.String(
                    validate=validate.Regexp(r"^[a-z_.]{1,64}$"),
                    metadata={"description": "Only entries of transactions with this reason (`reward.accrue`, `adjustment`)."},
                ),
                **_period_fields("posted"),
            },
            name="LedgerEntryListArgs",
        ),
        "testimonials": _Args.from_dict(
            {
                **page,
                "state": _state_field(TESTIMONIAL_STATES, "testimonials"),
                "kind": fields.String(validate=validate.OneOf(list(TESTIMONIAL_KINDS))),
                **_period_fields("submitted"),
            },
            name="TestimonialListArgs",
        ),
        # The public testimonials API checks its query string itself; this documents it.
        "public_testimonials": Schema.from_dict(
            {
                "page": fields.Integer(validate=validate.Range(1, MAX_PAGE)),
                "per_page": fields.Integer(validate=validate.Range(1, max_per_page)),
                "product": fields.String(metadata={"description": "A product key of the host's catalogue."}),
                "rating": fields.Integer(validate=validate.Range(1, 5)),
                "kind": fields.String(validate=validate.OneOf(list(TESTIMONIAL_KINDS))),
            },
            name="PublicTestimonialArgs",
        ),
    }


def check_period(data: dict) -> dict:
    """The loaded arguments with ``start``/``end`` in UTC.

    :raises ValidationError: for a time that has no UTC equivalent (year 1 with a positive offset).
    """
    for name in ("start", "end"):
        if data.get(name) is not None:
            try:
                data[name] = data[name].astimezone(timezone.utc)
            except (OverflowError, ValueError):
                raise ValidationError({name: ["This time is out of range."]}) from None
    return data


# -- answers ---------------------------------------------------------------------------------------


class Error(Schema):
    class Detail(Schema):
        code = fields.String(required=True, metadata={"example": "invalid_token"})
        message = fields.String(required=True)
        fields_ = fields.Dict(
            data_key="fields", keys=fields.String(), values=fields.List(fields.String()),
            metadata={"description": "For `bad_request`: what is wrong with each query parameter."},
        )

    error = fields.Nested(Detail, required=True)


def _time(description: str = "", nullable: bool = False):
    return fields.DateTime(required=True, allow_none=nullable, metadata={"description": description} if description else {})


def _nullable(field_class, **kwargs):
    return field_class(required=True, allow_none=True, **kwargs)


class Money(Schema):
    amount_minor = fields.Integer(required=True, metadata={"description": "Integer in the currency's minor unit (cents)."})
    currency = fields.String(required=True, metadata={"example": "USD"})


class Balances(Schema):
    pending = fields.List(fields.Nested(Money), required=True)
    available = fields.List(fields.Nested(Money), required=True)
    reserved = fields.List(fields.Nested(Money), required=True)
    redeemed = fields.List(fields.Nested(Money), required=True)


class Advocate(Schema):
    id = fields.Integer(required=True)
    user_id = fields.String(required=True, metadata={"description": "The host's own user id."})
    email = _nullable(fields.String)
    created_at = _time()
    clicks = fields.Integer(required=True)
    signups = fields.Integer(required=True)
    flagged_signups = fields.Integer(required=True)
    paying_friends = fields.Integer(required=True)
    balances = fields.Nested(Balances, required=True)


class Referral(Schema):
    id = fields.Integer(required=True)
    advocate_id = fields.Integer(required=True)
    friend_user_id = fields.String(required=True, metadata={"description": "The host's own user id of the friend."})
    campaign = _nullable(fields.String)
    state = fields.String(required=True, validate=validate.OneOf(list(REFERRAL_STATES)))
    flag_reason = _nullable(fields.String)
    clicked_at = _time(nullable=True)
    created_at = _time("When the friend signed up.")
    first_paid_at = _time(nullable=True)


class StripeIds(Schema):
    checkout_session_id = _nullable(fields.String)
    payment_intent_id = _nullable(fields.String)
    charge_id = _nullable(fields.String)
    invoice_id = _nullable(fields.String)
    subscription_id = _nullable(fields.String)
    customer_id = _nullable(fields.String)


class Conversion(Schema):
    id = fields.Integer(required=True)
    payment_key = fields.String(required=True, metadata={"description": "The payment's Stripe identity."})
    kind = fields.String(required=True, metadata={"description": "`payment` or `invoice`."})
    amount_minor = _nullable(fields.Integer)
    refunded_minor = fields.Integer(required=True)
    net_minor = fields.Integer(required=True)
    currency = _nullable(fields.String)
    dispute_state = _nullable(fields.String)
    advocate_id = _nullable(fields.Integer)
    referral_id = _nullable(fields.Integer)
    customer_user_id = _nullable(fields.String)
    campaign = _nullable(fields.String)
    reward_outcome = _nullable(fields.String)
    paid_at = _time(nullable=True)
    created_at = _time()
    stripe = fields.Nested(StripeIds, required=True)


class Reward(Schema):
    id = fields.Integer(required=True)
    advocate_id = fields.Integer(required=True)
    conversion_id = fields.Integer(required=True)
    referral_id = _nullable(fields.Integer)
    state = fields.String(required=True, validate=validate.OneOf(list(REWARD_STATES)))
    amount_minor = fields.Integer(required=True)
    pending_minor = fields.Integer(required=True)
    available_minor = fields.Integer(required=True)
    currency = fields.String(required=True)
    earned_month = fields.String(required=True, metadata={"example": "2026-12"})
    rule = fields.Dict(required=True, metadata={"description": "The reward rule as it was applied."})
    hold_until = _time()
    released_at = _time(nullable=True)
    created_at = _time()


class Account(Schema):
    owner = fields.String(required=True, validate=validate.OneOf(["advocate", "program"]))
    advocate_id = _nullable(fields.Integer)
    kind = fields.String(required=True, validate=validate.OneOf([*ADVOCATE_ACCOUNT_KINDS, *PROGRAM_ACCOUNT_KINDS]))


class LedgerEntry(Schema):
    id = fields.Integer(required=True)
    transaction_id = fields.Integer(required=True)
    account = fields.Nested(Account, required=True)
    amount_minor = fields.Integer(required=True, metadata={"description": "Signed; positive on an advocate's account is owed to them."})
    currency = fields.String(required=True)
    reason = fields.String(required=True)
    memo = _nullable(fields.String)
    conversion_id = _nullable(fields.Integer)
    reward_id = _nullable(fields.Integer)
    redemption_id = _nullable(fields.Integer)
    created_at = _time()


class Submission(Schema):
    """A testimonial or review in any state, as staff see it."""

    id = fields.Integer(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(list(TESTIMONIAL_KINDS)))
    state = fields.String(required=True, validate=validate.OneOf(list(TESTIMONIAL_STATES)))
    rating = fields.Integer(required=True)
    title = _nullable(fields.String)
    body = fields.String(required=True)
    display_name = fields.String(required=True)
    role = _nullable(fields.String)
    author_user_id = fields.String(required=True)
    author_email = _nullable(fields.String)
    product_key = _nullable(fields.String)
    consent = fields.String(required=True)
    featured = fields.Boolean(required=True)
    verified_customer = fields.Boolean(required=True)
    incentivised = fields.Boolean(required=True)
    submitted_at = _time()
    moderated_at = _time(nullable=True)
    published_at = _time(nullable=True)
    withdrawn_at = _time(nullable=True)


def list_schema(item: type[Schema], name: str) -> type[Schema]:
    """The page envelope around ``item``."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item), required=True),
            "page": fields.Integer(required=True),
            "per_page": fields.Integer(required=True),
            "total": fields.Integer(required=True),
            "pages": fields.Integer(required=True),
            "has_more": fields.Boolean(required=True, metadata={"description": "Whether a next page has items."}),
        },
        name=name,
    )


# -- the public testimonials API -------------------------------------------------------------------


class PublicTestimonial(Schema):
    class Product(Schema):
        key = fields.String(required=True)
        name = fields.String(required=True)

    class Labels(Schema):
        verified_customer = fields.Boolean(required=True)
        incentivised = fields.Boolean(required=True)
        incentive_disclosure = _nullable(fields.String)
        collected_via_survey = fields.Boolean(required=True)

    class Highlight(Schema):
        start = fields.Integer(required=True)
        end = fields.Integer(required=True)
        text = fields.String(required=True)

    id = fields.Integer(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(list(TESTIMONIAL_KINDS)))
    rating = fields.Integer(required=True)
    title = _nullable(fields.String)
    body = fields.String(required=True)
    display_name = fields.String(required=True)
    role = _nullable(fields.String)
    anonymous = fields.Boolean(required=True)
    product = fields.Nested(Product, required=True, allow_none=True)
    labels = fields.Nested(Labels, required=True)
    featured = fields.Boolean(required=True)
    published_at = _time(nullable=True)
    photo_url = _nullable(fields.String)
    referral_url = _nullable(fields.String)
    highlight = fields.Nested(Highlight, required=True, allow_none=True)


class RatingSummary(Schema):
    average = fields.Float(required=True)
    count = fields.Integer(required=True)
    average_text = fields.String(required=True, metadata={
        "description": "The average as the wall writes it, in ADVOCACY_LOCALE (`4.7`; German `4,7`)."})
    count_text = fields.String(required=True, metadata={"description": "The count in ADVOCACY_LOCALE."})
    counted = fields.String(required=True, metadata={
        "description": "What was counted: `reviews`, `testimonials`, or `ratings` when both (singular for one)."})
    text = fields.String(required=True, metadata={
        "description": "The wall's own words: `4.7 out of 5 from 3 ratings`."})


class ProductRating(RatingSummary):
    key = fields.String(required=True)
    name = fields.String(required=True)


class Ratings(Schema):
    overall = fields.Nested(RatingSummary, required=True, allow_none=True)
    products = fields.List(fields.Nested(ProductRating), required=True)


class PublicTestimonialList(Schema):
    items = fields.List(fields.Nested(PublicTestimonial), required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True)
    pages = fields.Integer(required=True)
    ratings = fields.Nested(Ratings, required=True)
