"""Schemathesis fuzzes every operation of the OpenAPI document against a real Werkzeug server on a
seeded database, with a valid key: no answer may be a 5xx, and every answer must match the document
(status code, content type, body schema)."""

from __future__ import annotations

import threading
import time

import pytest
import schemathesis
from flask import got_request_exception
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from schemathesis.checks import content_type_conformance
from schemathesis.checks import not_a_server_error
from schemathesis.checks import response_schema_conformance
from schemathesis.checks import status_code_conformance
from werkzeug.serving import make_server

from tests.api_support import API
from tests.api_support import bearer
from tests.api_support import make_key
from tests.api_support import seed
from tests.rewards_helpers import PERCENT_RULES

#: Examples per operation: enough to reach every filter, small enough for a run of well under a minute.
MAX_EXAMPLES = 30
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def api_server(stripe_app):
    """The seeded app served over HTTP on 127.0.0.1; any exception a request raises fails the test."""
    stripe_app.config["SERVER_NAME"] = None
    seed(stripe_app)
    secret = make_key(stripe_app)
    errors = []

    def record(sender, exception, **extra):
        errors.append(exception)

    got_request_exception.connect(record, stripe_app, weak=False)
    server = make_server("127.0.0.1", 0, stripe_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="api-fuzz", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", secret, errors
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
        got_request_exception.disconnect(record, stripe_app)


@pytest.mark.slow
@pytest.mark.settings(REWARD_RULES=PERCENT_RULES, API_KEY_RATE_LIMIT="100000 per minute",
                      API_RATE_LIMIT="100000 per minute")
def test_no_operation_answers_5xx_or_off_schema(api_server):
    base, secret, errors = api_server
    schema = schemathesis.openapi.from_url(base + API + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 7
    started = time.monotonic()
    calls: dict[str, set[int]] = {}
    counter = [0]

    for operation in operations:

        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def fuzz(case):
            response = case.call_and_validate(base_url=base + API, headers=bearer(secret), checks=CHECKS)
            calls.setdefault(operation.label, set()).add(response.status_code)
            counter[0] += 1

        fuzz()

    assert not errors, errors
    # Every operation was reached with the key and answered with data at least once.
    assert all(200 in statuses for statuses in calls.values()), calls
    assert len(calls) == 7 and counter[0] >= 7 * 10
    assert time.monotonic() - started < 60
