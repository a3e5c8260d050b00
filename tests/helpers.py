"""Builders shared by the tests: customers, logins, signups, links and clicks through the real app."""

from __future__ import annotations

import importlib
import re
import time
import uuid
from itertools import count

PASSWORD = "correct horse battery"

_serial = count(1)


def make_customer(app, email: str | None = None, *, staff: bool = False, name: str = "Test Customer"):
    """A host user, committed; returns its id and email as a plain object usable after the session."""
    from werkzeug.security import generate_password_hash

    host = host_of(app)
    db, User = host.db, host.User
    email = email or f"customer{next(_serial)}-{uuid.uuid4().hex[:6]}@example.com"
    with app.app_context():
        user = User(
            email=email,
            name=name,
            password_hash=generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"),
            is_staff=staff,
        )
        db.session.add(user)
        db.session.commit()
        return CustomerRef(id=user.id, email=user.email)


def host_of(app):
    """The module that built ``app`` (:mod:`tests.host_app`, or ``wsgi`` for the demo): its ``db`` and ``User``."""
    return importlib.import_module(app.import_name)


class CustomerRef:
    def __init__(self, id: int, email: str):
        self.id = id
        self.email = email

    # Enough of a flask-login user for AdvocacyPortal.identify.
    is_authenticated = True

    def get_id(self) -> str:
        return str(self.id)


CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(client, url: str) -> str:
    """The CSRF token of the first form on the page at ``url``."""
    response = client.get(url)
    match = CSRF_FIELD.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {url} ({response.status_code})"
    return match.group(1)


def login(client, customer, password: str = PASSWORD):
    """Log ``customer`` in through the host's real login form."""
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"email": customer.email, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def signup(client, email: str, name: str = "New Friend", password: str = PASSWORD):
    """Sign up through the host's real signup form; returns the response."""
    token = csrf_token(client, "/signup")
    return client.post(
        "/signup",
        data={"email": email, "name": name, "password": password, "csrf_token": token},
    )


def referral_path(app, customer, campaign: str | None = None) -> str:
    """The path of a customer's referral link (``/r/<token>``)."""
    from advocacy_portal.db import get_session
    from advocacy_portal import get_portal

    with app.app_context():
        link = get_portal(app).referral_link(customer, campaign=campaign)
        get_session().commit()
    return link.split("shop.test", 1)[1]


BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
)


def follow(
    client, path: str, *, ip: str = "203.0.113.7", user_agent: str = BROWSER_UA, query_string=None,
    **headers,
):
    """Open a referral link as a browser would (the test client's own User-Agent looks like a bot)."""
    return client.get(
        path,
        query_string=query_string,
        headers={"User-Agent": user_agent, **headers},
        environ_base={"REMOTE_ADDR": ip},
    )


def wait_for(condition, timeout: float = 30.0, interval: float = 0.05) -> bool:
    """Poll ``condition()`` until it is true (``True``) or ``timeout`` seconds pass (``False``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


def shop_notes(app) -> list[str]:
    """The texts of the test shop's ``shop.note`` outbox tasks that ran (its ``Note`` rows), in order."""
    from advocacy_portal.db import get_session

    Note = host_of(app).Note
    with app.app_context():
        return list(get_session().scalars(Note.__table__.select().with_only_columns(Note.text).order_by(Note.id)))
