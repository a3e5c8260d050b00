"""Hypothesis fuzzes the query strings of every JSON endpoint (the testimonials API, the back-office
API with a valid key, the widget's JSON): no answer is a 5xx, and every error is
``{"error": {"code": ..., "message": ...}}``."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from tests.api_support import bearer
from tests.api_support import make_key
from tests.helpers import make_customer
from tests.test_route_fuzz import FUZZ_SETTINGS
from tests.test_route_fuzz import QUERY_ARGS
from tests.testimonials_support import make_testimonial

#: Prefixes of the JSON blueprints' endpoints.
JSON_BLUEPRINTS = ("advocacy_api.", "advocacy_testimonials_api.", "advocacy_widget.")

#: Any character, lone surrogates and NUL included.
ANY_CHARACTER = st.characters(codec=None, exclude_categories=())
VALUES = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(ANY_CHARACTER, max_size=30),
    st.text(st.sampled_from("0123456789²³٣٤１２-.eE+ "), min_size=1, max_size=25),
    st.dates().map(str),
    st.sampled_from(["9999-12-31", "0001-01-01", "2024-02-30", "true", "null", "[]", "x" * 5000]),
)
NAMES = st.one_of(st.sampled_from(QUERY_ARGS + ["cursor", "expand", "sort", "fields"]),
                  st.text(ANY_CHARACTER, min_size=1, max_size=12))


def _encode(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def _json_urls(app) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(JSON_BLUEPRINTS) or "GET" not in rule.methods:
            continue
        if rule.endpoint.endswith((".not_found", ".script", ".hashed_script")):
            continue  # the catch-all and the widget's JavaScript are no JSON endpoints
        urls.append(rule.rule.replace("<advocacy_id:", "<").split("<", 1)[0] + ("1" if rule.arguments else ""))
    return sorted(set(urls))


@pytest.mark.settings(**FUZZ_SETTINGS)
def test_json_endpoints_answer_any_query_string_in_json_without_a_5xx(app):
    staff = make_customer(app, staff=True)
    make_testimonial(app, make_customer(app), state="approved", staff=staff)
    headers = bearer(make_key(app, staff=staff))
    client = app.test_client()
    urls = _json_urls(app)
    assert "/advocacy/api/testimonials" in urls and "/advocacy/widget/api/referral" in urls
    assert any(url.startswith("/advocacy/api/") and "testimonials" not in url for url in urls)
    seen = set()

    @settings(max_examples=600, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(url=st.sampled_from(urls), query=st.lists(st.tuples(NAMES, VALUES), max_size=4))
    def check(url, query):
        target = url + "?" + "&".join(f"{_encode(name)}={_encode(value)}" for name, value in query)
        response = client.get(target, headers=headers)
        assert response.status_code < 500, target[:300]
        body = response.get_json(silent=True)
        assert body is not None, (target[:300], response.status_code, response.content_type)
        if response.status_code >= 400:
            error = body["error"]
            assert isinstance(error["code"], str) and isinstance(error["message"], str) and error["message"]
        seen.add(response.status_code)

    check()
    assert 200 in seen and 400 in seen  # both good and refused queries were reached
