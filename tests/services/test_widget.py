"""The widget's identity tokens, offer, QR path and settings (advocacy_portal.services.widget)."""

from __future__ import annotations

import re
import string
import time

import pytest
import segno
from hypothesis import HealthCheck
from hypothesis import example
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from advocacy_portal.models.base import utcnow
from advocacy_portal.services import links
from advocacy_portal.services import widget
from advocacy_portal.services.widget import InvalidWidgetToken

pytestmark = pytest.mark.usefixtures("app_ctx")
fuzz = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@fuzz
@given(user_id=st.text(min_size=1, max_size=64))
def test_any_user_id_round_trips_through_an_identity_token(user_id):
    assert widget.read_token(widget.make_token(user_id)) == user_id


@fuzz
@given(token=st.text(max_size=600))
@example("eyJ1IjoiMSJ9.aaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbb")
@example("....")
@example("\x00\udcff")
def test_arbitrary_text_is_never_a_valid_identity_token_and_never_crashes(token):
    with pytest.raises(InvalidWidgetToken) as error:
        widget.read_token(token)
    assert error.value.reason == "invalid"


@fuzz
@given(data=st.data())
def test_any_change_to_an_identity_token_breaks_it_or_leaves_its_meaning(data):
    # The token carries a timestamp, so it differs between runs: draw from fixed ranges (no filter on the
    # token's characters) or hypothesis sees the strategy change when it replays an example.
    token = widget.make_token("42")
    alphabet = string.ascii_letters + string.digits + "-_."
    position = data.draw(st.integers(0, 10_000)) % len(token)
    shift = data.draw(st.integers(1, len(alphabet) - 1))
    original = alphabet.find(token[position])
    replacement = alphabet[(original + shift) % len(alphabet)] if original >= 0 else alphabet[shift]
    tampered = token[:position] + replacement + token[position + 1:]
    try:
        user_id = widget.read_token(tampered)
    except InvalidWidgetToken:
        return
    # Base64 has a few spare bits in its last character: a flip there may decode to the same bytes.
    assert user_id == "42"


def test_an_identity_token_expires(app, monkeypatch):
    token = widget.make_token("42")
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + app.config["ADVOCACY_WIDGET_TOKEN_MAX_AGE_SECONDS"] + 5)
    with pytest.raises(InvalidWidgetToken) as error:
        widget.read_token(token)
    assert error.value.reason == "expired"


def test_tokens_of_other_purposes_and_keys_are_not_identity_tokens(app):
    from itsdangerous import URLSafeTimedSerializer

    with pytest.raises(InvalidWidgetToken):
        widget.read_token(links.make_link_token("abcd1234", utcnow()))
    with pytest.raises(InvalidWidgetToken):
        widget.read_token(links.dump_attribution("abcd1234", None, 1))
    with pytest.raises(InvalidWidgetToken):
        widget.read_token(URLSafeTimedSerializer("another-key", salt=app.config["ADVOCACY_WIDGET_TOKEN_SALT"]).dumps({"u": "1"}))
    wrong_shape = URLSafeTimedSerializer(links.secret_keys(), salt=app.config["ADVOCACY_WIDGET_TOKEN_SALT"])
    for payload in (["1"], {"u": 1}, {"u": ""}, {"x": "1"}, "1"):
        with pytest.raises(InvalidWidgetToken):
            widget.read_token(wrong_shape.dumps(payload))
    # A link token is not an identity token either way round.
    with pytest.raises(links.InvalidLink):
        links.read_link_token(widget.make_token("42"))


def test_identity_tokens_survive_a_key_rotation_while_the_old_key_is_a_fallback(app):
    token = widget.make_token("42")
    app.config["SECRET_KEY_FALLBACKS"] = [app.config["SECRET_KEY"]]
    app.config["SECRET_KEY"] = "a-brand-new-key"
    assert widget.read_token(token) == "42"
    app.config["SECRET_KEY_FALLBACKS"] = []
    with pytest.raises(InvalidWidgetToken):
        widget.read_token(token)


def test_the_qr_path_draws_exactly_the_links_qr_code():
    link = "https://shop.example/r/WyJhYmNkMTIzNCJd.awRfRQ.CKIopYGZVIwoHGuPJHTedT1Xi4s?via=widget"
    drawn = widget.qr_path(link)
    expected = [list(row) for row in segno.make(link, error="m").matrix_iter(scale=1, border=0)]
    assert drawn["size"] == len(expected)
    canvas = [[False] * drawn["size"] for _ in range(drawn["size"])]
    runs = re.findall(r"M(\d+) (\d+)h(\d+)v1h-\3z", drawn["path"])
    assert "".join(f"M{x} {y}h{w}v1h-{w}z" for x, y, w in runs) == drawn["path"]
    for x, y, width in runs:
        for dx in range(int(width)):
            canvas[int(y)][int(x) + dx] = True
    assert canvas == [[bool(cell) for cell in row] for row in expected]


def test_only_known_click_sources_are_kept():
    assert widget.click_source("widget") == "widget"
    assert [widget.click_source(value) for value in (None, "", "link", "qr", "<x>", "WIDGET")] == ["link"] * 3 + ["link"] * 3


@pytest.mark.settings(
    REWARD_RULES={
        "default": {"type": "fixed", "amount_minor": 1500, "currency": "usd"},
        "campaigns": {
            "spring": {"type": "percent", "percent": 12.5, "recurring_months": 3,
                       "friend_reward": {"amount_off": 500, "currency": "eur"}},
        },
    },
    CAMPAIGN_OFFERS={"spring": "Spring offer: give 20%, get 20%."},
    OFFER_TEXT="Share the love.",
)
def test_the_offer_follows_the_settings_and_the_campaign(app):
    with app.test_request_context():
        plain = widget.offer()
        spring = widget.offer("spring")
        other = widget.offer("autumn")
    assert plain == {"title": "Test Shop referrals", "text": "Share the love.", "campaign": None,
                     "reward": "You earn $15.00 for each friend who pays, for their first payment."}
    assert spring["text"] == "Spring offer: give 20%, get 20%."
    # The referral page's own sentences (offer_text), not a second wording of the same rule.
    assert spring["reward"] == ("You earn 12.5% of what each friend pays, for each of their first 3 monthly payments. "
                                "Your friend gets €5.00 off their first purchase.")
    assert other["text"] == "Share the love." and other["reward"] == plain["reward"]


@pytest.mark.parametrize(
    "origins, message",
    [
        ("https://a.example", "must be a list"),
        (["*"], "is not an origin"),
        (["https://a.example/path"], "is not an origin"),
        (["ftp://a.example"], "is not an origin"),
        (["https://user@a.example"], "is not an origin"),
        (["a.example"], "is not an origin"),
        ([42], "must be a list"),
    ],
)
def test_bad_widget_origins_stop_the_app_at_start(database_url, origins, message):
    from tests.host_app import create_app

    with pytest.raises(RuntimeError, match=message):
        create_app({"SQLALCHEMY_DATABASE_URI": database_url, "ADVOCACY_WIDGET_ORIGINS": origins})


@pytest.mark.parametrize(
    "setting, value, message",
    [
        ("ADVOCACY_WIDGET_TOKEN_MAX_AGE_SECONDS", 0, "WIDGET_TOKEN_MAX_AGE_SECONDS"),
        ("ADVOCACY_WIDGET_SCRIPT_MAX_AGE_SECONDS", -1, "WIDGET_SCRIPT_MAX_AGE_SECONDS"),
        ("ADVOCACY_CAMPAIGN_OFFERS", {"bad slug": "x"}, "CAMPAIGN_OFFERS"),
        ("ADVOCACY_CAMPAIGN_OFFERS", {"spring": ""}, "CAMPAIGN_OFFERS"),
        ("ADVOCACY_WIDGET_RATE_LIMIT", "lots", "WIDGET_RATE_LIMIT"),
    ],
)
def test_bad_widget_settings_stop_the_app_at_start(database_url, setting, value, message):
    from tests.host_app import create_app

    with pytest.raises(RuntimeError, match=message):
        create_app({"SQLALCHEMY_DATABASE_URI": database_url, setting: value})


def test_origins_are_stored_as_browsers_send_them(database_url):
    from tests.host_app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url,
                      "ADVOCACY_WIDGET_ORIGINS": ["HTTPS://Www.Shop.Example/", "http://localhost:8000"]})
    assert app.config["ADVOCACY_WIDGET_ORIGINS"] == ("https://www.shop.example", "http://localhost:8000")


def test_the_served_script_is_small_and_has_a_stable_hash():
    served = widget.script()
    assert len(served.gzipped) <= 5 * 1024
    import gzip

    assert gzip.decompress(served.gzipped) == served.body
    assert served.digest == widget.script().digest and len(served.digest) == 12
    assert b"\n//" not in served.body and b"\n  " not in served.body
