"""The staff outbox page over HTTP: staff only, CSRF, replay of one task or a topic, audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from advocacy_portal import outbox
from advocacy_portal.db import get_session
from advocacy_portal.models import AuditEntry
from advocacy_portal.models import OutboxTask
from tests.helpers import csrf_token
from tests.helpers import make_customer

PAGE = "/advocacy/admin/outbox"
REPLAY = "/advocacy/admin/outbox/replay"
pytestmark = pytest.mark.settings(TASK_EXECUTOR="worker", OUTBOX_MAX_ATTEMPTS=1)


def dead_notes(app, count: int) -> list[int]:
    with app.app_context():
        ids = [outbox.enqueue("shop.note", {"text": f"n{n}", "fail": 1}) for n in range(count)]
        get_session().commit()
    assert outbox.run_due(app).dead == count
    return ids


def states(app) -> dict[int, str]:
    with app.app_context():
        return dict(get_session().execute(select(OutboxTask.id, OutboxTask.state)).all())


def test_only_staff_see_the_outbox_and_replay(app, client, auth):
    [task_id] = dead_notes(app, 1)
    assert client.get(PAGE).status_code == 302  # to the login page
    assert client.post(REPLAY, data={"task_id": task_id}).status_code in (302, 400)
    auth.login(make_customer(app))
    assert client.get(PAGE).status_code == 403
    token = csrf_token(client, "/advocacy/")
    assert client.post(REPLAY, data={"task_id": task_id, "csrf_token": token}).status_code == 403
    assert states(app) == {task_id: "dead"}


def test_a_replay_without_its_csrf_token_is_refused(app, client, auth):
    [task_id] = dead_notes(app, 1)
    auth.login(make_customer(app, staff=True))
    response = client.post(REPLAY, data={"task_id": task_id})
    assert response.status_code == 400
    assert states(app) == {task_id: "dead"}


def test_staff_replay_one_task_or_every_dead_task_of_a_topic_and_it_is_audited(app, client, auth):
    ids = dead_notes(app, 3)
    staff = make_customer(app, "ops@example.com", staff=True)
    auth.login(staff)
    page = client.get(PAGE)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "private, no-store"
    html = page.get_data(as_text=True)
    assert html.count('data-task="') == 3 and "failed on purpose" in html

    token = csrf_token(client, PAGE)
    response = client.post(REPLAY, data={"task_id": ids[0], "csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"].endswith(PAGE)
    assert states(app)[ids[0]] == "queued"
    # Replaying it again: not dead any more, nothing happens, and staff are told.
    client.post(REPLAY, data={"task_id": ids[0], "csrf_token": token})
    assert "Nothing to replay" in client.get(PAGE).get_data(as_text=True)

    client.post(REPLAY, data={"topic": "shop.note", "csrf_token": token})
    assert set(states(app).values()) == {"queued"}
    for bad in ({"task_id": "1; drop table"}, {}):
        assert client.post(REPLAY, data={**bad, "csrf_token": token}).status_code == 400
    with app.app_context():
        audited = get_session().scalars(select(AuditEntry).where(AuditEntry.action == "outbox.replay")).all()
        assert sorted(int(entry.subject_id) for entry in audited) == sorted(ids)
        assert {entry.actor_email for entry in audited} == {"ops@example.com"}
