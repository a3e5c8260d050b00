"""The OpenAPI 3.1 document of ``<prefix>/api``, made with apispec from the marshmallow schemas, in
the blueprint's scope only (nothing is added to the host's app, its routes or its error pages).

Built once per app and URL prefix, from the routes the app really has, so it follows
``ADVOCACY_URL_PREFIX`` and ``ADVOCACY_API_MAX_PAGE_SIZE``.
"""

from __future__ import annotations

import copy

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app

from advocacy_portal import __version__
from advocacy_portal.blueprints.api import schemas
from advocacy_portal.blueprints.api.views import OPERATIONS
from advocacy_portal.blueprints.api.views import arg_schemas
from advocacy_portal.config import config_value
from advocacy_portal.proxies import get_portal
from advocacy_portal.services.api_keys import SCOPES

SECURITY_SCHEME = "ApiKey"
_PUBLIC_TESTIMONIALS = "advocacy_testimonials_api.testimonials"

_DESCRIPTION = """\
Read the referral program from your own back office.

**Authentication.** Every endpoint except `GET /testimonials` and this document needs an API key,
made by staff on the plugin's page *Admin → API keys*, sent as `Authorization: Bearer adv_live_...`.
A missing, malformed, unknown or revoked key gets `401` with `WWW-Authenticate: Bearer`; a key
without the endpoint's scope gets `403` (`insufficient_scope`).

**Conventions.** Money is an integer of minor units (`amount_minor`, cents for USD) with an upper-case
ISO 4217 `currency`. Times are ISO 8601 in UTC (`2026-12-02T13:45:00Z`). Ids are stable integers.
Lists are pages: `page` (from 1) and `per_page`; the answer says `total`, `pages` and `has_more`.
Unknown query parameters are refused (`400`), so a misspelt filter never silently returns everything.
Errors are `{"error": {"code": ..., "message": ...}}`. Requests are rate-limited per key (`429`
with `Retry-After`).
"""


def api_root() -> str:
    """Where the API is mounted: ``<ADVOCACY_URL_PREFIX>/api``."""
    return config_value("URL_PREFIX").rstrip("/") + "/api"


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": "Error"}}}


def _path_of(endpoint: str) -> str:
    root = api_root()
    for rule in current_app.url_map.iter_rules(endpoint):
        if rule.rule.startswith(root):
            return rule.rule[len(root):]
    raise LookupError(f"no route for {endpoint} under {root}")


def build_document() -> dict:
    """The OpenAPI document as a dict."""
    spec = APISpec(
        title=f"{config_value('PROGRAM_NAME')} API",
        version=__version__,
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
        info={"description": _DESCRIPTION},
        servers=[{"url": api_root(), "description": "This site"}],
    )
    spec.components.schema("Error", schema=schemas.Error)
    scope_list = "\n".join(f"- `{name}`: {text}" for name, text in SCOPES.items())
    spec.components.security_scheme(
        SECURITY_SCHEME,
        {
            "type": "http",
            "scheme": "bearer",
            "description": f"An API key from the staff page, with scopes:\n\n{scope_list}",
        },
    )
    spec.components.response("BadRequest", _error("A query parameter is unknown or not valid."))
    spec.components.response("Unauthorized", _error("No API key, or one that is malformed, unknown or revoked."))
    spec.components.response("Forbidden", _error("The API key lacks this endpoint's scope."))
    spec.components.response("TooManyRequests", _error("Too many requests with this key; retry after `Retry-After` seconds."))

    args = arg_schemas()
    spec.path(
        path=_path_of(_PUBLIC_TESTIMONIALS),
        operations={
            "get": {
                "operationId": "listPublishedTestimonials",
                "summary": "List published testimonials",
                "description": (
                    "Approved testimonials and reviews whose authors consented to publication, featured "
                    "first, then newest. Public: no key needed. Anonymous authors' name, role and photo "
                    "are left out. Answers carry an `ETag`."
                ),
                "tags": ["Public"],
                "security": [],
                "parameters": [{"in": "query", "schema": args["public_testimonials"]}],
                "responses": {
                    "200": {
                        "description": "A page of published testimonials with rating summaries.",
                        "content": {"application/json": {"schema": schemas.PublicTestimonialList}},
                    },
                    "400": _error("A query parameter is not valid (or an unknown product)."),
                    "429": {"$ref": "#/components/responses/TooManyRequests"},
                },
            }
        },
    )
    for op in OPERATIONS:
        envelope = schemas.list_schema(op.item, f"{op.item.__name__}List")
        spec.path(
            path=_path_of(op.endpoint),
            operations={
                "get": {
                    "operationId": op.endpoint.rsplit(".", 1)[1],
                    "summary": op.summary,
                    "description": f"{op.description}\n\nScope: `{op.scope}`.",
                    "tags": ["Back office"],
                    "security": [{SECURITY_SCHEME: [op.scope]}],
                    "x-scope": op.scope,
                    "parameters": [{"in": "query", "schema": args[op.args]}],
                    "responses": {
                        "200": {
                            "description": "One page of the list.",
                            "content": {"application/json": {"schema": envelope}},
                        },
                        "400": {"$ref": "#/components/responses/BadRequest"},
                        "401": {"$ref": "#/components/responses/Unauthorized"},
                        "403": {"$ref": "#/components/responses/Forbidden"},
                        "429": {"$ref": "#/components/responses/TooManyRequests"},
                    },
                }
            },
        )
    return spec.to_dict()


def openapi_document() -> dict:
    """The document for the current app, made once per URL prefix and page size (a deep copy each call,
    so no caller can change the cached one)."""
    cache = get_portal().state().cache
    key = (config_value("URL_PREFIX"), config_value("API_MAX_PAGE_SIZE"), config_value("PROGRAM_NAME"))
    if cache.get("openapi_document", (None,))[0] != key:
        cache["openapi_document"] = (key, build_document())
    return copy.deepcopy(cache["openapi_document"][1])
