"""The back-office API's endpoints: lists of advocates, referrals, payments, rewards, ledger entries and
testimonials in every state, and the OpenAPI document of the whole API."""

from __future__ import annotations

from dataclasses import dataclass

from flask import jsonify
from flask import request
from marshmallow import ValidationError

from advocacy_portal.blueprints.api import bp
from advocacy_portal.blueprints.api import schemas
from advocacy_portal.blueprints.api.auth import requires_scope
from advocacy_portal.blueprints.common import limit_request_size
from advocacy_portal.blueprints.common import read_only_json
from advocacy_portal.config import config_value
from advocacy_portal.proxies import get_portal
from advocacy_portal.services import api_presenters
from advocacy_portal.services import api_queries


@dataclass(frozen=True)
class Operation:
    """What the OpenAPI document says of one endpoint."""

    endpoint: str
    scope: str
    args: str
    item: type
    summary: str
    description: str


#: The back-office operations, in the order the OpenAPI document lists them.
OPERATIONS: list[Operation] = []

PATHS = ["/advocates", "/referrals", "/conversions", "/rewards", "/ledger-entries",
         "/testimonials/submissions", "/openapi.json"]

bp.url_value_preprocessor(limit_request_size)
read_only_json(
    bp,
    PATHS,
    {
        400: "The request could not be read.",
        404: "There is no such record.",
        405: "This API is read-only: use GET.",
        413: "The request body is too large.",
    },
    catch_all=False,  # unknown paths under <prefix>/api are answered by the testimonials API
)


class BadArguments(Exception):
    """A query string the endpoint's schema refused; ``messages`` per parameter."""

    def __init__(self, messages: dict):
        self.messages = messages


@bp.errorhandler(BadArguments)
def _bad_arguments(error: BadArguments):
    fields = {
        str(name): [str(message) for message in (messages if isinstance(messages, list) else [messages])]
        for name, messages in error.messages.items()
    }
    response = jsonify({"error": {
        "code": "bad_request",
        "message": "Some query parameters are not valid: see error.fields.",
        "fields": fields,
    }})
    response.status_code = 400
    response.headers["Cache-Control"] = "no-store"
    return response


def arg_schemas() -> dict:
    """The query-string schemas for this app's ``ADVOCACY_API_MAX_PAGE_SIZE`` (made once per value)."""
    cache = get_portal().state().cache
    largest = config_value("API_MAX_PAGE_SIZE")
    if cache.get("api_arg_schemas", (None,))[0] != largest:
        cache["api_arg_schemas"] = (largest, schemas.args_schemas(largest))
    return cache["api_arg_schemas"][1]


def read_args(name: str) -> dict:
    """The query string, checked by the endpoint's schema.

    :raises BadArguments: on any unknown or invalid parameter.
    """
    try:
        data = arg_schemas()[name]().load(request.args.to_dict())
        data = schemas.check_period(data)
    except ValidationError as error:
        raise BadArguments(error.normalized_messages()) from None
    if data.get("start") and data.get("end") and data["start"] >= data["end"]:
        raise BadArguments({"end": ["'end' must be after 'start'."]})
    if data.get("per_page") is None:
        data["per_page"] = min(config_value("API_PAGE_SIZE"), config_value("API_MAX_PAGE_SIZE"))
    return data


def _private_json(body: dict):
    response = jsonify(body)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def operation(args: str, item: type, summary: str):
    """Register a view (wrapped by ``requires_scope``) in the OpenAPI document; its docstring is the
    description, ``args`` names its query-string schema and ``item`` the schema of a list item."""

    def decorate(view):
        OPERATIONS.append(
            Operation(f"{bp.name}.{view.__name__}", view.advocacy_scope, args, item, summary,
                      (view.__doc__ or "").strip())
        )
        return view

    return decorate


@bp.get("/advocates")
@operation("advocates", schemas.Advocate, "List advocates")
@requires_scope("advocates:read")
def advocates():
    """Advocates, newest first, with their clicks, signups, paying friends and balances."""
    args = read_args("advocates")
    page = api_queries.advocates(args.get("search"), args["page"], args["per_page"])
    balances = api_queries.balances_of([row.advocate.id for row in page.items])
    items = [api_presenters.advocate(row, balances[row.advocate.id]) for row in page.items]
    return _private_json(api_presenters.page_of(page, items))


@bp.get("/referrals")
@operation("referrals", schemas.Referral, "List referrals")
@requires_scope("referrals:read")
def referrals():
    """Friends who signed up through an advocate's link, newest first, refused (flagged) ones included."""
    args = read_args("referrals")
    page = api_queries.referrals(args, args["page"], args["per_page"])
    return _private_json(api_presenters.page_of(page, [api_presenters.referral(r) for r in page.items]))


@bp.get("/conversions")
@operation("conversions", schemas.Conversion, "List payments")
@requires_scope("conversions:read")
def conversions():
    """Payments seen through Stripe (conversions), attributed to a referral or not, newest first."""
    args = read_args("conversions")
    filters = {
        "advocate_id": args.get("advocate_id"),
        "currency": args.get("currency"),
        "attributed": args.get("attributed"),
        "outcome": args.get("reward_outcome"),
        "start": args.get("start"),
        "end": args.get("end"),
    }
    page = api_queries.conversions(filters, args["page"], args["per_page"])
    return _private_json(api_presenters.page_of(page, [api_presenters.conversion(c) for c in page.items]))


@bp.get("/rewards")
@operation("rewards", schemas.Reward, "List rewards")
@requires_scope("rewards:read")
def rewards():
    """What friends' payments earned their advocates, newest first, with the rule applied."""
    args = read_args("rewards")
    page = api_queries.rewards(args, args["page"], args["per_page"])
    return _private_json(api_presenters.page_of(page, [api_presenters.reward(r) for r in page.items]))


@bp.get("/ledger-entries")
@operation("ledger_entries", schemas.LedgerEntry, "List ledger entries")
@requires_scope("ledger:read")
def ledger_entries():
    """Entries of the double-entry rewards ledger (advocates' and the program's accounts), newest first.
    The entries of one transaction sum to zero per currency."""
    args = read_args("ledger_entries")
    page = api_queries.ledger_entries(args, args["page"], args["per_page"])
    return _private_json(api_presenters.page_of(page, [api_presenters.ledger_entry(e) for e in page.items]))


@bp.get("/testimonials/submissions")
@operation("testimonials", schemas.Submission, "List testimonials in every state")
@requires_scope("testimonials:read")
def testimonial_submissions():
    """Testimonials and reviews in every state (pending, approved, rejected, unpublished, withdrawn),
    with their authors, newest first. The published ones alone are public at ``/testimonials``."""
    args = read_args("testimonials")
    page = api_queries.testimonials(args, args["page"], args["per_page"])
    return _private_json(api_presenters.page_of(page, [api_presenters.submission(t) for t in page.items]))


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 document of the testimonials and back-office API."""
    from advocacy_portal.blueprints.api.spec import openapi_document

    response = jsonify(openapi_document())
    response.headers["Cache-Control"] = "public, max-age=300"
    response.add_etag()
    return response.make_conditional(request)
