"""The plugin's emails: written to an outbox in the action's transaction, sent over SMTP after commit.

:func:`queue` renders a message (plain text and HTML, from templates the host can override) into an
:class:`advocacy_portal.models.OutboxMessage`. When the session commits, the new messages are sent, on a
connection of their own; a failed send is logged and left queued with a later ``next_attempt_at``,
retried by ``flask advocacy mail retry`` and whenever the plugin next sends mail. A failure never
undoes the action that wrote the message. Without ``ADVOCACY_MAIL_SERVER`` mail stays in the outbox.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from advocacy_portal.config import config_value
from advocacy_portal.db import after_commit
from advocacy_portal.db import get_engine
from advocacy_portal.db import get_session
from advocacy_portal.models import OutboxMessage
from advocacy_portal.models import utcnow

log = logging.getLogger(__name__)

#: A message being sent is leased for this long, so a concurrent sender skips it.
LEASE = timedelta(minutes=5)
#: Most messages one send pass handles.
BATCH = 50


def queue(
    topic: str,
    to_address: str,
    subject: str,
    text_template: str,
    html_template: str | None,
    context: dict,
    *,
    subject_type: str | None = None,
    subject_id=None,
) -> OutboxMessage:
    """Render a message into the outbox (flushed); it is sent once the caller's session commits.

    :param topic: what the message is, e.g. ``"testimonial.thanks"``.
    :param text_template: template path of the plain text part.
    :param html_template: template path of the HTML part, or ``None`` for plain text only.
    :param context: the templates' variables.
    """
    message = OutboxMessage(
        topic=topic,
        subject_type=subject_type,
        subject_id=None if subject_id is None else str(subject_id),
        to_address=to_address,
        subject=subject[:255],
        text_body=_render(text_template, context),
        html_body=_render(html_template, context) if html_template else None,
        state="queued",
        attempts=0,
        next_attempt_at=utcnow(),
        created_at=utcnow(),
    )
    session = get_session()
    session.add(message)
    session.flush()
    app = current_app._get_current_object()
    # Sent once the message is committed, on a session of its own; one pass per transaction and app.
    after_commit(lambda: _send_committed(app), key=("advocacy-mail", id(app)), app_context=False)
    return message


def _render(template: str, context: dict) -> str:
    # Straight from the app's template environment (so a host's own file of the same path wins),
    # without the request's context processors: mail is also written from commands and jobs.
    return current_app.jinja_env.get_template(template).render(**context)


@dataclass(frozen=True)
class SendReport:
    """What one send pass did."""

    sent: int
    failed: int
    skipped: int


def send_due(app=None, now=None, limit: int = BATCH) -> SendReport:
    """Send every queued message whose time has come (new ones and retries), each claimed first so
    two senders never send the same message. Runs on its own session; never raises for SMTP errors.
    """
    app = app or current_app._get_current_object()
    with app.app_context():
        if not config_value("MAIL_SERVER"):
            waiting = _count_due(now)
            if waiting:
                log.info("Mail is off (no ADVOCACY_MAIL_SERVER): %d message(s) kept in the outbox", waiting)
            return SendReport(0, 0, waiting)
        sent = failed = 0
        for message_id in _claim_due(now, limit):
            if _send_one(message_id):
                sent += 1
            else:
                failed += 1
        return SendReport(sent, failed, 0)


def _own_session() -> Session:
    return Session(bind=get_engine(), expire_on_commit=False)


def _count_due(now) -> int:
    with _own_session() as session:
        return len(
            session.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.state == "queued", OutboxMessage.next_attempt_at <= (now or utcnow())
                )
            ).all()
        )


def _claim_due(now, limit: int) -> list[int]:
    now = now or utcnow()
    claimed = []
    with _own_session() as session:
        due = session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.state == "queued", OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
        ).all()
        for message_id in due:
            # Claim it: push its time past the lease, only if nobody else did so first.
            result = session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == message_id,
                    OutboxMessage.state == "queued",
                    OutboxMessage.next_attempt_at <= now,
                )
                .values(next_attempt_at=now + LEASE)
                .execution_options(synchronize_session=False)
            )
            session.commit()
            if result.rowcount == 1:
                claimed.append(message_id)
    return claimed


def _send_one(message_id: int) -> bool:
    with _own_session() as session:
        message = session.get(OutboxMessage, message_id)
        try:
            deliver(build_email(message))
        except (OSError, smtplib.SMTPException) as error:
            message.attempts += 1
            message.last_error = f"{type(error).__name__}: {error}"[:2000]
            if message.attempts >= config_value("MAIL_MAX_ATTEMPTS"):
                message.state = "failed"
                log.error(
                    "Gave up on email %s (%s) to %s after %d attempts: %s",
                    message.id, message.topic, message.to_address, message.attempts, message.last_error,
                )
            else:
                delay = config_value("MAIL_RETRY_SECONDS") * 2 ** (message.attempts - 1)
                message.next_attempt_at = utcnow() + timedelta(seconds=delay)
                log.warning(
                    "Could not send email %s (%s) to %s, attempt %d; retrying in %ds: %s",
                    message.id, message.topic, message.to_address, message.attempts, delay,
                    message.last_error,
                )
            session.commit()
            return False
        message.attempts += 1
        message.state = "sent"
        message.sent_at = utcnow()
        message.last_error = None
        session.commit()
        return True


def build_email(message: OutboxMessage) -> EmailMessage:
    """The MIME message of an outbox row: plain text, with an HTML alternative when there is one."""
    email = EmailMessage()
    email["Subject"] = message.subject
    email["From"] = config_value("MAIL_SENDER")
    email["To"] = message.to_address
    email["Message-ID"] = make_msgid(domain=config_value("MAIL_SENDER").rpartition("@")[2] or None)
    email.set_content(message.text_body)
    if message.html_body:
        email.add_alternative(message.html_body, subtype="html")
    return email


def deliver(email: EmailMessage) -> None:
    """Hand one message to the SMTP server of the settings.

    :raises smtplib.SMTPException: or :class:`OSError` when the server refuses or cannot be reached.
    """
    host, port = config_value("MAIL_SERVER"), config_value("MAIL_PORT")
    timeout = config_value("MAIL_TIMEOUT_SECONDS")
    if config_value("MAIL_USE_SSL"):
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    with smtp:
        if config_value("MAIL_USE_TLS"):
            smtp.starttls(context=ssl.create_default_context())
        username = config_value("MAIL_USERNAME")
        if username:
            smtp.login(username, config_value("MAIL_PASSWORD") or "")
        smtp.send_message(email)


def outbox_counts() -> dict[str, int]:
    """How many messages are queued, sent and failed."""
    counts = {"queued": 0, "sent": 0, "failed": 0}
    for state in get_session().scalars(select(OutboxMessage.state)):
        counts[state] += 1
    return counts


def _send_committed(app) -> None:
    try:
        send_due(app)
    except Exception:  # the action is committed; mail waits for the next pass
        log.exception("Sending the Advocacy Portal outbox failed")
