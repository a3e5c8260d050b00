"""Referral tokens, the attribution cookie and redirect targets: what a visitor or attacker can send."""

from __future__ import annotations

import string
from datetime import timedelta

import pytest
from hypothesis import HealthCheck
from hypothesis import example
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer
from itsdangerous import URLSafeTimedSerializer

from advocacy_portal.models import utcnow
from advocacy_portal.services import links
from advocacy_portal.services.links import InvalidLink

pytestmark = pytest.mark.usefixtures("app_ctx")
fuzz = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

codes = st.text(string.ascii_letters + string.digits + "_-", min_size=4, max_size=32)
campaigns = st.none() | st.from_regex(links.CAMPAIGN_PATTERN, fullmatch=True)


def test_token_names_advocate_and_campaign_and_is_stable():
    issued = utcnow()
    token = links.make_link_token("abcd1234", issued, "spring-sale")
    assert token == links.make_link_token("abcd1234", issued, "spring-sale")
    claim = links.read_link_token(token)
    assert claim.advocate_code == "abcd1234"
    assert claim.campaign == "spring-sale"
    assert abs((claim.issued_at - issued).total_seconds()) < 1
    assert links.read_link_token(links.make_link_token("abcd1234", issued)).campaign is None


def test_tokens_signed_with_a_retired_key_still_work_while_it_is_a_fallback(app):
    issued = utcnow()
    old_token = links.make_link_token("abcd1234", issued)
    app.config["SECRET_KEY_FALLBACKS"] = [app.config["SECRET_KEY"]]
    app.config["SECRET_KEY"] = "a-brand-new-key"
    assert links.read_link_token(old_token).advocate_code == "abcd1234"
    new_token = links.make_link_token("abcd1234", issued)
    assert new_token != old_token
    app.config["SECRET_KEY_FALLBACKS"] = []
    with pytest.raises(InvalidLink) as error:
        links.read_link_token(old_token)
    assert error.value.reason == "bad_signature"
    assert links.read_link_token(new_token).advocate_code == "abcd1234"


def test_a_fallback_key_given_as_one_string_is_one_key(app):
    app.config["SECRET_KEY_FALLBACKS"] = "previous-secret-key"
    assert links.secret_keys() == ["previous-secret-key", app.config["SECRET_KEY"]]
    one_letter = links._LinkSerializer("p", salt=app.config["ADVOCACY_LINK_SALT"]).dumps(["abcd1234"])
    with pytest.raises(InvalidLink):
        links.read_link_token(one_letter)
    previous = links._LinkSerializer("previous-secret-key", salt=app.config["ADVOCACY_LINK_SALT"]).dumps(["abcd1234"])
    assert links.read_link_token(previous).advocate_code == "abcd1234"


def test_a_value_signed_for_another_purpose_is_not_a_link(app):
    foreign = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="password-reset").dumps(["abcd1234"])
    with pytest.raises(InvalidLink) as error:
        links.read_link_token(foreign)
    assert error.value.reason == "bad_signature"
    cookie = links.dump_attribution("abcd1234", None, 1)
    with pytest.raises(InvalidLink):
        links.read_link_token(cookie)  # the cookie's salt differs from the link's


@pytest.mark.settings(LINK_MAX_AGE_DAYS=30)
def test_links_older_than_the_maximum_age_expire():
    token = links.make_link_token("abcd1234", utcnow() - timedelta(days=31))
    with pytest.raises(InvalidLink) as error:
        links.read_link_token(token)
    assert error.value.reason == "expired"
    assert links.read_link_token(links.make_link_token("abcd1234", utcnow() - timedelta(days=29)))


def test_a_signed_payload_of_the_wrong_shape_is_malformed(app):
    serializer = links._LinkSerializer(links.secret_keys(), salt=app.config["ADVOCACY_LINK_SALT"])
    for payload in ({"a": "abcd1234"}, [], ["abcd1234", "ok", "extra"], [12345678], ["a b"], ["abcd1234", "bad slug"]):
        with pytest.raises(InvalidLink) as error:
            links.read_link_token(serializer.dumps(payload))
        assert error.value.reason == "malformed", payload


def test_oversized_and_empty_tokens_are_refused_before_any_crypto():
    for token in ("", "x" * 10_000):
        with pytest.raises(InvalidLink) as error:
            links.read_link_token(token)
        assert error.value.reason == "malformed"


def test_making_a_token_refuses_invalid_codes_and_campaigns():
    with pytest.raises(ValueError):
        links.make_link_token("no", utcnow())
    with pytest.raises(ValueError):
        links.make_link_token("abcd1234", utcnow(), "<script>")


@fuzz
@given(code=codes, campaign=campaigns)
def test_any_valid_token_round_trips(code, campaign):
    claim = links.read_link_token(links.make_link_token(code, utcnow(), campaign))
    assert (claim.advocate_code, claim.campaign) == (code, campaign)


@fuzz
@given(token=st.text(max_size=400))
@example("WyJhYmNkMTIzNCJd.awRfRQ.CKIopYGZVIwoHGuPJHTedT1Xi4s")
@example("....")
@example("\x00\udcff")
def test_arbitrary_text_is_never_a_valid_token_and_never_crashes(token):
    with pytest.raises(InvalidLink):
        links.read_link_token(token)


@fuzz
@given(data=st.data())
def test_any_change_to_a_valid_token_breaks_it(data):
    token = links.make_link_token("abcd1234", utcnow(), "spring")
    position = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from(string.ascii_letters + string.digits + "-_.").filter(lambda c: c != token[position]))
    tampered = token[:position] + replacement + token[position + 1:]
    try:
        claim = links.read_link_token(tampered)
    except InvalidLink:
        return
    # Base64 has a few spare bits in its last character: a flip there may decode to the same bytes.
    assert (claim.advocate_code, claim.campaign) == ("abcd1234", "spring")


def test_attribution_cookie_round_trips():
    claim = links.read_attribution(links.dump_attribution("abcd1234", "spring", 42))
    assert (claim.advocate_code, claim.campaign, claim.click_id) == ("abcd1234", "spring", 42)
    assert abs((claim.clicked_at - utcnow()).total_seconds()) < 5


def test_attribution_cookie_signed_with_another_key_or_salt_is_ignored(app):
    assert links.read_attribution(
        URLSafeTimedSerializer("another-key", salt=app.config["ADVOCACY_COOKIE_SALT"]).dumps(["abcd1234", None, 1])
    ) is None
    assert links.read_attribution(
        URLSafeSerializer(app.config["SECRET_KEY"], salt=app.config["ADVOCACY_COOKIE_SALT"]).dumps(["abcd1234", None, 1])
    ) is None
    assert links.read_attribution(links.make_link_token("abcd1234", utcnow())) is None


@pytest.mark.settings(ATTRIBUTION_DAYS=30)
def test_attribution_cookie_older_than_the_window_is_ignored(monkeypatch):
    value = links.dump_attribution("abcd1234", None, 1)
    import time

    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 31 * 86400)
    assert links.read_attribution(value) is None


def test_attribution_cookie_with_a_wrong_shape_is_ignored(app):
    serializer = URLSafeTimedSerializer(links.secret_keys(), salt=app.config["ADVOCACY_COOKIE_SALT"])
    for payload in (["abcd1234", None], ["abcd1234", None, "1"], ["abcd1234", None, True], ["abcd1234", None, -1],
                    ["a b", None, 1], ["abcd1234", "bad slug", 1], {"a": 1}):
        assert links.read_attribution(serializer.dumps(payload)) is None, payload


@fuzz
@given(value=st.text(max_size=400) | st.none())
def test_arbitrary_cookie_values_are_ignored(value):
    assert links.read_attribution(value) is None


SAFE = ["/", "/pricing", "/pricing?plan=pro#top", "/a/b/c?next=//evil.example", "https://shop.test/welcome"]
UNSAFE = [
    "//evil.example", "///evil.example", "https:evil.example", "http:/evil.example", "/\\evil.example",
    "\\\\evil.example", "https://evil.example/", "https://shop.test.evil.example/", "https://evil.example\\@shop.test",
    "https://shop.test@evil.example/", "javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,hi",
    " /pricing", "/pricing\n", "/\t/evil.example", "pricing", "ftp://shop.test/", "https://shop.test:99999/",
    "", None,
]


@pytest.mark.parametrize("target", SAFE)
def test_same_site_destinations_are_allowed(target):
    assert links.safe_destination(target, "shop.test") == target


@pytest.mark.parametrize("target", UNSAFE)
def test_off_site_and_ambiguous_destinations_are_refused(target):
    assert links.safe_destination(target, "shop.test") is None


def test_allow_listed_hosts_are_allowed_and_nothing_near_them():
    allowed = ["www.shop-marketing.example"]
    assert links.safe_destination("https://www.shop-marketing.example/offer", "shop.test", allowed)
    assert links.safe_destination("https://WWW.Shop-Marketing.example./offer", "shop.test", allowed)
    assert links.safe_destination("https://evil.shop-marketing.example/", "shop.test", allowed) is None
    assert links.safe_destination("https://www.shop-marketing.example.evil/", "shop.test", allowed) is None


@fuzz
@given(target=st.text(max_size=80))
@example("/%2F%2Fevil.example")
def test_every_accepted_destination_stays_on_site_or_on_the_list(target):
    result = links.safe_destination(target, "shop.test", ["partner.example"])
    if result is None:
        return
    from urllib.parse import urlsplit

    parts = urlsplit(result)
    if parts.netloc:
        assert parts.hostname.rstrip(".") in ("shop.test", "partner.example")
        assert parts.scheme in ("http", "https")
    else:
        assert result.startswith("/") and not result.startswith("//")
        assert "\\" not in result
