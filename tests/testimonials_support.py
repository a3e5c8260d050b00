"""Builders of the testimonial tests: submit through the real forms, act as staff, a local SMTP server."""

from __future__ import annotations

import io
import re
import threading
from dataclasses import dataclass
from dataclasses import field

from tests.helpers import CSRF_FIELD

NONCE_FIELD = re.compile(r'id="nonce" name="nonce" type="hidden" value="([^"]+)"')
BODY = "Working with this shop has been a pleasure from the first order to the last."


def form_tokens(client, url: str) -> dict:
    """The CSRF token and submission nonce of the form at ``url``."""
    page = client.get(url).get_data(as_text=True)
    csrf = CSRF_FIELD.search(page)
    nonce = NONCE_FIELD.search(page)
    assert csrf and nonce, page[:2000]
    return {"csrf_token": csrf.group(1), "nonce": nonce.group(1)}


def testimonial_data(**overrides) -> dict:
    data = {
        "rating": "5",
        "body": BODY,
        "display_name": "Pat Customer",
        "role": "Owner, Pat's Plants",
        "consent": "publish_named",
        "website": "",
    }
    data.update(overrides)
    return data


def submit_testimonial(client, tokens: dict | None = None, **overrides):
    """Post the testimonial form as a browser would; returns the response."""
    tokens = tokens or form_tokens(client, "/advocacy/testimonials/new")
    data = {**tokens, **testimonial_data(**overrides)}
    return client.post("/advocacy/testimonials/new", data=data, content_type="multipart/form-data")


def submit_review(client, **overrides):
    tokens = form_tokens(client, "/advocacy/reviews/new")
    data = {
        **tokens,
        "product": "pro",
        "rating": "4",
        "title": "Does what it says",
        "body": BODY,
        "display_name": "Rae Reviewer",
        "consent": "publish_named",
        "website": "",
    }
    data.update(overrides)
    return client.post("/advocacy/reviews/new", data=data)


def stored_testimonials(app):
    """Every testimonial row, oldest first (detached plain dicts)."""
    from sqlalchemy import select

    from advocacy_portal.db import get_session
    from advocacy_portal.models import Testimonial

    with app.app_context():
        rows = get_session().scalars(select(Testimonial).order_by(Testimonial.id)).all()
        return [
            {column.name: getattr(row, column.name) for column in Testimonial.__table__.columns}
            for row in rows
        ]


def staff_customer(ref):
    from advocacy_portal import Customer

    return Customer(id=str(ref.id), email=ref.email)


def moderate(app, testimonial_id: int, action: str, staff, **kwargs):
    from advocacy_portal.db import get_session
    from advocacy_portal.services import testimonials as service

    with app.app_context():
        service.moderate(testimonial_id, action, staff_customer(staff), **kwargs)
        get_session().commit()


def make_testimonial(app, author, *, state: str = "pending", staff=None, **fields):
    """A testimonial by ``author`` (a CustomerRef) through the service; approved etc. by ``staff``."""
    import secrets

    from advocacy_portal.db import get_session
    from advocacy_portal.services import testimonials as service

    values = dict(
        rating=5, body=BODY, display_name="Pat Customer", role=None, consent="publish_named",
        kind="testimonial",
    )
    values.update(fields)
    with app.app_context():
        testimonial = service.submit(staff_customer(author), nonce=secrets.token_urlsafe(24), **values).testimonial
        get_session().commit()
        testimonial_id = testimonial.id
    if state in ("approved", "featured", "unpublished"):
        moderate(app, testimonial_id, "approve", staff)
    if state == "featured":
        moderate(app, testimonial_id, "feature", staff)
    if state == "unpublished":
        moderate(app, testimonial_id, "unpublish", staff)
    if state == "rejected":
        moderate(app, testimonial_id, "reject", staff, reason="off_topic")
    return testimonial_id


def png_bytes(size=(64, 48), color=(200, 30, 30), exif: bool = False, mode: str = "RGB") -> bytes:
    from PIL import Image

    image = Image.new(mode, size, color)
    out = io.BytesIO()
    if exif:
        info = Image.Exif()
        info[0x010F] = "SecretCamera"  # Make
        image.save(out, "JPEG", exif=info.tobytes())
    else:
        image.save(out, "PNG")
    return out.getvalue()


@dataclass
class SmtpSink:
    """A local aiosmtpd server that keeps what it receives; ``fail_next`` refuses that many messages
    with a temporary error first."""

    port: int = 0
    messages: list = field(default_factory=list)
    #: Whether each received message came over TLS (STARTTLS or implicit).
    over_tls: list = field(default_factory=list)
    fail_next: int = 0
    #: The answer to the refused messages (a temporary 451 unless set).
    fail_with: str = "451 Try again later"
    #: Seconds to wait before answering DATA (a stalled server).
    stall_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):
        if self.stall_seconds:
            import asyncio

            await asyncio.sleep(self.stall_seconds)
            return "451 Too late"
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return self.fail_with
            from email import message_from_bytes
            from email import policy

            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
            implicit_tls = server.transport.get_extra_info("ssl_object") is not None
            self.over_tls.append(session.ssl is not None or implicit_tls)
        return "250 OK"


def start_smtp_sink(**controller_options):
    """Start a sink on a free local port; returns ``(sink, controller)``; stop with ``controller.stop()``.

    ``controller_options`` go to aiosmtpd's ``Controller`` (``tls_context``, ``require_starttls``,
    ``authenticator``...)."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = SmtpSink(port=port)
    controller = Controller(sink, hostname="127.0.0.1", port=port, **controller_options)
    controller.start()
    return sink, controller
