"""A local, stateful, Stripe-compatible API server for tests, the demo and benchmarks.

The real ``stripe`` SDK talks to it over HTTP on 127.0.0.1, so tests exercise the SDK's encoding, error mapping,
idempotency keys and timeouts exactly as production does, without the internet. It implements only the
endpoints the plugin uses (customers, customer balance transactions, coupons, promotion codes, Checkout
Sessions, and retrieval of objects a test seeds with :meth:`FakeStripe.put`), with Stripe's JSON shapes, error
shape and status codes, and Stripe's idempotency rules. Unknown parameters are refused as Stripe refuses them,
so a call the real API would reject fails here too.

Tests can make requests fail (:meth:`FakeStripe.fail_next`) or hang past the client's timeout
(:meth:`FakeStripe.hang_next`), and inspect every request received (:attr:`FakeStripe.requests`).
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
import secrets
import string
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from html import escape
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import urlsplit
from urllib.request import Request
from urllib.request import urlopen

import stripe

from advocacy_portal.testing import stripe_events
from advocacy_portal.testing.ids import random_id

__all__ = ["FakeStripe", "StripeErrorResponse", "make_stripe_client", "random_id", "STRIPE_TEST_TIMEOUT"]

#: The API key the fixtures use; any ``sk_test_``/``rk_test_`` key is accepted.
DEFAULT_API_KEY = "sk_test_advocacy_fake_stripe"
#: The API version answered when a request sends no ``Stripe-Version`` header.
DEFAULT_API_VERSION = "2026-10-28.endive"

_API_KEY = re.compile(r"(sk|rk)_test_[A-Za-z0-9_]+")
_PROMOTION_CODE = re.compile(r"[A-Za-z0-9-]+")
_CURRENCY = re.compile(r"[a-z]{3}")
_ALPHANUMERIC = string.ascii_letters + string.digits


class StripeErrorResponse(Exception):
    """An error answered with Stripe's shape: ``{"error": {"type", "code", "message", "param"}}``.

    ``saved`` says whether the idempotency layer keeps this result: Stripe saves a result only once the endpoint
    began executing, not when the parameters failed validation.
    """

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None, saved: bool = True):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.saved = saved

    def body(self, request_id: str) -> dict:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        return {"error": error}


def _missing(param: str) -> StripeErrorResponse:
    return StripeErrorResponse(400, f"Missing required param: {param}.", code="parameter_missing", param=param,
                               saved=False)


def _invalid(param: str, message: str, code: str | None = None) -> StripeErrorResponse:
    return StripeErrorResponse(400, message, code=code, param=param, saved=False)


def _no_such(kind: str, object_id: str, *, param: str | None = None, status: int = 404) -> StripeErrorResponse:
    return StripeErrorResponse(status, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


def parse_params(pairs: list[tuple[str, str]]) -> dict:
    """Stripe's form encoding to nested data: ``metadata[k]=v``, ``a[0][b]=c``, ``expand[]=x``."""
    root: dict = {}
    for key, value in pairs:
        parts = re.findall(r"\[([^\[\]]*)\]", key)
        head = key.split("[", 1)[0]
        path = [head, *parts]
        node = root
        for depth, part in enumerate(path):
            if part == "":
                part = str(len(node))
            if depth == len(path) - 1:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _lists(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def _unknown_params(params: dict, allowed: set[str]) -> None:
    for name in params:
        if name not in allowed:
            raise StripeErrorResponse(400, f"Received unknown parameter: {name}", code="parameter_unknown",
                                      param=name, saved=False)


def _int(params: dict, name: str, *, required: bool = False, minimum: int | None = None) -> int | None:
    if name not in params or params[name] == "":
        if required:
            raise _missing(name)
        return None
    value = params[name]
    if not isinstance(value, str) or not re.fullmatch(r"-?\d+", value):
        raise _invalid(name, f"Invalid integer: {value}", code="parameter_invalid_integer")
    number = int(value)
    if minimum is not None and number < minimum:
        raise _invalid(name, f"This value must be greater than or equal to {minimum}.")
    return number


def _bool(params: dict, name: str, default: bool = False) -> bool:
    value = params.get(name)
    if value is None:
        return default
    if value not in ("true", "false"):
        raise _invalid(name, f"Invalid boolean: {value}")
    return value == "true"


def _string(params: dict, name: str, *, required: bool = False) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise _missing(name)
        return None
    if not isinstance(value, str):
        raise _invalid(name, f"Invalid string: {value!r}")
    return value


def _currency(params: dict, name: str = "currency", *, required: bool = False) -> str | None:
    value = _string(params, name, required=required)
    if value is not None and not _CURRENCY.fullmatch(value.lower()):
        raise _invalid(name, f"Invalid currency: {value}.")
    return value.lower() if value is not None else None


def _metadata(params: dict, existing: dict | None = None) -> dict:
    """Stripe's metadata rules: merge on update, ``""`` unsets a key, ``metadata=""`` unsets all."""
    metadata = dict(existing or {})
    value = params.get("metadata")
    if value is None:
        return metadata
    if value == "":
        return {}
    if not isinstance(value, dict):
        raise _invalid("metadata", "Invalid object")
    for key, item in value.items():
        if not isinstance(item, str):
            raise _invalid(f"metadata[{key}]", "Metadata values must be strings.")
        if len(key) > 40:
            raise _invalid(f"metadata[{key}]", "Metadata keys can have up to 40 characters.")
        if len(item) > 500:
            raise _invalid(f"metadata[{key}]", "Metadata values can have up to 500 characters.")
        if item == "":
            metadata.pop(key, None)
        else:
            metadata[key] = item
    if len(metadata) > 50:
        raise _invalid("metadata", "Metadata can have up to 50 keys.")
    return metadata


@dataclass
class RecordedRequest:
    """One request the server received. ``headers`` has lower-cased names."""

    method: str
    path: str
    params: dict
    headers: dict[str, str]
    api_key: str | None
    idempotency_key: str | None
    stripe_version: str | None
    replayed: bool = False
    status: int | None = None
    fault: str | None = None


@dataclass
class _Fault:
    kind: str  # "fail" or "hang"
    method: str
    path_pattern: str
    times: int
    status: int = 500
    error_type: str = "api_error"
    code: str | None = None
    message: str = "An unknown error occurred"
    seconds: float = 0.0
    apply: bool = False

    def matches(self, method: str, path: str) -> bool:
        return self.method == method and fnmatch.fnmatchcase(path, self.path_pattern)


@dataclass
class _SavedResult:
    method: str
    path: str
    params: dict
    status: int
    body: bytes
    request_id: str


@dataclass
class _Response:
    status: int
    body: bytes
    request_id: str
    replayed: bool = False
    hang_seconds: float = 0.0


# The collection path of each object type a test may seed with FakeStripe.put().
_SEEDABLE = {
    "charge": "charges",
    "dispute": "disputes",
    "invoice": "invoices",
    "invoice_payment": "invoice_payments",
    "payment_intent": "payment_intents",
    "price": "prices",
    "product": "products",
    "refund": "refunds",
    "subscription": "subscriptions",
}


class FakeStripe:
    """A Stripe-compatible API on ``127.0.0.1`` and an ephemeral port; use it as a context manager.

    :param api_version: the ``Stripe-Version`` answered when a request names none.
    """

    def __init__(self, api_version: str = DEFAULT_API_VERSION):
        self.api_key = DEFAULT_API_KEY
        self.api_version = api_version
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._objects: dict[str, dict] = {}
        self._credit_balances: dict[str, dict[str, int]] = {}
        self._idempotent: dict[tuple[str, str], _SavedResult] = {}
        self._faults: list[_Fault] = []
        self._requests: list[RecordedRequest] = []
        self._webhook_endpoints: list[tuple[str, str]] = []
        #: Customers who completed a paid Checkout: ``first_time_transaction`` codes refuse them.
        self._paying_customers: set[str] = set()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> FakeStripe:
        """Listen on an ephemeral port and serve in a background thread."""
        self._httpd = _Server(("127.0.0.1", 0), _Handler, self)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-stripe", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake hanging requests and join every thread."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
        self._httpd = None

    def __enter__(self) -> FakeStripe:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``: pass as ``base_addresses={"api": ...}`` or ``stripe.api_base``."""
        if self._httpd is None:
            raise RuntimeError("FakeStripe is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # -- test controls ------------------------------------------------------------------------------------------

    def fail_next(self, method: str, path_pattern: str, status: int = 500, times: int = 1,
                  error_type: str = "api_error", code: str | None = None,
                  message: str = "An unknown error occurred") -> None:
        """Answer the next ``times`` matching requests with an error, before anything is executed.

        ``path_pattern`` is a glob on the path (``/v1/customers/*/balance_transactions``). Nothing is applied and
        nothing is saved under the request's idempotency key, so a retry with the same key executes normally.
        """
        with self._lock:
            self._faults.append(_Fault("fail", method.upper(), path_pattern, times, status=status,
                                       error_type=error_type, code=code, message=message))

    def hang_next(self, method: str, path_pattern: str, seconds: float, apply: bool = False,
                  times: int = 1) -> None:
        """Make the next ``times`` matching requests answer only after ``seconds`` (longer than the client timeout).

        With ``apply=True`` the request takes effect (and its result is saved under its idempotency key) at once,
        and only the answer is late: the "it went through but we never heard back" case. With ``apply=False``
        nothing happens and the connection is closed without an answer.
        """
        with self._lock:
            self._faults.append(_Fault("hang", method.upper(), path_pattern, times, seconds=seconds, apply=apply))

    def forget_idempotency_keys(self) -> None:
        """Drop every saved idempotent result, as Stripe does after 24 hours: a retry with an old key then
        executes again, so only the request's own content (a fixed coupon id, a fixed code) stops a double."""
        with self._lock:
            self._idempotent.clear()

    def add_webhook_endpoint(self, url: str, secret: str = stripe_events.WEBHOOK_SECRET) -> None:
        """Deliver the events this server raises itself (a Checkout paid on its hosted page,
        :meth:`complete_checkout`) to ``url``, signed with ``secret``, as Stripe's webhook endpoints do."""
        with self._lock:
            self._webhook_endpoints.append((url, secret))

    def complete_checkout(self, session_id: str, promotion_code: str | None = None) -> dict:
        """Pay an open Checkout Session as its hosted page does: apply ``promotion_code`` (the code the
        customer types; only with ``allow_promotion_codes``), count the discount's redemption, mark the
        session ``complete``/``paid`` with a new PaymentIntent (``mode="payment"``), and deliver
        ``checkout.session.completed`` to every webhook endpoint.

        :returns: the event.
        :raises StripeErrorResponse: when the session is not open or the code is refused (its ``message``
            is what the hosted page shows).
        """
        with self._lock:
            session = self._find("checkout.session", session_id, "checkout.session")
            if session["status"] != "open":
                raise StripeErrorResponse(400, "This Checkout Session is no longer active.",
                                          code="checkout_session_inactive")
            if promotion_code:
                if not session["allow_promotion_codes"]:
                    raise _invalid("promotion_code", "This Checkout Session does not accept promotion codes.")
                promo = self._promotion_code_by_text(promotion_code, session["customer"])
                self._apply_discount(session, {"promotion_code": promo["id"]}, "promotion_code")
            for discount in session["discounts"]:
                # Checked again at payment: another session may have used a single-use code meanwhile.
                self._check_discount(discount, session["customer"], session["currency"], session["amount_subtotal"],
                                     "discounts")
            for discount in session["discounts"]:
                coupon = self._objects[discount["coupon"]]
                coupon["times_redeemed"] += 1
                if coupon["max_redemptions"] and coupon["times_redeemed"] >= coupon["max_redemptions"]:
                    coupon["valid"] = False
                if discount.get("promotion_code"):
                    promo = self._objects[discount["promotion_code"]]
                    promo["times_redeemed"] += 1
                    if promo["max_redemptions"] and promo["times_redeemed"] >= promo["max_redemptions"]:
                        promo["active"] = False
            session["status"] = "complete"
            session["payment_status"] = "paid"
            if session["mode"] == "payment":
                payment_intent = random_id("pi_")
                charge = random_id("ch_")
                self._store({
                    "id": payment_intent, "object": "payment_intent", "amount": session["amount_total"],
                    "amount_received": session["amount_total"], "currency": session["currency"],
                    "customer": session["customer"], "latest_charge": charge, "livemode": False,
                    "metadata": dict(session.pop("_payment_intent_metadata", {})), "status": "succeeded",
                    "created": int(time.time()),
                })
                session["payment_intent"] = payment_intent
            if session["customer"]:
                self._paying_customers.add(session["customer"])
            email = session["customer_email"]
            if email is None and session["customer"]:
                email = self._objects[session["customer"]]["email"]
            session["customer_details"] = {"address": None, "email": email, "name": None, "phone": None,
                                           "tax_exempt": "none", "tax_ids": []}
            event = stripe_events.event("checkout.session.completed", copy.deepcopy(session))
            endpoints = list(self._webhook_endpoints)
        for url, secret in endpoints:
            body, headers = stripe_events.signed_request(event, secret)
            with urlopen(Request(url, data=body, headers=headers, method="POST"), timeout=10) as answer:
                answer.read()
        return event

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path_pattern: str, method: str | None = None) -> list[RecordedRequest]:
        """The requests whose path matches the glob ``path_pattern`` (and ``method``, when given)."""
        return [
            request for request in self.requests
            if fnmatch.fnmatchcase(request.path, path_pattern) and (method is None or request.method == method.upper())
        ]

    def put(self, obj: dict) -> dict:
        """Seed an object (an invoice, charge, payment intent... e.g. from :mod:`advocacy_portal.testing.stripe_events`) so the
        API can retrieve it: ``GET /v1/invoices/{id}``, ``GET /v1/invoice_payments?invoice=...``."""
        if obj.get("object") not in _SEEDABLE or not obj.get("id"):
            raise ValueError(f"cannot seed {obj.get('object')!r}: one of {sorted(_SEEDABLE)} with an id")
        with self._lock:
            self._objects[obj["id"]] = copy.deepcopy(obj)
        return obj

    def get(self, object_id: str) -> dict | None:
        """The stored object with this id, as the API would answer it (a copy), or ``None``."""
        with self._lock:
            obj = self._objects.get(object_id)
            return copy.deepcopy(obj) if obj is not None else None

    def objects(self, object_type: str) -> list[dict]:
        """Every stored object of a type (``"customer"``, ``"customer_balance_transaction"``...), oldest first."""
        with self._lock:
            return [copy.deepcopy(obj) for obj in self._objects.values() if obj.get("object") == object_type]

    # -- request handling (called by _Handler) --------------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _respond(self, recorded: RecordedRequest, api_key: str) -> _Response:
        request_id = random_id("req_", 14)
        if recorded.method == "POST" and recorded.idempotency_key:
            with self._lock:
                slot = (api_key, recorded.idempotency_key)
                saved = self._idempotent.get(slot)
                if saved is not None:
                    if (saved.method, saved.path, saved.params) != (recorded.method, recorded.path, recorded.params):
                        error = StripeErrorResponse(
                            400,
                            "Keys for idempotent requests can only be used with the same parameters they were first "
                            f"used with. Try using a key other than '{recorded.idempotency_key}' if you meant to "
                            "execute a different request.",
                            type="idempotency_error", saved=False)
                        return _Response(400, _json(error.body(request_id)), request_id)
                    return _Response(saved.status, saved.body, saved.request_id, replayed=True)
                status, body, keep = self._execute(recorded, request_id)
                if keep:
                    self._idempotent[slot] = _SavedResult(recorded.method, recorded.path, recorded.params, status,
                                                          body, request_id)
                return _Response(status, body, request_id)
        with self._lock:
            status, body, _ = self._execute(recorded, request_id)
        return _Response(status, body, request_id)

    def _execute(self, recorded: RecordedRequest, request_id: str) -> tuple[int, bytes, bool]:
        try:
            for method, pattern, handler in _ROUTES:
                match = pattern.fullmatch(recorded.path)
                if match and method == recorded.method:
                    result = handler(self, recorded.params, *match.groups())
                    result = {key: value for key, value in result.items() if not key.startswith("_")}
                    expand = recorded.params.get("expand") or []
                    if isinstance(expand, str):
                        expand = [expand]
                    return 200, _json(self._expand(result, expand)), True
            raise StripeErrorResponse(
                404, f"Unrecognized request URL ({recorded.method}: {recorded.path}). Please see "
                "https://stripe.com/docs or we can help at https://support.stripe.com/.", saved=False)
        except StripeErrorResponse as error:
            return error.status, _json(error.body(request_id)), error.saved

    def _expand(self, result: dict, paths: list[str]) -> dict:
        result = copy.deepcopy(result)
        for path in paths:
            self._expand_path(result, path.split("."))
        return result

    def _expand_path(self, node: Any, parts: list[str]) -> None:
        if isinstance(node, list):
            for item in node:
                self._expand_path(item, parts)
            return
        if not isinstance(node, dict) or parts[0] not in node:
            return
        value = node[parts[0]]
        if isinstance(value, str) and value in self._objects:
            value = node[parts[0]] = copy.deepcopy(self._objects[value])
        if len(parts) > 1:
            self._expand_path(value, parts[1:])

    # -- objects ------------------------------------------------------------------------------------------------------

    def _store(self, obj: dict) -> dict:
        self._objects[obj["id"]] = obj
        return obj

    def _find(self, object_type: str, object_id: str, kind: str, *, param: str | None = None,
              status: int = 404) -> dict:
        obj = self._objects.get(object_id)
        if obj is None or obj.get("object") != object_type:
            raise _no_such(kind, object_id, param=param, status=status)
        return obj

    def _list(self, url: str, items: list[dict], params: dict) -> dict:
        """A Stripe list object, newest first, with ``limit`` and ``starting_after``."""
        limit = _int(params, "limit", minimum=1) or 10
        if limit > 100:
            raise _invalid("limit", "This value must be less than or equal to 100.")
        items = list(reversed(items))
        starting_after = _string(params, "starting_after")
        if starting_after is not None:
            ids = [item["id"] for item in items]
            if starting_after not in ids:
                raise _no_such("object", starting_after, param="starting_after", status=400)
            items = items[ids.index(starting_after) + 1:]
        return {"object": "list", "data": items[:limit], "has_more": len(items) > limit, "url": url}

    def _of_type(self, object_type: str) -> list[dict]:
        return [obj for obj in self._objects.values() if obj.get("object") == object_type]

    # Customers

    def _create_customer(self, params: dict) -> dict:
        _unknown_params(params, {"email", "name", "description", "metadata", "phone", "preferred_locales", "expand"})
        customer = {
            "id": random_id("cus_", 14),
            "object": "customer",
            "address": None,
            "balance": 0,
            "created": int(time.time()),
            "currency": None,
            "default_source": None,
            "delinquent": False,
            "description": _string(params, "description"),
            "discount": None,
            "email": _string(params, "email"),
            "invoice_prefix": "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(8)),
            "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None,
                                 "rendering_options": None},
            "livemode": False,
            "metadata": _metadata(params),
            "name": _string(params, "name"),
            "next_invoice_sequence": 1,
            "phone": _string(params, "phone"),
            "preferred_locales": list(params.get("preferred_locales") or []),
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": None,
        }
        self._credit_balances[customer["id"]] = {}
        return self._store(customer)

    def _update_customer(self, params: dict, customer_id: str) -> dict:
        customer = self._find("customer", customer_id, "customer")
        _unknown_params(params, {"email", "name", "description", "metadata", "phone", "preferred_locales", "expand"})
        metadata = _metadata(params, customer["metadata"])
        for name in ("email", "name", "description", "phone"):
            if name in params:
                customer[name] = _string(params, name)
        if "preferred_locales" in params:
            customer["preferred_locales"] = list(params["preferred_locales"] or [])
        customer["metadata"] = metadata
        return customer

    def _retrieve_customer(self, params: dict, customer_id: str) -> dict:
        _unknown_params(params, {"expand"})
        return self._find("customer", customer_id, "customer")

    def _list_customers(self, params: dict) -> dict:
        _unknown_params(params, {"email", "limit", "starting_after", "created", "ending_before", "expand"})
        customers = self._of_type("customer")
        email = _string(params, "email")
        if email is not None:
            customers = [customer for customer in customers if customer["email"] == email]
        return self._list("/v1/customers", customers, params)

    # Customer balance transactions

    def _create_balance_transaction(self, params: dict, customer_id: str) -> dict:
        _unknown_params(params, {"amount", "currency", "description", "metadata", "expand"})
        amount = _int(params, "amount", required=True)
        currency = _currency(params, required=True)
        description = _string(params, "description")
        metadata = _metadata(params)
        customer = self._find("customer", customer_id, "customer")
        if customer["currency"] is None:
            customer["currency"] = currency
        balances = self._credit_balances[customer_id]
        balances[currency] = balances.get(currency, 0) + amount
        if currency == customer["currency"]:
            customer["balance"] = balances[currency]
        transaction = {
            "id": random_id("cbtxn_"),
            "object": "customer_balance_transaction",
            "amount": amount,
            "checkout_session": None,
            "created": int(time.time()),
            "credit_note": None,
            "currency": currency,
            "customer": customer_id,
            "customer_account": None,
            "description": description,
            "ending_balance": balances[currency],
            "invoice": None,
            "livemode": False,
            "metadata": metadata,
            "type": "adjustment",
        }
        return self._store(transaction)

    def _list_balance_transactions(self, params: dict, customer_id: str) -> dict:
        _unknown_params(params, {"limit", "starting_after", "ending_before", "created", "invoice", "expand"})
        self._find("customer", customer_id, "customer")
        transactions = [txn for txn in self._of_type("customer_balance_transaction") if txn["customer"] == customer_id]
        return self._list(f"/v1/customers/{customer_id}/balance_transactions", transactions, params)

    def _retrieve_balance_transaction(self, params: dict, customer_id: str, transaction_id: str) -> dict:
        _unknown_params(params, {"expand"})
        self._find("customer", customer_id, "customer")
        transaction = self._find("customer_balance_transaction", transaction_id, "customer balance transaction")
        if transaction["customer"] != customer_id:
            raise _no_such("customer balance transaction", transaction_id)
        return transaction

    # Coupons

    def _create_coupon(self, params: dict) -> dict:
        _unknown_params(params, {"id", "amount_off", "currency", "percent_off", "duration", "duration_in_months",
                                 "max_redemptions", "metadata", "name", "redeem_by", "expand"})
        amount_off = _int(params, "amount_off", minimum=1)
        percent_off = params.get("percent_off")
        if (amount_off is None) == (percent_off is None):
            raise _invalid("amount_off", "You must pass exactly one of `amount_off` or `percent_off`.")
        currency = _currency(params, required=amount_off is not None)
        if percent_off is not None:
            try:
                percent_off = float(percent_off)
            except ValueError:
                raise _invalid("percent_off", f"Invalid decimal: {params['percent_off']}") from None
            if not 0 < percent_off <= 100:
                raise _invalid("percent_off", "percent_off must be greater than 0 and at most 100.")
        duration = _string(params, "duration") or "once"
        if duration not in ("once", "repeating", "forever"):
            raise _invalid("duration", "Invalid duration: must be one of once, repeating, or forever")
        duration_in_months = _int(params, "duration_in_months", required=duration == "repeating", minimum=1)
        if duration != "repeating" and duration_in_months is not None:
            raise _invalid("duration_in_months", "duration_in_months is only valid with duration=repeating.")
        coupon_id = _string(params, "id") or random_id("", 8)
        if coupon_id in self._objects:
            raise StripeErrorResponse(400, "Coupon already exists.", code="resource_already_exists", param="id")
        coupon = {
            "id": coupon_id,
            "object": "coupon",
            "amount_off": amount_off,
            "created": int(time.time()),
            "currency": currency,
            "duration": duration,
            "duration_in_months": duration_in_months,
            "livemode": False,
            "max_redemptions": _int(params, "max_redemptions", minimum=1),
            "metadata": _metadata(params),
            "name": _string(params, "name"),
            "percent_off": percent_off,
            "redeem_by": _int(params, "redeem_by"),
            "times_redeemed": 0,
            "valid": True,
        }
        return self._store(coupon)

    def _retrieve_coupon(self, params: dict, coupon_id: str) -> dict:
        _unknown_params(params, {"expand"})
        return self._find("coupon", coupon_id, "coupon")

    def _list_coupons(self, params: dict) -> dict:
        _unknown_params(params, {"limit", "starting_after", "ending_before", "created", "expand"})
        return self._list("/v1/coupons", self._of_type("coupon"), params)

    # Promotion codes

    def _create_promotion_code(self, params: dict) -> dict:
        _unknown_params(params, {"promotion", "code", "active", "customer", "expires_at", "max_redemptions",
                                 "metadata", "restrictions", "expand"})
        promotion = params.get("promotion")
        if not isinstance(promotion, dict):
            raise _missing("promotion")
        _unknown_params({f"promotion[{key}]": value for key, value in promotion.items()},
                        {"promotion[type]", "promotion[coupon]"})
        if promotion.get("type") != "coupon":
            raise _invalid("promotion[type]", "Invalid promotion[type]: must be coupon")
        coupon_id = _string(promotion, "coupon")
        if coupon_id is None:
            raise _missing("promotion[coupon]")
        coupon = self._find("coupon", coupon_id, "coupon", param="promotion[coupon]", status=400)
        restrictions = params.get("restrictions") or {}
        if not isinstance(restrictions, dict):
            raise _invalid("restrictions", "Invalid object")
        _unknown_params({f"restrictions[{key}]": value for key, value in restrictions.items()},
                        {"restrictions[first_time_transaction]", "restrictions[minimum_amount]",
                         "restrictions[minimum_amount_currency]"})
        minimum_amount = _int(restrictions, "minimum_amount", minimum=1)
        minimum_amount_currency = _currency(restrictions, "minimum_amount_currency",
                                            required=minimum_amount is not None)
        code = _string(params, "code") or "".join(secrets.choice(_ALPHANUMERIC) for _ in range(8)).upper()
        if not _PROMOTION_CODE.fullmatch(code):
            raise _invalid("code", "Promotion codes may only contain letters, digits and dashes.")
        customer = _string(params, "customer")
        if customer is not None:
            self._find("customer", customer, "customer", param="customer", status=400)
        # Unique regardless of case among the active codes a customer could type.
        if any(other["code"].lower() == code.lower() and other["active"]
               and (other["customer"] is None or customer is None or other["customer"] == customer)
               for other in self._of_type("promotion_code")):
            raise StripeErrorResponse(400, f"An active promotion code with `code: {code}` already exists.",
                                      code="resource_already_exists", param="code")
        expires_at = _int(params, "expires_at")
        if expires_at is not None and coupon["redeem_by"] is not None and expires_at > coupon["redeem_by"]:
            raise _invalid("expires_at", "The promotion code's `expires_at` may not be after the coupon's "
                                         "`redeem_by`.")
        max_redemptions = _int(params, "max_redemptions", minimum=1)
        if max_redemptions and coupon["max_redemptions"] and max_redemptions > coupon["max_redemptions"]:
            raise _invalid("max_redemptions", "max_redemptions cannot exceed the coupon's max_redemptions.")
        promotion_code = {
            "id": random_id("promo_"),
            "object": "promotion_code",
            "active": _bool(params, "active", default=True),
            "code": code,
            "created": int(time.time()),
            "customer": customer,
            "customer_account": None,
            "expires_at": expires_at,
            "livemode": False,
            "max_redemptions": max_redemptions,
            "metadata": _metadata(params),
            "promotion": {"coupon": coupon_id, "type": "coupon"},
            "restrictions": {
                "currency_options": {},
                "first_time_transaction": _bool(restrictions, "first_time_transaction"),
                "minimum_amount": minimum_amount,
                "minimum_amount_currency": minimum_amount_currency,
            },
            "times_redeemed": 0,
        }
        return self._store(promotion_code)

    def _update_promotion_code(self, params: dict, promotion_code_id: str) -> dict:
        promotion_code = self._find("promotion_code", promotion_code_id, "promotion code")
        _unknown_params(params, {"active", "metadata", "expand"})
        promotion_code["metadata"] = _metadata(params, promotion_code["metadata"])
        promotion_code["active"] = _bool(params, "active", default=promotion_code["active"])
        return promotion_code

    def _retrieve_promotion_code(self, params: dict, promotion_code_id: str) -> dict:
        _unknown_params(params, {"expand"})
        return self._find("promotion_code", promotion_code_id, "promotion code")

    def _list_promotion_codes(self, params: dict) -> dict:
        _unknown_params(params, {"code", "active", "coupon", "customer", "limit", "starting_after", "ending_before",
                                 "created", "expand"})
        codes = self._of_type("promotion_code")
        if (code := _string(params, "code")) is not None:
            codes = [item for item in codes if item["code"].lower() == code.lower()]
        if "active" in params:
            active = _bool(params, "active")
            codes = [item for item in codes if item["active"] == active]
        if (coupon := _string(params, "coupon")) is not None:
            codes = [item for item in codes if item["promotion"]["coupon"] == coupon]
        if (customer := _string(params, "customer")) is not None:
            codes = [item for item in codes if item["customer"] == customer]
        return self._list("/v1/promotion_codes", codes, params)

    # Checkout Sessions

    def _create_checkout_session(self, params: dict) -> dict:
        _unknown_params(params, {
            "mode", "line_items", "client_reference_id", "customer", "customer_email", "customer_creation",
            "metadata", "payment_intent_data", "subscription_data", "success_url", "cancel_url", "return_url",
            "ui_mode", "allow_promotion_codes", "discounts", "payment_method_types", "locale", "expires_at",
            "invoice_creation", "currency", "expand",
        })
        mode = _string(params, "mode", required=True)
        if mode not in ("payment", "subscription", "setup"):
            raise _invalid("mode", "Invalid mode: must be one of payment, setup, or subscription")
        line_items = params.get("line_items") or []
        if mode != "setup" and not line_items:
            raise _missing("line_items")
        if not isinstance(line_items, list):
            raise _invalid("line_items", "Invalid array")
        amount_total: int | None = 0
        currency = _currency(params)
        for index, item in enumerate(line_items):
            quantity = _int(item, "quantity", minimum=1) or 1
            price_data = item.get("price_data")
            if isinstance(price_data, dict):
                unit_amount = _int(price_data, "unit_amount", required=True, minimum=0)
                currency = _currency(price_data, required=True)
                amount_total = None if amount_total is None else amount_total + unit_amount * quantity
            elif _string(item, "price") is not None:
                price = self._objects.get(item["price"])
                if price is not None and price.get("object") == "price" and amount_total is not None:
                    amount_total += int(price["unit_amount"]) * quantity
                    currency = price["currency"]
                else:
                    amount_total = None
            else:
                raise _missing(f"line_items[{index}][price]")
        if mode == "setup":
            amount_total = None
        customer = _string(params, "customer")
        customer_email = _string(params, "customer_email")
        if customer is not None and customer_email is not None:
            raise _invalid("customer_email", "You may only specify one of these parameters: customer, customer_email.")
        if customer is not None:
            self._find("customer", customer, "customer", param="customer", status=400)
        for name in ("payment_intent_data", "subscription_data"):
            if name in params:
                _metadata(params[name] if isinstance(params[name], dict) else {})
        if mode != "payment" and "payment_intent_data" in params:
            raise _invalid("payment_intent_data", "You can only specify `payment_intent_data` in `payment` mode.")
        if mode != "subscription" and "subscription_data" in params:
            raise _invalid("subscription_data", "You can only specify `subscription_data` in `subscription` mode.")
        discounts = params.get("discounts")
        if discounts is not None:
            if "allow_promotion_codes" in params:
                raise _invalid("discounts", "You may only specify one of these parameters: allow_promotion_codes, "
                                            "discounts.")
            if discounts == "":
                discounts = []
            if not isinstance(discounts, list):
                raise _invalid("discounts", "Invalid array")
            if len(discounts) > 1:
                raise _invalid("discounts", "You may only specify one discount: Checkout Sessions support up to "
                                            "one coupon or promotion code.")
        session_id = random_id("cs_test_", 58)
        created = int(time.time())
        session = {
            "id": session_id,
            "object": "checkout.session",
            "allow_promotion_codes": _bool(params, "allow_promotion_codes") if "allow_promotion_codes" in params
            else None,
            "amount_subtotal": amount_total,
            "amount_total": amount_total,
            "cancel_url": _string(params, "cancel_url"),
            "client_reference_id": _string(params, "client_reference_id"),
            "created": created,
            "currency": currency,
            "customer": customer,
            "customer_creation": _string(params, "customer_creation"),
            "customer_details": None,
            "customer_email": customer_email,
            "discounts": [],
            "expires_at": _int(params, "expires_at") or created + 24 * 3600,
            "invoice": None,
            "livemode": False,
            "metadata": _metadata(params),
            "mode": mode,
            "payment_intent": None,
            "payment_status": "no_payment_required" if mode == "setup" else "unpaid",
            "status": "open",
            "subscription": None,
            "success_url": _string(params, "success_url"),
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": _string(params, "ui_mode") or "hosted",
            "url": f"{self.base_url}/c/pay/{session_id}",
        }
        for index, discount in enumerate(discounts or []):
            if not isinstance(discount, dict):
                raise _invalid(f"discounts[{index}]", "Invalid object")
            _unknown_params({f"discounts[{index}][{key}]": value for key, value in discount.items()},
                            {f"discounts[{index}][coupon]", f"discounts[{index}][promotion_code]"})
            self._apply_discount(session, discount, f"discounts[{index}]")
        pi_data = params.get("payment_intent_data")
        if isinstance(pi_data, dict):
            session["_payment_intent_metadata"] = _metadata(pi_data)
        return self._store(session)

    def _promotion_code_by_text(self, code: str, customer: str | None) -> dict:
        """The promotion code a customer typed: matched regardless of case, this customer's own codes first."""
        matches = [item for item in self._of_type("promotion_code") if item["code"].lower() == code.strip().lower()]
        matches.sort(key=lambda item: (item["customer"] != customer, not item["active"]))
        if not matches:
            raise _invalid("promotion_code", "This code is invalid.", code="promotion_code_invalid")
        return matches[0]

    def _check_discount(self, discount: dict, customer: str | None, currency: str | None, subtotal: int | None,
                        param: str) -> dict:
        """The coupon a discount applies, once its promotion code passes every restriction Stripe checks."""
        now = int(time.time())
        expired = StripeErrorResponse(400, "This promotion code has expired.", code="coupon_expired", param=param,
                                      saved=False)
        promotion_code_id = _string(discount, "promotion_code")
        if promotion_code_id is not None:
            promo = self._find("promotion_code", promotion_code_id, "promotion code", param=param, status=400)
            if promo["expires_at"] is not None and promo["expires_at"] <= now:
                raise expired
            if promo["max_redemptions"] and promo["times_redeemed"] >= promo["max_redemptions"]:
                raise expired
            if not promo["active"]:
                raise _invalid(param, "This promotion code is not active.", code="promotion_code_inactive")
            if promo["customer"] is not None and promo["customer"] != customer:
                raise _invalid(param, "This promotion code cannot be redeemed by this customer.",
                               code="promotion_code_customer_mismatch")
            restrictions = promo["restrictions"]
            if restrictions["first_time_transaction"] and customer in self._paying_customers:
                raise _invalid(param, "This promotion code is only available for first-time customers.",
                               code="promotion_code_not_first_time")
            if restrictions["minimum_amount"] and (
                subtotal is None or subtotal < restrictions["minimum_amount"]
                or currency != restrictions["minimum_amount_currency"]
            ):
                raise _invalid(param, "This promotion code requires a larger order.",
                               code="promotion_code_minimum_amount")
            coupon_id = promo["promotion"]["coupon"]
        else:
            coupon_id = _string(discount, "coupon")
            if coupon_id is None:
                raise _missing(f"{param}[coupon]")
        coupon = self._find("coupon", coupon_id, "coupon", param=param, status=400)
        if not coupon["valid"] or (coupon["redeem_by"] is not None and coupon["redeem_by"] <= now):
            raise expired
        if coupon["amount_off"] is not None and currency is not None and coupon["currency"] != currency:
            raise _invalid(param, f"This coupon is in {coupon['currency'].upper()}, and cannot be applied to a "
                                  f"Checkout Session in {currency.upper()}.", code="coupon_currency_mismatch")
        return coupon

    def _apply_discount(self, session: dict, discount: dict, param: str) -> None:
        coupon = self._check_discount(discount, session["customer"], session["currency"], session["amount_subtotal"],
                                      param)
        subtotal = session["amount_subtotal"]
        if subtotal is not None:
            if coupon["amount_off"] is not None:
                off = min(coupon["amount_off"], subtotal)
            else:
                off = round(subtotal * coupon["percent_off"] / 100)
            session["total_details"]["amount_discount"] = off
            session["amount_total"] = subtotal - off
        session["discounts"] = [{"coupon": coupon["id"], "promotion_code": _string(discount, "promotion_code")}]

    def _retrieve_checkout_session(self, params: dict, session_id: str) -> dict:
        _unknown_params(params, {"expand"})
        return self._find("checkout.session", session_id, "checkout.session")

    # Seeded objects

    def _retrieve_seeded(self, params: dict, collection: str, object_id: str) -> dict:
        _unknown_params(params, {"expand"})
        object_type = next(name for name, path in _SEEDABLE.items() if path == collection)
        return self._find(object_type, object_id, object_type.replace("_", " "))

    def _list_invoice_payments(self, params: dict) -> dict:
        _unknown_params(params, {"invoice", "payment", "status", "limit", "starting_after", "ending_before",
                                 "created", "expand"})
        payments = self._of_type("invoice_payment")
        if (invoice := _string(params, "invoice")) is not None:
            payments = [item for item in payments if item["invoice"] == invoice]
        return self._list("/v1/invoice_payments", payments, params)


_ID = r"([^/]+)"
_ROUTES = [
    ("POST", re.compile(r"/v1/customers"), FakeStripe._create_customer),
    ("GET", re.compile(r"/v1/customers"), FakeStripe._list_customers),
    ("GET", re.compile(rf"/v1/customers/{_ID}"), FakeStripe._retrieve_customer),
    ("POST", re.compile(rf"/v1/customers/{_ID}"), FakeStripe._update_customer),
    ("POST", re.compile(rf"/v1/customers/{_ID}/balance_transactions"), FakeStripe._create_balance_transaction),
    ("GET", re.compile(rf"/v1/customers/{_ID}/balance_transactions"), FakeStripe._list_balance_transactions),
    ("GET", re.compile(rf"/v1/customers/{_ID}/balance_transactions/{_ID}"),
     FakeStripe._retrieve_balance_transaction),
    ("POST", re.compile(r"/v1/coupons"), FakeStripe._create_coupon),
    ("GET", re.compile(r"/v1/coupons"), FakeStripe._list_coupons),
    ("GET", re.compile(rf"/v1/coupons/{_ID}"), FakeStripe._retrieve_coupon),
    ("POST", re.compile(r"/v1/promotion_codes"), FakeStripe._create_promotion_code),
    ("GET", re.compile(r"/v1/promotion_codes"), FakeStripe._list_promotion_codes),
    ("GET", re.compile(rf"/v1/promotion_codes/{_ID}"), FakeStripe._retrieve_promotion_code),
    ("POST", re.compile(rf"/v1/promotion_codes/{_ID}"), FakeStripe._update_promotion_code),
    ("POST", re.compile(r"/v1/checkout/sessions"), FakeStripe._create_checkout_session),
    ("GET", re.compile(rf"/v1/checkout/sessions/{_ID}"), FakeStripe._retrieve_checkout_session),
    ("GET", re.compile(r"/v1/invoice_payments"), FakeStripe._list_invoice_payments),
    ("GET", re.compile(rf"/v1/({'|'.join(_SEEDABLE.values())})/{_ID}"), FakeStripe._retrieve_seeded),
]


def _json(data: dict) -> bytes:
    return json.dumps(data, indent=2).encode()


class _Server(ThreadingHTTPServer):
    # Join request threads on close so a test ends with no thread left behind.
    daemon_threads = False
    block_on_close = True

    def __init__(self, address, handler, fake: FakeStripe):
        self.fake = fake
        super().__init__(address, handler)

    def handle_error(self, request, client_address) -> None:
        # A client that timed out has closed its end; a late answer to it is expected to fail.
        pass


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so no idle keep-alive thread outlives a test.
    protocol_version = "HTTP/1.0"
    server: _Server

    def log_message(self, format, *args) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        fake = self.server.fake
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if url.path.startswith("/c/pay/") and self.command in ("GET", "POST"):
            form = dict(parse_qsl(body)) if self.command == "POST" else None
            self._checkout_page(url.path.rsplit("/", 1)[-1], form)
            return
        pairs = parse_qsl(url.query, keep_blank_values=True)
        if self.command == "POST":
            pairs += parse_qsl(body, keep_blank_values=True)
        headers = {name.lower(): value for name, value in self.headers.items()}
        api_key = _bearer(headers.get("authorization"))
        recorded = RecordedRequest(
            method=self.command,
            path=url.path,
            params=parse_params(pairs),
            headers=headers,
            api_key=api_key,
            idempotency_key=headers.get("idempotency-key"),
            stripe_version=headers.get("stripe-version"),
        )
        fake._record(recorded)
        request_id = random_id("req_", 14)
        auth_error = _authentication_error(headers.get("authorization"), api_key)
        if auth_error is not None:
            self._send(recorded, _Response(401, _json(auth_error.body(request_id)), request_id))
            return
        fault = fake._take_fault(self.command, url.path)
        if fault is not None and fault.kind == "fail":
            recorded.fault = "fail"
            error = StripeErrorResponse(fault.status, fault.message, type=fault.error_type, code=fault.code)
            self._send(recorded, _Response(fault.status, _json(error.body(request_id)), request_id))
            return
        if fault is not None and not fault.apply:
            recorded.fault = "hang"
            fake._wait(fault.seconds)
            self.close_connection = True
            return
        response = fake._respond(recorded, api_key)
        if fault is not None:
            recorded.fault = "hang"
            fake._wait(fault.seconds)
        self._send(recorded, response)

    def _send(self, recorded: RecordedRequest, response: _Response) -> None:
        recorded.status = response.status
        recorded.replayed = response.replayed
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Request-Id", response.request_id)
        self.send_header("Stripe-Version", recorded.stripe_version or self.server.fake.api_version)
        if recorded.idempotency_key:
            self.send_header("Idempotency-Key", recorded.idempotency_key)
        if response.replayed:
            self.send_header("Idempotent-Replayed", "true")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(response.body)

    def _checkout_page(self, session_id: str, form: dict | None) -> None:
        # The hosted page a Checkout Session's `url` points at, so a browser test never leaves 127.0.0.1:
        # the total, a promotion code box (with allow_promotion_codes) and a Pay button. Paying delivers
        # checkout.session.completed to the webhook endpoints, then sends the browser to success_url.
        fake = self.server.fake
        session = fake.get(session_id)
        if not session or session.get("object") != "checkout.session":
            self._html(404, "<h1>Checkout not found</h1><p>This payment page does not exist.</p>")
            return
        error = None
        if form is not None:
            try:
                fake.complete_checkout(session_id, form.get("promotion_code") or None)
            except StripeErrorResponse as refused:
                error = refused.message
            else:
                target = (session["success_url"] or "/").replace("{CHECKOUT_SESSION_ID}", session_id)
                self.send_response(303)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            session = fake.get(session_id)
        amount = session["amount_total"]
        total = "" if amount is None else f"{amount / 100:.2f} {(session['currency'] or '').upper()}"
        parts = [f"<h1>Pay {escape(total)}</h1>"]
        off = session["total_details"]["amount_discount"]
        if off:
            parts.append(f"<p>Discount: {off / 100:.2f} {escape((session['currency'] or '').upper())}</p>")
        if session["status"] != "open":
            parts.append("<p role='status'>This Checkout Session is complete.</p>")
            self._html(200, "".join(parts))
            return
        parts.append(f"<form method='post' action='/c/pay/{escape(session_id)}'>")
        if session["allow_promotion_codes"]:
            parts.append("<p><label for='promotion_code'>Promotion code</label> "
                         "<input id='promotion_code' name='promotion_code' autocomplete='off'></p>")
        if error:
            parts.append(f"<p role='alert' class='error'>{escape(error)}</p>")
        parts.append("<p><button type='submit'>Pay</button></p></form>")
        self._html(400 if error else 200, "".join(parts))

    def _html(self, status: int, content: str) -> None:
        page = ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
                "<meta name='viewport' content='width=device-width, initial-scale=1'><title>Test Checkout</title>"
                "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:30rem;margin:2rem auto;padding:0 1rem;"
                "color:#1a1a1a}button{font:inherit;padding:.5rem 1.5rem;background:#3a3ad0;color:#fff;border:0;"
                "border-radius:4px}input{font:inherit;padding:.3rem}.error{color:#a40000}</style></head>"
                f"<body><main>{content}</main></body></html>").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)


def _bearer(authorization: str | None) -> str | None:
    if authorization and authorization.startswith("Bearer "):
        return authorization[len("Bearer "):].strip()
    return None


def _authentication_error(authorization: str | None, api_key: str | None) -> StripeErrorResponse | None:
    if not authorization:
        return StripeErrorResponse(
            401, "You did not provide an API key. You need to provide your API key in the Authorization header, "
            "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication "
            "for details, or we can help at https://support.stripe.com/.", saved=False)
    if api_key is None or not _API_KEY.fullmatch(api_key):
        shown = f"{(api_key or '')[:8]}{'*' * 12}{(api_key or '')[-4:]}"
        return StripeErrorResponse(401, f"Invalid API Key provided: {shown}", saved=False)
    return None


#: Seconds the test clients wait for an answer; FakeStripe.hang_next() should sleep longer than this.
STRIPE_TEST_TIMEOUT = 1.0


def make_stripe_client(server: FakeStripe, *, timeout: float = STRIPE_TEST_TIMEOUT,
                       api_key: str | None = None) -> tuple[stripe.StripeClient, stripe.HTTPClient]:
    """A StripeClient on ``server`` and its HTTP client (close it when done).

    No network retries, so a failure reaches the code under test instead of being retried by the SDK.
    """
    http_client = stripe.RequestsClient(timeout=timeout)
    client = stripe.StripeClient(
        api_key or server.api_key,
        base_addresses={"api": server.base_url},
        max_network_retries=0,
        http_client=http_client,
    )
    return client, http_client
