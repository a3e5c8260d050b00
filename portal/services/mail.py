"""The plugin's emails: written to the outbox in the action's transaction, sent over SMTP by the relay.

:func:`queue` renders a message (plain text and HTML, from templates the host can override) into an
``email`` task of the outbox (:mod:`advocacy_portal.outbox`). Once the action commits, the relay sends
it: right away with the ``inline`` executor, else by ``flask advocacy worker`` or the host's queue. A
failed send is retried with backoff (``ADVOCACY_MAIL_RETRY_SECONDS``, doubling) and parked as dead after
``ADVOCACY_MAIL_MAX_ATTEMPTS``; a server's permanent refusal (5xx) parks it at once. A failure never
undoes the action that wrote the message. Without ``ADVOCACY_MAIL_SERVER`` mail waits in the outbox,
without using up its attempts.

A message is marked sent in the transaction that follows the SMTP server's acceptance; if the process
dies in between, it is sent again with the same Message-ID, which lets mail systems drop the repeat.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage

from flask import current_app
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from advocacy_portal import outbox
from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.models import OutboxTask
from advocacy_portal.models import utcnow

log = logging.getLogger(__name__)

#: The outbox topic of emails.
TOPIC = "email"
#: How long mail waits when no SMTP server is set, before the relay looks again.
MAIL_OFF_RECHECK_SECONDS = 3600
#: The last error of an email that waits for an SMTP server.
MAIL_OFF = "Mail is off (no ADVOCACY_MAIL_SERVER)"


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
) -> int:
    """Render a message into the outbox (flushed); it is sent once the caller's session commits.

    :param topic: what the message is, e.g. ``"testimonial.thanks"`` (the task's ``kind``).
    :param text_template: template path of the plain text part.
    :param html_template: template path of the HTML part, or ``None`` for plain text only.
    :param context: the templates' variables.
    :returns: the outbox task's id.
    """
    payload = {
        "kind": topic,
        "to": to_address,
        "subject": subject[:255],
        "text": _render(text_template, context),
        "html": _render(html_template, context) if html_template else None,
    }
    return outbox.enqueue(TOPIC, payload, subject_type=subject_type, subject_id=subject_id)


def _render(template: str, context: dict) -> str:
    # Straight from the app's template environment (so a host's own file of the same path wins),
    # without the request's context processors: mail is also written from commands and jobs.
    return current_app.jinja_env.get_template(template).render(**context)


@outbox.handler(
    TOPIC,
    max_attempts=lambda: config_value("MAIL_MAX_ATTEMPTS"),
    retry_seconds=lambda: config_value("MAIL_RETRY_SECONDS"),
)
def send(task: outbox.Task) -> None:
    """The outbox handler of ``email`` tasks: one SMTP delivery."""
    if not config_value("MAIL_SERVER"):
        raise outbox.Retry(MAIL_OFF, MAIL_OFF_RECHECK_SECONDS, counts=False)
    payload = task.payload
    try:
        deliver(build_email(payload, message_id=_message_id(task)))
    except smtplib.SMTPResponseException as error:
        reason = f"The SMTP server answered {error.smtp_code}: {_text(error.smtp_error)}"
        _log_failure(task, reason)
        if 500 <= error.smtp_code < 600:
            raise outbox.GiveUp(f"{reason} (a permanent refusal)")
        raise outbox.Retry(reason)
    except smtplib.SMTPRecipientsRefused as error:
        reason = f"The SMTP server refused the recipient: {error.recipients}"
        _log_failure(task, reason)
        raise outbox.GiveUp(reason)
    except (OSError, smtplib.SMTPException) as error:
        reason = f"{type(error).__name__}: {error}"
        _log_failure(task, reason)
        raise outbox.Retry(reason)
    log.info("Sent email %s (%s) to %s", task.id, payload.get("kind"), payload.get("to"))


def _log_failure(task: outbox.Task, reason: str) -> None:
    log.warning("Could not send email %s (%s) to %s, attempt %d: %s", task.id, task.payload.get("kind"),
                task.payload.get("to"), task.attempts, reason)


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _message_id(task: outbox.Task) -> str:
    domain = config_value("MAIL_SENDER").rpartition("@")[2] or "localhost"
    return f"<advocacy-outbox-{task.id}@{domain}>"


def build_email(payload: dict, *, message_id: str | None = None) -> EmailMessage:
    """The MIME message of an ``email`` task's payload: plain text, with an HTML alternative when there
    is one. The Message-ID is fixed by the task, so a repeated send is recognisable."""
    email = EmailMessage()
    email["Subject"] = payload["subject"]
    email["From"] = config_value("MAIL_SENDER")
    email["To"] = payload["to"]
    if message_id:
        email["Message-ID"] = message_id
    email.set_content(payload["text"])
    if payload.get("html"):
        email.add_alternative(payload["html"], subtype="html")
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


def wake_waiting_mail() -> int | None:
    """Make the emails that waited for an SMTP server due now, once one is set; without a server, how
    many emails are waiting (``None`` when mail is on)."""
    session = get_session()
    table = OutboxTask.__table__
    waiting = (table.c.topic == TOPIC) & (table.c.state == "queued")
    if not config_value("MAIL_SERVER"):
        return session.scalar(select(func.count()).select_from(table).where(waiting))
    session.execute(
        update(table).where(waiting, table.c.last_error == MAIL_OFF).values(next_attempt_at=utcnow())
    )
    session.commit()
    return None


def outbox_counts() -> dict[str, int]:
    """How many emails are queued, sent (done) and dead."""
    return outbox.state_counts(topic=TOPIC)
