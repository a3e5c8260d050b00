"""The public wall, the JSON API, the schema.org JSON-LD and the host's template macro."""

from __future__ import annotations

import json
import re

import pytest
from flask import render_template_string

from tests.helpers import make_customer
from tests.testimonials_support import make_testimonial
from tests.testimonials_support import moderate

API = "/advocacy/api/testimonials"


@pytest.fixture
def published(app):
    staff = make_customer(app, staff=True)
    author = make_customer(app)
    ids = {
        "named": make_testimonial(app, author, state="approved", staff=staff, display_name="Nora Named",
                                  role="CTO, Acme", rating=5),
        "anonymous": make_testimonial(app, author, state="approved", staff=staff, display_name="Secret Sam",
                                      role="Hidden Role", consent="publish_anonymous", rating=3),
        "private": make_testimonial(app, author, state="approved", staff=staff, display_name="Private Pia",
                                    consent="do_not_publish"),
        "pending": make_testimonial(app, author, display_name="Pending Pete"),
        "rejected": make_testimonial(app, author, state="rejected", staff=staff, display_name="Rejected Rob"),
        "review": make_testimonial(app, author, state="approved", staff=staff, kind="review",
                                   product_key="pro", title="Great plan", display_name="Rita Review", rating=4),
        "review2": make_testimonial(app, author, state="approved", staff=staff, kind="review",
                                    product_key="pro", title="Good plan", display_name="Rick Review", rating=2),
    }
    ids["staff"] = staff
    return ids


def test_the_api_lists_only_approved_and_consented_items_with_anonymous_names_hidden(app, published):
    body = app.test_client().get(API).get_json()
    names = {item["display_name"] for item in body["items"]}
    assert names == {"Nora Named", "Anonymous customer", "Rita Review", "Rick Review"}
    anonymous = next(item for item in body["items"] if item["id"] == published["anonymous"])
    assert anonymous["role"] is None and anonymous["photo_url"] is None and anonymous["anonymous"] is True
    assert "Secret Sam" not in json.dumps(body)
    named = next(item for item in body["items"] if item["id"] == published["named"])
    assert set(named) >= {"id", "kind", "rating", "body", "title", "display_name", "role", "product",
                          "labels", "featured", "published_at", "photo_url", "referral_url", "highlight"}
    assert named["role"] == "CTO, Acme"
    assert named["labels"] == {"verified_customer": False, "incentivised": False, "incentive_disclosure": None,
                               "collected_via_survey": False}
    assert named["referral_url"].startswith("http://shop.test/r/")
    assert body["total"] == 4
    assert body["ratings"]["products"] == [{"key": "pro", "name": "Pro plan", "average": 3.0, "count": 2,
                                            "average_text": "3.0", "count_text": "2", "counted": "reviews",
                                            "text": "3.0 out of 5 from 2 reviews"}]
    assert body["ratings"]["overall"] == {"average": 3.5, "count": 4, "average_text": "3.5", "count_text": "4",
                                          "counted": "ratings", "text": "3.5 out of 5 from 4 ratings"}


def test_the_api_paginates_filters_and_refuses_bad_parameters_as_json(app, published):
    client = app.test_client()
    first = client.get(API + "?per_page=3").get_json()
    second = client.get(API + "?per_page=3&page=2").get_json()
    assert (first["pages"], len(first["items"]), len(second["items"])) == (2, 3, 1)
    assert not {i["id"] for i in first["items"]} & {i["id"] for i in second["items"]}
    assert {i["display_name"] for i in client.get(API + "?product=pro").get_json()["items"]} == {
        "Rita Review", "Rick Review"}
    assert [i["rating"] for i in client.get(API + "?rating=3").get_json()["items"]] == [3]
    assert {i["kind"] for i in client.get(API + "?kind=review").get_json()["items"]} == {"review"}
    for query in ("?per_page=1000", "?page=0", "?rating=9", "?kind=blog", "?product=nope", "?page=x"):
        response = client.get(API + query)
        assert response.status_code == 400, query
        assert response.get_json()["error"]["code"] == "bad_request"


def test_the_api_has_etag_304_and_public_cache_control(app, published):
    client = app.test_client()
    response = client.get(API)
    etag = response.headers["ETag"]
    assert response.headers["Cache-Control"] == "public, no-cache"
    again = client.get(API, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    moderate(app, published["named"], "feature", published["staff"])
    changed = client.get(API, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_every_api_error_is_json_even_before_a_route_matches(app, published):
    client = app.test_client()
    for method in ("post", "put", "patch", "delete"):
        # The demo host runs CSRFProtect: a write method still gets the API's 405, not a CSRF page.
        response = getattr(client, method)(API, data={"rating": "5"})
        assert response.status_code == 405, method
        assert response.content_type == "application/json"
        assert response.get_json() == {
            "error": {"code": "method_not_allowed", "message": "This API is read-only: use GET."}
        }
        assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
        assert response.headers["Cache-Control"] == "no-store"
    for method, url in (("get", "/advocacy/api/nope"), ("get", API + "/1"), ("delete", API + "/1"),
                        ("get", "/advocacy/api/"), ("post", "/advocacy/api/widget")):
        response = getattr(client, method)(url)
        assert response.status_code == 404, url
        assert response.get_json()["error"]["code"] == "not_found", url
    options = client.options(API)
    assert options.status_code == 204
    assert set(options.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    head = client.head(API)
    assert head.status_code == 200 and head.headers["ETag"] == client.get(API).headers["ETag"]
    assert client.get(API).status_code == 200  # the real endpoint is untouched


def test_the_etag_changes_when_an_item_is_unpublished_or_withdrawn(app, published):
    from advocacy_portal.db import get_session
    from advocacy_portal import Customer
    from advocacy_portal.models import Testimonial
    from advocacy_portal.services import testimonials as service

    client = app.test_client()
    first = client.get(API)
    etag = first.headers["ETag"]
    moderate(app, published["review2"], "unpublish", published["staff"])
    after_unpublish = client.get(API, headers={"If-None-Match": etag})
    assert after_unpublish.status_code == 200 and after_unpublish.headers["ETag"] != etag
    assert published["review2"] not in {item["id"] for item in after_unpublish.get_json()["items"]}

    etag = after_unpublish.headers["ETag"]
    with app.app_context():
        testimonial = get_session().get(Testimonial, published["anonymous"])
        service.withdraw(testimonial, Customer(id=testimonial.author_user_id, email=None))
        get_session().commit()
    after_withdraw = client.get(API, headers={"If-None-Match": etag})
    assert after_withdraw.status_code == 200 and after_withdraw.headers["ETag"] != etag
    assert published["anonymous"] not in {item["id"] for item in after_withdraw.get_json()["items"]}
    assert after_withdraw.get_json()["total"] == first.get_json()["total"] - 2


@pytest.mark.settings(API_RATE_LIMIT="2 per minute")
def test_the_api_answers_429_as_json(app):
    client = app.test_client()
    assert client.get(API).status_code == 200
    assert client.get(API).status_code == 200
    response = client.get(API)
    assert response.status_code == 429
    assert response.get_json()["error"] == {
        "code": "rate_limited",
        "message": "Too many requests to the testimonials API: slow down and retry later.",
    }


def test_the_wall_filters_paginates_and_shows_ratings_and_labels(app, published):
    client = app.test_client()
    page = client.get("/advocacy/wall").get_data(as_text=True)
    for name in ("Nora Named", "Anonymous customer", "Rita Review"):
        assert name in page
    for hidden in ("Secret Sam", "Private Pia", "Pending Pete", "Rejected Rob", "Hidden Role"):
        assert hidden not in page
    assert "Pro plan: 3.0 out of 5 (2 reviews)" in page
    filtered = client.get("/advocacy/wall?product=pro&rating=4").get_data(as_text=True)
    assert "Rita Review" in filtered and "Rick Review" not in filtered and "Nora Named" not in filtered
    assert client.get("/advocacy/wall?product=bogus&rating=99&page=-3").status_code == 200
    app.config["ADVOCACY_WALL_PAGE_SIZE"] = 3
    assert "Page 1 of 2" in client.get("/advocacy/wall").get_data(as_text=True)
    assert "Page 2 of 2" in client.get("/advocacy/wall?page=2").get_data(as_text=True)


def json_ld_of(page: str) -> dict:
    match = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert match, "no JSON-LD block"
    return json.loads(match.group(1))


def test_the_wall_carries_schema_org_reviews_and_aggregate_ratings(app, published):
    data = json_ld_of(app.test_client().get("/advocacy/wall").get_data(as_text=True))
    assert data["@context"] == "https://schema.org"
    by_type = {node["@type"]: node for node in data["@graph"]}
    product = by_type["Product"]
    assert product["name"] == "Pro plan"
    assert product["aggregateRating"] == {"@type": "AggregateRating", "ratingValue": 3.0, "reviewCount": 2,
                                          "bestRating": 5, "worstRating": 1}
    assert {review["author"]["name"] for review in product["review"]} == {"Rita Review", "Rick Review"}
    organization = by_type["Organization"]
    # One rating everywhere: the organisation's is the wall's, the widget's and the API's overall;
    # testimonials and reviews together are ratings, as the wall words them ("from 4 ratings").
    assert organization["aggregateRating"]["ratingCount"] == 4 and "reviewCount" not in organization["aggregateRating"]
    assert organization["aggregateRating"]["ratingValue"] == 3.5
    assert {r["author"]["name"] for r in organization["review"]} == {"Nora Named", "Anonymous customer"}
    # Every Review names what it reviews, its author and its rating, as schema.org asks.
    for node in (organization, product):
        for review in node["review"]:
            assert review["@type"] == "Review"
            assert review["itemReviewed"] == {"@type": node["@type"], "@id": node["@id"], "name": node["name"]}
            assert review["author"]["@type"] == "Person" and review["author"]["name"]
            assert review["reviewRating"]["@type"] == "Rating"
            assert 1 <= review["reviewRating"]["ratingValue"] <= 5 == review["reviewRating"]["bestRating"]
            assert review["reviewBody"]
        aggregate = node["aggregateRating"]
        assert aggregate["@type"] == "AggregateRating" and aggregate["bestRating"] == 5
        assert aggregate.get("reviewCount", aggregate.get("ratingCount")) >= 1 and 1 <= aggregate["ratingValue"] <= 5
    assert organization["@id"] == "http://shop.test/#organization"
    assert product["@id"] != organization["@id"]


def test_json_ld_stays_inside_its_script_block(app, published):
    staff = published["staff"]
    author = make_customer(app)
    evil = '</script><script id="pwned">alert(1)</script> & \u2028 done well'
    make_testimonial(app, author, state="approved", staff=staff, body=evil + " and more words", display_name="E")
    page = app.test_client().get("/advocacy/wall").get_data(as_text=True)
    data = json_ld_of(page)
    bodies = [r["reviewBody"] for node in data["@graph"] for r in node.get("review", [])]
    assert evil + " and more words" in bodies
    assert '<script id="pwned">' not in page


def test_a_host_page_renders_the_wall_with_the_macro_and_template_global(app, published):
    with app.test_request_context("/"):
        html = render_template_string(
            '{% from "advocacy/testimonials/macros.html" import testimonial_wall %}'
            '<main>{{ testimonial_wall(advocacy_testimonials(product="pro", limit=1)) }}</main>'
        )
    assert html.count("data-testimonial-id=") == 1
    assert "Rita Review" in html or "Rick Review" in html
    assert "Nora Named" not in html
    data = json_ld_of(html)
    assert data["@graph"][0]["@type"] == "Product"
    assert data["@graph"][0]["aggregateRating"]["reviewCount"] == 2


def test_each_published_testimonial_shows_its_authors_link_with_its_campaign(app, published):
    from advocacy_portal.services.links import read_link_token

    page = app.test_client().get("/advocacy/wall").get_data(as_text=True)
    links = re.findall(r'href="http://shop.test/r/([^"]+)"', page)
    assert links
    with app.app_context():
        campaigns = {read_link_token(token).campaign for token in links}
    assert f"t{published['named']}" in campaigns
    assert f"t{published['private']}" not in campaigns


def test_photos_of_published_named_testimonials_are_public(app, published):
    import io

    from tests.helpers import login
    from tests.testimonials_support import png_bytes
    from tests.testimonials_support import stored_testimonials
    from tests.testimonials_support import submit_testimonial

    client = app.test_client()
    author = make_customer(app)
    login(client, author)
    submit_testimonial(client, photo=(io.BytesIO(png_bytes(mode="RGBA", color=(1, 2, 3, 100))), "me.png",
                                      "image/png"))
    row = stored_testimonials(app)[-1]
    moderate(app, row["id"], "approve", published["staff"])
    items = app.test_client().get(API).get_json()["items"]
    photo_url = next(item["photo_url"] for item in items if item["id"] == row["id"])
    assert photo_url == f"http://shop.test/advocacy/photos/{row['photo_key']}"
    response = app.test_client().get(f"/advocacy/photos/{row['photo_key']}")
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert app.test_client().get("/advocacy/photos/../../etc/passwd").status_code == 404


def _with_photo(app, author, **overrides) -> dict:
    import io

    from tests.helpers import login
    from tests.testimonials_support import png_bytes
    from tests.testimonials_support import stored_testimonials
    from tests.testimonials_support import submit_testimonial

    client = app.test_client()
    login(client, author)
    response = submit_testimonial(client, photo=(io.BytesIO(png_bytes()), "me.png", "image/png"), **overrides)
    assert response.status_code == 303
    row = stored_testimonials(app)[-1]
    assert row["photo_key"]
    client.author = author
    return {"row": row, "client": client}


def test_an_anonymous_testimonial_never_shows_who_wrote_it(app, published):
    from advocacy_portal.services.links import read_link_token

    author = make_customer(app, email="sam.secret@example.com", name="Secret Sam")
    named = _with_photo(app, author, display_name="Secret Sam", role="CEO, Sam's Shop",
                        body="Named words about the shop, all of them true and kind.")
    anonymous = _with_photo(app, author, display_name="Secret Sam", role="CEO, Sam's Shop",
                            consent="publish_anonymous",
                            body="Anonymous words about the shop, just as true and kind.")
    for testimonial in (named, anonymous):
        moderate(app, testimonial["row"]["id"], "approve", published["staff"])
    anonymous_id, photo_key = anonymous["row"]["id"], anonymous["row"]["photo_key"]
    public = app.test_client()

    [item] = [i for i in public.get(API).get_json()["items"] if i["id"] == anonymous_id]
    assert item["display_name"] == "Anonymous customer" and item["anonymous"] is True
    assert item["role"] is None and item["photo_url"] is None
    # The referral link would carry the same advocate code as the named testimonial's link.
    assert item["referral_url"] is None
    assert "Secret Sam" not in json.dumps(item) and "Sam's Shop" not in json.dumps(item)

    wall = public.get("/advocacy/wall").get_data(as_text=True)
    card = re.search(rf'<article[^>]*data-testimonial-id="{anonymous_id}".*?</article>', wall, re.S).group(0)
    assert "Anonymous customer" in card
    for leak in ("Secret Sam", "Sam&#39;s Shop", photo_key, "/r/", "sam.secret"):
        assert leak not in card, leak
    with app.app_context():
        named_link_campaigns = {read_link_token(t).campaign for t in re.findall(r'/r/([^"]+)"', wall)}
    assert f"t{named['row']['id']}" in named_link_campaigns
    assert f"t{anonymous_id}" not in named_link_campaigns

    reviews = [r for node in json_ld_of(wall)["@graph"] for r in node.get("review", [])]
    anonymous_ld = [r for r in reviews if r["reviewBody"].startswith("Anonymous words")]
    assert [r["author"]["name"] for r in anonymous_ld] == ["Anonymous customer"]
    assert "Secret Sam" not in json.dumps(anonymous_ld)

    with app.test_request_context("/"):
        html = render_template_string(
            '{% from "advocacy/testimonials/macros.html" import testimonial_wall %}'
            '{{ testimonial_wall(advocacy_testimonials(kind="testimonial", limit=50)) }}'
        )
    macro_card = re.search(rf'<article[^>]*data-testimonial-id="{anonymous_id}".*?</article>', html, re.S).group(0)
    assert "Secret Sam" not in macro_card and photo_key not in macro_card and "/r/" not in macro_card

    # The photo itself is not public; its author and staff may still look at it.
    assert public.get(f"/advocacy/photos/{photo_key}").status_code == 404
    assert anonymous["client"].get(f"/advocacy/photos/{photo_key}").status_code == 200


def test_a_withdrawn_testimonials_photo_is_no_longer_served_and_is_deleted(app, published):
    from advocacy_portal.services import photos
    from tests.testimonials_support import form_tokens
    from tests.testimonials_support import stored_testimonials

    author = make_customer(app)
    mine = _with_photo(app, author)
    testimonial_id, key = mine["row"]["id"], mine["row"]["photo_key"]
    moderate(app, testimonial_id, "approve", published["staff"])
    public = app.test_client()
    shown = public.get(f"/advocacy/photos/{key}")
    assert shown.status_code == 200
    # Caches must ask again each time, so a withdrawal takes the photo down at once everywhere.
    assert shown.headers["Cache-Control"] == "public, no-cache"
    revalidated = public.get(f"/advocacy/photos/{key}", headers={"If-None-Match": shown.headers["ETag"]})
    assert revalidated.status_code == 304

    tokens = form_tokens(mine["client"], "/advocacy/testimonials/new")
    response = mine["client"].post(
        f"/advocacy/testimonials/{testimonial_id}/withdraw",
        data={"csrf_token": tokens["csrf_token"], f"withdraw-{testimonial_id}-confirm": "y"},
    )
    assert response.status_code == 303
    row = next(r for r in stored_testimonials(app) if r["id"] == testimonial_id)
    assert row["state"] == "withdrawn" and row["photo_key"] is None
    for client in (public, mine["client"]):
        assert client.get(f"/advocacy/photos/{key}").status_code == 404
        assert client.get(f"/advocacy/photos/{key}", headers={"If-None-Match": shown.headers["ETag"]}
                          ).status_code == 404
    with app.app_context():
        with pytest.raises(KeyError):
            photos.get_storage().open(key)


@pytest.mark.settings(WALL_PAGE_SIZE=20, API_PAGE_SIZE=20)
def test_the_wall_and_the_api_run_as_many_queries_for_20_items_as_for_2(app):
    from sqlalchemy import event

    from advocacy_portal.db import get_engine

    staff = make_customer(app, staff=True)
    for n in range(22):
        # Each by its own author (so each has its own advocate and referral link), some anonymous,
        # some product reviews, some with a highlight.
        make_testimonial(
            app, make_customer(app), state="featured" if n % 5 == 0 else "approved", staff=staff,
            display_name=f"Author {n}", consent="publish_anonymous" if n % 4 == 0 else "publish_named",
            **({"kind": "review", "product_key": "pro", "title": f"Review {n}"} if n % 3 == 0 else {}),
        )

    def statements(url: str) -> int:
        executed = []
        with app.app_context():
            engine = get_engine()

        def count(conn, cursor, statement, *args):
            executed.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            response = app.test_client().get(url)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert response.status_code == 200, url
        return len(executed)

    # The first request of an app warms things up (the rate limiter, lazy loads): not counted.
    app.test_client().get("/advocacy/wall")
    for small, large in (("/advocacy/wall?page=2", "/advocacy/wall"),
                         (API + "?per_page=2", API + "?per_page=20"),
                         (API + "?per_page=2&product=pro", API + "?per_page=20&product=pro")):
        assert statements(small) == statements(large), (small, large)
    assert statements("/advocacy/wall") <= 10
    assert statements(API + "?per_page=20") <= 10
    with app.test_request_context("/"):
        engine = get_engine()
        executed = []
        listener = lambda *args: executed.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            render_template_string(
                '{% from "advocacy/testimonials/macros.html" import testimonial_wall %}'
                '{{ testimonial_wall(advocacy_testimonials(limit=20)) }}'
            )
        finally:
            event.remove(engine, "before_cursor_execute", listener)
    assert len(executed) <= 10


@pytest.mark.settings(API_CACHE_SECONDS=60)
def test_a_site_may_let_caches_keep_the_api_for_a_while(app, published):
    assert app.test_client().get(API).headers["Cache-Control"] == "public, max-age=60"


@pytest.mark.parametrize("locale, average", [("en_US", "4.7"), ("de_DE", "4,7")])
def test_one_rating_everywhere_wall_widget_api_and_json_ld(app, locale, average):
    """Testimonials rated 5, 5 and 4 (4.666…): the wall, the host macro, the API (whose words the
    widget shows) and the JSON-LD all say 4.7 from 3, in the locale's figures ("4,7" in German) and
    as what they are, testimonials; the organisation is named from the setting, never the host."""
    app.config["ADVOCACY_BUSINESS_NAME"] = "Acme Plants"
    app.config["ADVOCACY_LOCALE"] = locale
    staff = make_customer(app, staff=True)
    author = make_customer(app)
    for rating in (5, 5, 4):
        make_testimonial(app, author, state="approved", staff=staff, rating=rating)
    client = app.test_client()
    words = f"{average} out of 5 from 3 testimonials"
    wall = client.get("/advocacy/wall").get_data(as_text=True)
    assert words in wall and "reviews" not in wall.split('class="advocacy-rating-summary"')[1].split("</p>")[0]
    home = client.get("/").get_data(as_text=True)
    assert words in home
    assert client.get(API).get_json()["ratings"]["overall"] == {
        "average": 4.7, "count": 3, "average_text": average, "count_text": "3", "counted": "testimonials",
        "text": words,
    }
    organization = json_ld_of(wall)["@graph"][0]
    assert organization["name"] == "Acme Plants"
    assert organization["aggregateRating"]["ratingValue"] == 4.7
    assert organization["aggregateRating"]["ratingCount"] == 3
    assert "shop.test" not in organization["name"]


def test_a_mix_of_testimonials_and_reviews_is_counted_as_ratings_and_reviews_alone_as_reviews(app, published):
    """The wall's overall (two testimonials, two reviews) says "ratings"; a product's (reviews only)
    "reviews"; the API and the JSON-LD say the same."""
    app.config["ADVOCACY_LOCALE"] = "de_DE"
    client = app.test_client()
    wall = client.get("/advocacy/wall").get_data(as_text=True)
    assert "3,5 out of 5 from 4 ratings" in wall and "Pro plan: 3,0 out of 5 (2 reviews)" in wall
    ratings = client.get(API).get_json()["ratings"]
    assert (ratings["overall"]["text"], ratings["products"][0]["text"]) == (
        "3,5 out of 5 from 4 ratings", "3,0 out of 5 from 2 reviews")
    product_page = client.get("/advocacy/wall?product=pro").get_data(as_text=True)
    assert "3,0 out of 5 from 2 reviews" in product_page
    assert json_ld_of(product_page)["@graph"][0]["aggregateRating"]["reviewCount"] == 2


def test_one_star_is_singular(app):
    staff = make_customer(app, staff=True)
    make_testimonial(app, make_customer(app), state="approved", staff=staff, rating=1)
    wall = app.test_client().get("/advocacy/wall").get_data(as_text=True)
    assert 'aria-label="Rated 1 star out of 5"' in wall and "1 stars" not in wall
