"""Privacy in real Chromium: a customer downloads their data export; staff erase a customer from the
advocate's page, through the confirmation step, and the customer's old link answers 404."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
import zipfile

from sqlalchemy import select

from advocacy_portal.db import get_session
from advocacy_portal import models
from advocacy_portal.services import referrals
from advocacy_portal.services.photos import get_storage
from tests.browser.a11y import look_at
from tests.browser.test_referral_flow import expect
from tests.browser.test_referral_flow import log_in
from tests.helpers import login
from tests.helpers import make_customer
from tests.testimonials_support import png_bytes
from tests.testimonials_support import submit_testimonial


def referral_path(app, customer) -> str:
    from advocacy_portal import get_portal

    with app.test_request_context("/"):
        return get_portal(app).referral_link(customer, external=False)


def test_a_customer_downloads_their_data_export(app, new_context):
    customer = make_customer(app, name="Dana Download")
    referral_path(app, customer)  # an advocate with a link
    # A testimonial with a photo: it comes back as a file in the zip.
    author = app.test_client()
    login(author, customer)
    assert submit_testimonial(author, display_name="Dana D.", photo=(io.BytesIO(png_bytes()), "me.png",
                                                                     "image/png")).status_code in (302, 303)
    with app.app_context():
        key = get_session().scalar(select(models.Testimonial.photo_key))
        with get_storage(app).open(key) as stored:
            photo = stored.read()
    page = new_context().new_page()
    log_in(page, customer)
    page.goto("/advocacy/")
    page.get_by_role("link", name="Your data").click()
    expect(page.get_by_role("heading", name="Your data", exact=True)).to_be_visible()
    look_at(page, "privacy-page")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download my data").click()
    download = download_info.value
    assert download.suggested_filename == "my-advocacy-data.zip"
    with zipfile.ZipFile(download.path()) as archive:
        document = json.loads(archive.read("export.json"))
        [testimonial] = document["tables"]["advocacy_testimonials"]
        assert archive.read(testimonial["photo_file"]) == photo
    assert document["schema"] == "advocacy-portal.person-export"
    assert document["user_id"] == str(customer.id)
    assert document["tables"]["advocacy_advocates"][0]["email"] == customer.email


def test_staff_erase_a_customer_with_a_confirmation_step(app, new_context, live_server):
    staff = make_customer(app, staff=True, name="Sam Staff")
    customer = make_customer(app, name="Erin Erased")
    path = referral_path(app, customer)
    with app.app_context():
        advocate_id = referrals.get_advocate(customer.id).id
        get_session().commit()
    page = new_context().new_page()
    log_in(page, staff)
    page.goto(f"/advocacy/admin/advocates/{advocate_id}")
    page.get_by_role("link", name=f"Erase customer {customer.id}").click()
    expect(page.get_by_role("heading", name=f"Erase customer {customer.id}")).to_be_visible()
    look_at(page, "privacy-erase-confirm")
    page.get_by_label("Type the customer's user id to confirm").fill("wrong")
    page.get_by_label("I understand this cannot be undone").check()
    page.get_by_role("button", name="Erase this customer").click()
    expect(page.get_by_text("That is not this customer's user id.")).to_be_visible()
    look_at(page, "privacy-erase-error")
    page.get_by_label("Type the customer's user id to confirm").fill(str(customer.id))
    page.get_by_label("I understand this cannot be undone").check()
    page.get_by_role("button", name="Erase this customer").click()
    expect(page.get_by_text(f"Customer {customer.id} was erased")).to_be_visible()
    try:
        urllib.request.urlopen(urllib.request.Request(
            live_server.url + path, headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0"}))
        status = 200
    except urllib.error.HTTPError as error:
        status = error.code
    assert status == 404
