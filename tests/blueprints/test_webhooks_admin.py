"""The outgoing-webhook staff pages: staff only, CSRF on every form, add / edit / enable / disable /
rotate / test / replay / delete, the SSRF guard at save time, and the delivery log."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from advocacy_portal.db import get_session
from advocacy_portal.models import AuditEntry
from advocacy_portal.models import WebhookAttempt
from advocacy_portal.models import WebhookDelivery
from advocacy_portal.models import WebhookEndpoint
from tests.helpers import csrf_token
from tests.helpers import make_customer
from tests.webhook_receiver import LOCAL_DELIVERY

BASE = "/advocacy/admin/webhooks/"


def endpoint_row(app, endpoint_id=None) -> WebhookEndpoint | None:
    with app.app_context():
        query = select(WebhookEndpoint).order_by(WebhookEndpoint.id.desc())
        if endpoint_id is not None:
            query = query.where(WebhookEndpoint.id == endpoint_id)
        found = get_session().scalar(query)
        get_session().expunge_all()
        return found


def count(app, model) -> int:
    with app.app_context():
        return get_session().scalar(select(func.count()).select_from(model))


def add(client, url, events=("referral.signed_up", "reward.held"), description="CRM", secret=""):
    token = csrf_token(client, BASE + "new")
    return client.post(BASE + "new", data={
        "csrf_token": token, "url": url, "description": description, "event_types": list(events), "secret": secret,
    })


def press(client, endpoint_id, action, **data):
    token = csrf_token(client, f"{BASE}{endpoint_id}")
    return client.post(f"{BASE}{endpoint_id}/{action}", data={"csrf_token": token, **data})


@pytest.fixture
def staff_client(app, client, auth):
    auth.login(make_customer(app, "ops@example.com", staff=True))
    return client


def test_only_staff_see_the_pages(app, client, auth):
    anonymous = client.get(BASE)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    auth.login(make_customer(app))
    for path in (BASE, BASE + "new"):
        assert client.get(path).status_code == 403
    assert client.post(BASE + "new", data={"url": "https://example.com/x"}).status_code in (400, 403)
    assert count(app, WebhookEndpoint) == 0


def test_the_empty_list_says_what_to_do(staff_client):
    page = staff_client.get(BASE)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "private, no-store"
    html = page.get_data(as_text=True)
    assert "No endpoints yet" in html and "Add endpoint" in html
    assert "testimonial.published" in html  # the event types are listed


@LOCAL_DELIVERY
def test_staff_add_an_endpoint_see_its_secret_and_the_audit_log_does_not(app, staff_client, receiver):
    response = add(staff_client, receiver.url, description="HubSpot <CRM>")
    assert response.status_code == 303
    endpoint = endpoint_row(app)
    assert response.headers["Location"].endswith(f"{BASE}{endpoint.id}")
    assert (endpoint.url, endpoint.description, endpoint.event_types, endpoint.enabled) == (
        receiver.url, "HubSpot <CRM>", ["referral.signed_up", "reward.held"], True)
    assert endpoint.secret.startswith("whsec_")
    page = staff_client.get(f"{BASE}{endpoint.id}").get_data(as_text=True)
    assert endpoint.secret in page
    assert "HubSpot &lt;CRM&gt;" in page and "HubSpot <CRM>" not in page
    assert "Nothing sent yet" in page
    with app.app_context():
        [entry] = get_session().scalars(select(AuditEntry).where(AuditEntry.action == "webhook.create"))
        assert entry.actor_email == "ops@example.com"
        assert endpoint.secret not in str(entry.after) and entry.after["url"] == receiver.url


@LOCAL_DELIVERY
def test_a_secret_given_by_the_receiving_system_is_kept(app, staff_client, receiver):
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    assert add(staff_client, receiver.url, secret=secret).status_code == 303
    assert endpoint_row(app).secret == secret
    bad = add(staff_client, receiver.url, secret="not-a-secret")
    assert bad.status_code == 400 and "A secret starts with whsec_" in bad.get_data(as_text=True)


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://hooks.example.com/x", "Webhooks are sent over HTTPS only"),
        ("https://127.0.0.1/x", "Refused: 127.0.0.1 is a loopback address"),
        ("https://localhost:8443/x", "Refused: localhost ("),  # a name that resolves to a loopback address
        ("https://[::ffff:192.168.0.10]/x", "carries the IPv4 address 192.168.0.10, which is a private address"),
        ("https://169.254.169.254/latest", "link-local"),
        ("https://user:secret@hooks.example.com/x", "no user name or password"),
        ("hooks.example.com/x", "must start with https://"),
        ("https://hooks.example.com/a b", "spaces or control characters"),
    ],
)
def test_unsafe_urls_are_refused_with_a_reason_and_nothing_is_stored(app, staff_client, url, message):
    response = add(staff_client, url)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html.replace("&#39;", "'")
    assert 'aria-invalid="true"' in html
    assert count(app, WebhookEndpoint) == 0


@LOCAL_DELIVERY
def test_an_endpoint_needs_an_event(app, staff_client, receiver):
    response = add(staff_client, receiver.url, events=())
    assert response.status_code == 400 and "Choose at least one event" in response.get_data(as_text=True)
    response = add(staff_client, receiver.url, events=("referral.exploded",))
    assert response.status_code == 400 and "Unknown event type" in response.get_data(as_text=True)
    assert count(app, WebhookEndpoint) == 0


@LOCAL_DELIVERY
def test_every_form_needs_its_csrf_token(app, staff_client, receiver):
    response = staff_client.post(BASE + "new", data={"url": receiver.url, "event_types": ["reward.held"]})
    assert response.status_code == 400
    assert count(app, WebhookEndpoint) == 0
    add(staff_client, receiver.url)
    endpoint = endpoint_row(app)
    for action in ("rotate", "test", "disable", "delete", "end-rotation", "edit"):
        refused = staff_client.post(f"{BASE}{endpoint.id}/{action}", data={"confirm": "y", "url": "https://x.example"})
        assert refused.status_code == 400, action
    after = endpoint_row(app, endpoint.id)
    assert (after.secret, after.enabled, after.url) == (endpoint.secret, True, endpoint.url)
    assert receiver.requests == []


@LOCAL_DELIVERY
def test_send_test_event_delivers_a_signed_ping_and_logs_it(app, staff_client, receiver):
    add(staff_client, receiver.url, events=("testimonial.published",))
    endpoint = endpoint_row(app)
    response = press(staff_client, endpoint.id, "test")
    assert response.status_code == 303
    [payload] = receiver.verified(endpoint.secret)
    assert payload["type"] == "webhook.test" and payload["data"]["endpoint_id"] == endpoint.id
    page = staff_client.get(f"{BASE}{endpoint.id}").get_data(as_text=True)
    assert "Test event delivered: the endpoint answered 200." in page
    assert "webhook.test" in page and "(test)" in page and ">200<" in page


@LOCAL_DELIVERY
def test_a_failing_test_event_says_why(app, staff_client, receiver):
    add(staff_client, receiver.url)
    endpoint = endpoint_row(app)
    receiver.answer(401, "bad signature, says the CRM")
    press(staff_client, endpoint.id, "test")
    page = staff_client.get(f"{BASE}{endpoint.id}").get_data(as_text=True)
    assert "Test event not delivered: The endpoint answered 401." in page
    assert "bad signature, says the CRM" in page  # the response snippet in the log


@LOCAL_DELIVERY
def test_rotating_the_secret_signs_with_both_until_staff_end_it(app, staff_client, receiver):
    add(staff_client, receiver.url)
    endpoint = endpoint_row(app)
    old = endpoint.secret
    assert press(staff_client, endpoint.id, "rotate").status_code == 303
    rotated = endpoint_row(app, endpoint.id)
    assert rotated.secret != old and rotated.previous_secret == old
    page = staff_client.get(f"{BASE}{endpoint.id}").get_data(as_text=True)
    assert "For 24 hours every message is signed with both secrets" in page
    assert rotated.secret in page and old in page and "Rotating: until" in page
    press(staff_client, endpoint.id, "test")
    request = receiver.requests[-1]
    assert len(request.header("webhook-signature").split()) == 2
    Webhook(old).verify(request.body, request.headers)
    Webhook(rotated.secret).verify(request.body, request.headers)

    assert press(staff_client, endpoint.id, "end-rotation").status_code == 303
    assert endpoint_row(app, endpoint.id).previous_secret is None
    press(staff_client, endpoint.id, "test")
    assert len(receiver.requests[-1].header("webhook-signature").split()) == 1
    with app.app_context():
        actions = [entry.action for entry in get_session().scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == ["webhook.create", "webhook.rotate_secret", "webhook.test", "webhook.end_rotation", "webhook.test"]


@LOCAL_DELIVERY
def test_a_410_shows_the_endpoint_disabled_and_staff_enable_and_replay(app, staff_client, receiver):
    add(staff_client, receiver.url)
    endpoint = endpoint_row(app)
    receiver.answer(410, "gone")
    with app.app_context():
        from advocacy_portal.services import outgoing_webhooks

        message_id = outgoing_webhooks.emit("referral.signed_up", {"referral": {"id": 5}})
        get_session().commit()
    page = staff_client.get(f"{BASE}{endpoint.id}").get_data(as_text=True)
    assert "Disabled" in page and "The endpoint answered 410 Gone" in page
    listing = staff_client.get(BASE).get_data(as_text=True)
    assert "Disabled" in listing and "410 Gone" in listing
    with app.app_context():
        delivery_id = get_session().scalar(select(WebhookDelivery.id))
    assert press(staff_client, endpoint.id, "enable").status_code == 303
    assert endpoint_row(app, endpoint.id).enabled
    response = press(staff_client, endpoint.id, f"deliveries/{delivery_id}/replay")
    assert response.status_code == 303
    page = staff_client.get(f"{BASE}{endpoint.id}").get_data(as_text=True)
    assert "Replay delivered: the endpoint answered 200." in page
    assert "(replayed 1×)" in page and "(replay)" in page
    assert [request.header("webhook-id") for request in receiver.requests] == [message_id, message_id]
    receiver.verified(endpoint.secret)
    with app.app_context():
        assert [a.status_code for a in get_session().scalars(select(WebhookAttempt).order_by(WebhookAttempt.id))] == [410, 200]


@LOCAL_DELIVERY
def test_replay_of_another_endpoints_delivery_is_a_404(app, staff_client, receiver):
    add(staff_client, receiver.url)
    add(staff_client, receiver.url + "/other")
    first, second = sorted(endpoint.id for endpoint in [endpoint_row(app)] + [endpoint_row(app, 1)])
    press(staff_client, first, "test")
    with app.app_context():
        delivery_id = get_session().scalar(select(WebhookDelivery.id))
    assert press(staff_client, second, f"deliveries/{delivery_id}/replay").status_code == 404
    assert staff_client.get(f"{BASE}999").status_code == 404


@LOCAL_DELIVERY
def test_disable_edit_and_delete(app, staff_client, receiver):
    add(staff_client, receiver.url)
    endpoint = endpoint_row(app)
    assert press(staff_client, endpoint.id, "disable").status_code == 303
    assert endpoint_row(app, endpoint.id).enabled is False
    assert "Disabled by staff." in staff_client.get(f"{BASE}{endpoint.id}").get_data(as_text=True)

    form = staff_client.get(f"{BASE}{endpoint.id}/edit").get_data(as_text=True)
    assert f'value="{receiver.url}"' in form and re.search(r'value="reward.held"[^>]*checked|checked[^>]*value="reward.held"', form)
    token = csrf_token(staff_client, f"{BASE}{endpoint.id}/edit")
    app.config["ADVOCACY_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES"] = False  # production: the guard applies to edits
    refused = staff_client.post(f"{BASE}{endpoint.id}/edit", data={
        "csrf_token": token, "url": "https://10.0.0.5/x", "event_types": ["reward.held"]})
    assert refused.status_code == 400 and "10.0.0.5 is a private address" in refused.get_data(as_text=True)
    assert endpoint_row(app, endpoint.id).url == receiver.url
    app.config["ADVOCACY_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES"] = True
    saved = staff_client.post(f"{BASE}{endpoint.id}/edit", data={
        "csrf_token": token, "url": receiver.url + "/v2", "description": "Accounting",
        "event_types": ["reward.released", "reward.redeemed"]})
    assert saved.status_code == 303
    changed = endpoint_row(app, endpoint.id)
    assert (changed.url, changed.description, changed.event_types) == (
        receiver.url + "/v2", "Accounting", ["reward.released", "reward.redeemed"])

    press(staff_client, endpoint.id, "test")
    not_confirmed = press(staff_client, endpoint.id, "delete")
    assert not_confirmed.status_code == 303 and endpoint_row(app, endpoint.id) is not None
    deleted = press(staff_client, endpoint.id, "delete", confirm="y")
    assert deleted.status_code == 303 and deleted.headers["Location"].endswith(BASE)
    assert endpoint_row(app, endpoint.id) is None
    assert count(app, WebhookDelivery) == 0 and count(app, WebhookAttempt) == 0
    assert f"Endpoint {receiver.url}/v2 deleted." in staff_client.get(BASE).get_data(as_text=True)


@LOCAL_DELIVERY
def test_customers_cannot_use_the_actions(app, client, auth, receiver):
    staff = make_customer(app, staff=True)
    auth.login(staff)
    add(client, receiver.url)
    endpoint = endpoint_row(app)
    token = csrf_token(client, f"{BASE}{endpoint.id}")
    auth.logout()
    auth.login(make_customer(app))
    for action in ("rotate", "test", "disable", "delete"):
        assert client.post(f"{BASE}{endpoint.id}/{action}", data={"csrf_token": token, "confirm": "y"}).status_code in (400, 403)
    assert client.get(f"{BASE}{endpoint.id}").status_code == 403
    assert endpoint_row(app, endpoint.id).secret == endpoint.secret
    assert receiver.requests == []
