"""The customer's testimonial and review forms, their own page, photos and bad input."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from tests.helpers import login
from tests.helpers import make_customer
from tests.testimonials_support import BODY
from tests.testimonials_support import CSRF_FIELD
from tests.testimonials_support import form_tokens
from tests.testimonials_support import make_testimonial
from tests.testimonials_support import moderate
from tests.testimonials_support import png_bytes
from tests.testimonials_support import submit_review
from tests.testimonials_support import submit_testimonial
from tests.testimonials_support import stored_testimonials


@pytest.fixture
def customer_client(app):
    client = app.test_client()
    customer = make_customer(app, name="Pat Customer")
    login(client, customer)
    client.customer = customer
    return client


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/advocacy/testimonials/new")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_a_customer_submits_a_testimonial_and_sees_it_waiting(app, customer_client):
    page = customer_client.get("/advocacy/testimonials/new").get_data(as_text=True)
    assert "You may publish my testimonial with my name, role and photo." in page

    response = submit_testimonial(customer_client, consent="publish_anonymous")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/advocacy/testimonials/")

    [row] = stored_testimonials(app)
    assert row["state"] == "pending"
    assert row["author_user_id"] == str(customer_client.customer.id)
    assert row["body"] == BODY
    assert row["consent"] == "publish_anonymous"
    assert row["consent_text"] == "You may publish my testimonial without my name or photo."
    assert row["consent_at"] is not None

    mine = customer_client.get("/advocacy/testimonials/")
    text = mine.get_data(as_text=True)
    assert "Thank you! We read every testimonial" in text
    assert 'data-state="pending"' in text and "Waiting for review" in text
    assert mine.headers["Cache-Control"] == "private, no-store"


def test_the_consent_wording_is_a_setting_and_stored_word_for_word(app, customer_client):
    app.config["ADVOCACY_CONSENT_PUBLISH_NAMED_TEXT"] = "Publish it with my name — I agree."
    page = customer_client.get("/advocacy/testimonials/new").get_data(as_text=True)
    assert "Publish it with my name — I agree." in page
    submit_testimonial(customer_client)
    assert stored_testimonials(app)[0]["consent_text"] == "Publish it with my name — I agree."


def test_a_double_clicked_submit_stores_one_testimonial(app, customer_client):
    tokens = form_tokens(customer_client, "/advocacy/testimonials/new")
    first = submit_testimonial(customer_client, tokens)
    second = submit_testimonial(customer_client, tokens)
    assert first.status_code == second.status_code == 303
    assert len(stored_testimonials(app)) == 1


def test_a_filled_honeypot_is_thanked_and_nothing_is_stored(app, customer_client):
    response = submit_testimonial(customer_client, website="http://spam.example")
    assert response.status_code == 303
    assert "Thank you!" in customer_client.get("/advocacy/testimonials/").get_data(as_text=True)
    assert stored_testimonials(app) == []


def test_a_missing_csrf_token_gets_a_clear_400_and_nothing_is_stored(app, customer_client):
    tokens = form_tokens(customer_client, "/advocacy/testimonials/new")
    response = submit_testimonial(customer_client, {"nonce": tokens["nonce"], "csrf_token": ""})
    assert response.status_code == 400
    assert "This form had expired, so nothing was saved yet" in response.get_data(as_text=True)
    assert stored_testimonials(app) == []


def test_an_expired_form_comes_back_with_the_text_and_a_fresh_token(app, customer_client):
    """A session that expired while the customer typed (the CSRF token no longer matches): the form
    comes back with everything typed and a working token, and sending it again saves it once."""
    long_text = "We moved our whole shop onto it in a weekend. " * 40  # about 1,900 characters
    tokens = form_tokens(customer_client, "/advocacy/testimonials/new")
    with customer_client.session_transaction() as session:
        session.pop("csrf_token", None)  # what an expired session looks like to Flask-WTF
    response = submit_testimonial(customer_client, tokens, body=long_text, display_name="Pat <b>Customer</b>")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "This form had expired, so nothing was saved yet. We kept what you wrote" in page
    assert long_text.strip() in page
    assert 'value="Pat &lt;b&gt;Customer&lt;/b&gt;"' in page  # kept, and escaped
    assert re.search(r'<input checked[^>]*name="rating"[^>]*value="5">', page)
    assert stored_testimonials(app) == []
    fresh = CSRF_FIELD.search(page).group(1)
    assert fresh != tokens["csrf_token"]
    again = submit_testimonial(customer_client, {"csrf_token": fresh, "nonce": tokens["nonce"]},
                               body=long_text)
    assert again.status_code == 303
    rows = stored_testimonials(app)
    assert len(rows) == 1 and rows[0]["body"] == long_text.strip()


@pytest.mark.settings(TESTIMONIAL_MAX_LENGTH=100)
def test_oversized_text_is_refused_with_the_text_kept_in_the_form(app, customer_client):
    long_text = "Really good. " * 20
    response = submit_testimonial(customer_client, body=long_text)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Write between 20 and 100 characters." in page
    assert long_text.strip() in page  # nothing typed is lost
    assert 'aria-invalid="true"' in page
    assert stored_testimonials(app) == []


def test_a_rating_outside_1_to_5_and_an_unknown_consent_are_refused(app, customer_client):
    assert submit_testimonial(customer_client, rating="6").status_code == 400
    assert submit_testimonial(customer_client, consent="publish_everywhere").status_code == 400
    assert stored_testimonials(app) == []


def test_a_photo_is_checked_reencoded_and_stripped_of_metadata(app, customer_client):
    jpeg = png_bytes(size=(1200, 900), exif=True)
    assert b"SecretCamera" in jpeg
    response = submit_testimonial(customer_client, photo=(io.BytesIO(jpeg), "me.jpg", "image/jpeg"))
    assert response.status_code == 303, response.get_data(as_text=True)
    [row] = stored_testimonials(app)
    key = row["photo_key"]
    assert key
    # The author sees their own photo; the public does not while it is not published.
    photo = customer_client.get(f"/advocacy/photos/{key}")
    assert photo.status_code == 200
    assert photo.headers["Content-Type"] == "image/jpeg"
    assert b"SecretCamera" not in photo.data
    with Image.open(io.BytesIO(photo.data)) as stored:
        assert max(stored.size) == 512
    assert app.test_client().get(f"/advocacy/photos/{key}").status_code == 404


def test_a_file_that_lies_about_its_type_is_refused(app, customer_client):
    html = b"<html><script>alert(1)</script></html>"
    response = submit_testimonial(customer_client, photo=(io.BytesIO(html), "me.png", "image/png"))
    assert response.status_code == 400
    assert "That file is not a photo we can read" in response.get_data(as_text=True)
    # A real image named as another type is refused too.
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    response = submit_testimonial(customer_client, photo=(io.BytesIO(gif.getvalue()), "me.png", "image/png"))
    assert response.status_code == 400
    assert "it is a GIF image" in response.get_data(as_text=True)
    assert stored_testimonials(app) == []


@pytest.mark.settings(PHOTO_MAX_BYTES=20_000)
def test_an_oversized_photo_is_refused_with_the_text_kept(app, customer_client):
    big = png_bytes(size=(600, 600))
    noise = io.BytesIO()
    Image.effect_noise((150, 150), 80).convert("RGB").save(noise, "PNG")
    assert len(noise.getvalue()) > 20_000
    response = submit_testimonial(
        customer_client, body="Kept text " * 5, photo=(io.BytesIO(noise.getvalue()), "me.png", "image/png")
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "The photo is larger than 19 KB." in page
    assert "Kept text Kept text" in page
    assert stored_testimonials(app) == []
    assert big  # a small photo of the same kind goes through
    ok = submit_testimonial(customer_client, photo=(io.BytesIO(png_bytes()), "me.png", "image/png"))
    assert ok.status_code == 303


def test_the_author_edits_until_moderation_and_not_after(app, customer_client):
    staff = make_customer(app, staff=True)
    testimonial_id = make_testimonial(app, customer_client.customer)
    url = f"/advocacy/testimonials/{testimonial_id}/edit"
    tokens = form_tokens(customer_client, url)
    response = customer_client.post(
        url, data={**tokens, "rating": "4", "body": "Changed my mind: still very good, just slower.",
                   "display_name": "Pat", "role": "", "consent": "publish_named"},
    )
    assert response.status_code == 303
    [row] = stored_testimonials(app)
    assert row["rating"] == 4 and row["body"].startswith("Changed my mind")

    moderate(app, testimonial_id, "approve", staff)
    response = customer_client.post(
        url, data={**tokens, "rating": "1", "body": "Trying to change it after approval!!",
                   "display_name": "Pat", "role": "", "consent": "publish_named"},
    )
    assert response.status_code == 303
    assert "can no longer be edited" in customer_client.get("/advocacy/testimonials/").get_data(as_text=True)
    assert stored_testimonials(app)[0]["rating"] == 4


def test_editing_someone_elses_testimonial_is_a_404(app, customer_client):
    other = make_customer(app)
    testimonial_id = make_testimonial(app, other)
    assert customer_client.get(f"/advocacy/testimonials/{testimonial_id}/edit").status_code == 404
    tokens = form_tokens(customer_client, "/advocacy/testimonials/new")
    response = customer_client.post(
        f"/advocacy/testimonials/{testimonial_id}/edit",
        data={**tokens, "rating": "1", "body": "Hijacked testimonial text here.", "display_name": "X",
              "consent": "publish_named"},
    )
    assert response.status_code == 404
    response = customer_client.post(
        f"/advocacy/testimonials/{testimonial_id}/withdraw",
        data={"csrf_token": tokens["csrf_token"], f"withdraw-{testimonial_id}-confirm": "y"},
    )
    assert response.status_code == 404
    assert stored_testimonials(app)[0]["state"] == "pending"
    assert stored_testimonials(app)[0]["body"] == BODY


def test_withdrawing_consent_unpublishes_at_once(app, customer_client):
    staff = make_customer(app, staff=True)
    testimonial_id = make_testimonial(app, customer_client.customer, state="featured", staff=staff)
    assert "Pat Customer" in app.test_client().get("/advocacy/wall").get_data(as_text=True)

    page = customer_client.get("/advocacy/testimonials/").get_data(as_text=True)
    assert "Published" in page
    tokens = form_tokens(customer_client, "/advocacy/testimonials/new")
    response = customer_client.post(
        f"/advocacy/testimonials/{testimonial_id}/withdraw",
        data={"csrf_token": tokens["csrf_token"], f"withdraw-{testimonial_id}-confirm": "y"},
    )
    assert response.status_code == 303
    [row] = stored_testimonials(app)
    assert row["state"] == "withdrawn" and row["consent"] == "do_not_publish"
    assert row["featured"] is False and row["published_at"] is None
    assert row["consent_text"] == app.config["ADVOCACY_CONSENT_WITHDRAWN_TEXT"]
    public = app.test_client()
    assert "Pat Customer" not in public.get("/advocacy/wall").get_data(as_text=True)
    assert public.get("/advocacy/api/testimonials").get_json()["items"] == []
    assert "Consent withdrawn" in customer_client.get("/advocacy/testimonials/").get_data(as_text=True)


@pytest.mark.settings(TESTIMONIAL_SUBMIT_LIMIT="2 per minute")
def test_a_spam_burst_gets_a_clear_429_page(app, customer_client):
    for _ in range(2):
        assert submit_testimonial(customer_client).status_code == 303
    response = submit_testimonial(customer_client)
    assert response.status_code == 429
    page = response.get_data(as_text=True)
    assert "Too many requests" in page
    assert "Please wait a little and try again." in page
    assert "Retry-After" in response.headers
    assert len(stored_testimonials(app)) == 2
    # Reading pages is not limited, and the host's own pages never are.
    assert customer_client.get("/advocacy/testimonials/").status_code == 200
    assert customer_client.get("/").status_code == 200


@pytest.mark.settings(TESTIMONIAL_SUBMIT_LIMIT="1 per minute", RATELIMIT_ENABLED=False)
def test_rate_limits_can_be_turned_off(app, customer_client):
    for _ in range(3):
        assert submit_testimonial(customer_client).status_code == 303
    assert "RATELIMIT_ENABLED" not in app.config  # the host's own limiter switch is left alone


def test_a_customer_reviews_a_product_from_the_catalogue(app, customer_client):
    page = customer_client.get("/advocacy/reviews/new").get_data(as_text=True)
    assert "Pro plan" in page
    response = submit_review(customer_client)
    assert response.status_code == 303
    [row] = stored_testimonials(app)
    assert row["kind"] == "review" and row["product_key"] == "pro" and row["title"] == "Does what it says"
    assert submit_review(customer_client, product="enterprise").status_code == 400
    assert len(stored_testimonials(app)) == 1


@pytest.mark.settings(SHOP_PRODUCTS={})
def test_without_a_catalogue_reviews_are_off_with_a_clear_page(app, customer_client):
    response = customer_client.get("/advocacy/reviews/new")
    assert response.status_code == 404
    assert "Product reviews are not available" in response.get_data(as_text=True)
    assert "Review a product" not in customer_client.get("/advocacy/testimonials/").get_data(as_text=True)


@pytest.mark.settings(TESTIMONIAL_INCENTIVE="a $10 voucher")
def test_a_promised_incentive_is_disclosed_and_labels_the_submission(app, customer_client):
    page = customer_client.get("/advocacy/testimonials/new").get_data(as_text=True)
    assert "we offer a $10 voucher for writing a testimonial" in page
    submit_testimonial(customer_client)
    [row] = stored_testimonials(app)
    assert row["incentivised"] is True
    assert "a $10 voucher" in row["incentive_reason"]


def test_the_forms_raise_no_wtforms_deprecation_warning(app, customer_client):
    import warnings

    staff_client = app.test_client()
    login(staff_client, make_customer(app, staff=True))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for url in ("/advocacy/testimonials/new", "/advocacy/reviews/new", "/advocacy/testimonials/",
                    "/advocacy/wall"):
            assert customer_client.get(url).status_code == 200
        assert submit_testimonial(customer_client).status_code == 303
        assert submit_review(customer_client).status_code == 303
        [first, _] = stored_testimonials(app)
        assert staff_client.get("/advocacy/admin/testimonials/?rating=5&kind=review").status_code == 200
        assert staff_client.get(f"/advocacy/admin/testimonials/{first['id']}").status_code == 200
    deprecations = [
        str(warning.message) for warning in caught
        if issubclass(warning.category, DeprecationWarning)
        and ("wtforms" in str(warning.message).lower() or "/wtforms/" in warning.filename)
    ]
    assert deprecations == []


def _structure(page: str) -> dict:
    """Ids, label targets, aria-describedby references, fieldsets and summary links of a page."""
    from html.parser import HTMLParser

    found = {"ids": [], "labels": set(), "described": [], "controls": [], "links": [], "fieldsets": []}

    class Parser(HTMLParser):
        fieldset = None

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if "id" in attrs:
                found["ids"].append(attrs["id"])
            if tag == "label" and "for" in attrs:
                found["labels"].add(attrs["for"])
            if "aria-describedby" in attrs:
                found["described"] += attrs["aria-describedby"].split()
            if tag == "fieldset":
                self.fieldset = {"legend": False, "radios": [], "described": attrs.get("aria-describedby")}
                found["fieldsets"].append(self.fieldset)
            if tag == "legend" and self.fieldset is not None:
                self.fieldset["legend"] = True
            if tag in ("input", "textarea", "select") and attrs.get("type") not in ("hidden", "submit"):
                found["controls"].append(attrs.get("id"))
                if attrs.get("type") == "radio" and self.fieldset is not None:
                    self.fieldset["radios"].append((attrs["name"], attrs.get("aria-invalid")))
            if tag == "a" and attrs.get("href", "").startswith("#"):
                found["links"].append(attrs["href"][1:])

        def handle_endtag(self, tag):
            if tag == "fieldset":
                self.fieldset = None

    Parser().feed(page)
    return found


@pytest.mark.parametrize("url", ["/advocacy/testimonials/new", "/advocacy/reviews/new"])
def test_the_forms_are_accessible_with_their_errors(app, customer_client, url):
    tokens = form_tokens(customer_client, url)
    response = customer_client.post(url, data={**tokens, "body": "", "display_name": "", "website": ""})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    found = _structure(page)
    assert len(found["ids"]) == len(set(found["ids"])), "duplicate ids"
    assert set(found["described"]) <= set(found["ids"]), "aria-describedby names a missing element"
    # Every field a person fills in has a label (the honeypot's is there too, hidden with it).
    assert all(control and control in found["labels"] for control in found["controls"]), found["controls"]
    # The rating and the consent are radio groups, each in a fieldset with a legend, tied to its error.
    groups = {radios[0][0]: group for group in found["fieldsets"] if (radios := group["radios"])}
    assert set(groups) == {"rating", "consent"}
    for name, group in groups.items():
        assert group["legend"] and group["described"] == f"{name}-error"
        assert all(invalid == "true" for _, invalid in group["radios"])
    # The summary at the top links to each field in error.
    assert {"rating-0", "body", "display_name", "consent-0"} <= set(found["links"])
    assert set(found["links"]) <= set(found["ids"])
    assert 'aria-describedby="body-hint body-error"' in page and 'aria-invalid="true"' in page


def test_each_withdraw_button_says_which_testimonial_it_withdraws(app, customer_client):
    first = make_testimonial(app, customer_client.customer)
    second = make_testimonial(app, customer_client.customer)
    page = customer_client.get("/advocacy/testimonials/").get_data(as_text=True)
    for testimonial_id in (first, second):
        assert (f'Withdraw my consent<span class="advocacy-visually-hidden"> for testimonial {testimonial_id}'
                f'</span></button>') in page


def test_a_file_posted_where_text_is_due_is_a_clear_error(app, customer_client):
    response = submit_testimonial(customer_client, body=(io.BytesIO(b"not text\x00"), "words.txt", "text/plain"),
                                  display_name=(io.BytesIO(b"Pat"), "name.txt", "text/plain"))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Write a few words." in page and "Tell us the name to show." in page
    assert stored_testimonials(app) == []
