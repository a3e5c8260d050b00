"""Emails through a real local SMTP server (aiosmtpd): thanks, published, failures and retries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.helpers import login
from tests.helpers import make_customer
from tests.testimonials_support import make_testimonial
from tests.testimonials_support import moderate
from tests.testimonials_support import start_smtp_sink
from tests.testimonials_support import stored_testimonials
from tests.testimonials_support import submit_testimonial




def outbox(app):
    """The email tasks of the outbox, oldest first, as dicts (columns plus the payload's fields)."""
    from advocacy_portal.db import get_session
    from advocacy_portal.models import OutboxTask

    with app.app_context():
        rows = get_session().scalars(
            select(OutboxTask).where(OutboxTask.topic == "email").order_by(OutboxTask.id)
        ).all()
        return [{**{c.name: getattr(row, c.name) for c in OutboxTask.__table__.columns}, **row.payload}
                for row in rows]


def test_a_submission_sends_thanks_and_approval_sends_published(app, smtp):
    client = app.test_client()
    author = make_customer(app, email="writer@example.com")
    login(client, author)
    assert submit_testimonial(client, body="Lovely <b>service</b> & quick delivery, thank you!").status_code == 303
    [thanks] = smtp.messages
    assert thanks["To"] == "writer@example.com" and thanks["From"] == "shop@shop.test"
    assert thanks["Subject"] == "Thank you for your testimonial"
    text = thanks.get_body(("plain",)).get_content()
    html = thanks.get_body(("html",)).get_content()
    assert "Lovely <b>service</b> & quick delivery" in text  # plain text as written
    assert "Lovely &lt;b&gt;service&lt;/b&gt; &amp; quick delivery" in html  # escaped in HTML
    assert "http://shop.test/advocacy/testimonials/" in text

    staff = make_customer(app, staff=True)
    moderate(app, stored_testimonials(app)[0]["id"], "approve", staff)
    published = smtp.messages[1]
    assert published["Subject"] == "Your testimonial is published"
    body = published.get_body(("plain",)).get_content()
    assert "http://shop.test/r/" in body
    assert [row["state"] for row in outbox(app)] == ["done", "done"]
    assert [row["kind"] for row in outbox(app)] == ["testimonial.thanks", "testimonial.published"]
    # The Message-ID is the task's, so a repeated send (a crash after the server accepted) is recognisable.
    assert thanks["Message-ID"] == f"<advocacy-outbox-{outbox(app)[0]['id']}@shop.test>"


def test_a_failed_send_never_undoes_the_action_and_is_retried(app, smtp, runner, caplog):
    author = make_customer(app, email="writer@example.com")
    staff = make_customer(app, staff=True)
    testimonial_id = make_testimonial(app, author)
    assert len(smtp.messages) == 1  # thanks
    smtp.fail_next = 1
    with caplog.at_level("WARNING", logger="advocacy_portal.services.mail"):
        moderate(app, testimonial_id, "approve", staff)
    assert stored_testimonials(app)[0]["state"] == "approved"  # the action stands
    assert "Could not send email" in caplog.text
    queued = outbox(app)[-1]
    assert queued["state"] == "queued" and queued["attempts"] == 1 and "451" in queued["last_error"]
    # MAIL_RETRY_SECONDS is 60, with +-20 % jitter.
    assert queued["created_at"] + timedelta(seconds=45) < queued["next_attempt_at"]
    assert queued["next_attempt_at"] < queued["created_at"] + timedelta(seconds=80)

    # Not due yet: the retry command leaves it.
    result = runner.invoke(args=["advocacy", "mail", "retry"])
    assert "Ran 0 task(s)" in result.output and len(smtp.messages) == 1

    from advocacy_portal.db import get_session
    from advocacy_portal.models import OutboxTask
    from advocacy_portal.models import utcnow

    with app.app_context():
        message = get_session().get(OutboxTask, queued["id"])
        message.next_attempt_at = utcnow() - timedelta(seconds=1)
        get_session().commit()
    result = runner.invoke(args=["advocacy", "mail", "retry"])
    assert result.exit_code == 0, result.output
    assert "Ran 1 task(s): 1 done" in result.output
    assert smtp.messages[-1]["Subject"] == "Your testimonial is published"
    assert outbox(app)[-1]["state"] == "done" and outbox(app)[-1]["attempts"] == 2


@pytest.mark.settings(MAIL_MAX_ATTEMPTS=2, MAIL_RETRY_SECONDS=0)
def test_a_message_that_keeps_failing_is_given_up_and_logged(app, smtp, caplog):
    from advocacy_portal import outbox as relay

    smtp.fail_next = 5
    with caplog.at_level("ERROR", logger="advocacy_portal.outbox"):
        make_testimonial(app, make_customer(app))  # attempt 1, after the commit
        report = relay.run_due(app)  # attempt 2 (the retry is due at once)
    assert report.dead == 1
    [message] = outbox(app)
    assert message["state"] == "dead" and message["attempts"] == 2 and "451" in message["last_error"]
    assert "parked as dead after 2 attempt(s)" in caplog.text
    assert smtp.messages == []


def test_a_permanent_refusal_is_parked_at_once_with_the_servers_words_for_staff(app, smtp, client, auth):
    smtp.fail_next, smtp.fail_with = 1, "550 5.1.1 No such mailbox here"
    make_testimonial(app, make_customer(app, email="nobody@example.com"))
    [message] = outbox(app)
    assert message["state"] == "dead" and message["attempts"] == 1
    assert message["last_error"] == ("The SMTP server answered 550: 5.1.1 No such mailbox here "
                                     "(a permanent refusal)")
    auth.login(make_customer(app, staff=True))
    page = client.get("/advocacy/admin/outbox").get_data(as_text=True)
    assert "No such mailbox here" in page and 'data-count="dead">1<' in page


@pytest.mark.settings(MAIL_TIMEOUT_SECONDS=1)
def test_a_stalled_server_times_out_and_the_message_is_retried_then_sent_once(app, smtp):
    from advocacy_portal import outbox as relay
    from advocacy_portal.db import get_session
    from advocacy_portal.models import OutboxTask
    from advocacy_portal.models import utcnow

    smtp.stall_seconds = 3
    make_testimonial(app, make_customer(app, email="writer@example.com"))
    [message] = outbox(app)
    assert message["state"] == "queued" and message["attempts"] == 1
    assert "timed out" in message["last_error"]
    smtp.stall_seconds = 0
    with app.app_context():
        get_session().get(OutboxTask, message["id"]).next_attempt_at = utcnow()
        get_session().commit()
    assert relay.run_due(app).done == 1
    assert relay.run_due(app).ran == 0
    assert [m["To"] for m in smtp.messages] == ["writer@example.com"]
    assert outbox(app)[0]["state"] == "done"


def test_without_a_server_mail_is_kept_in_the_outbox(app, runner):
    make_testimonial(app, make_customer(app))
    [message] = outbox(app)
    assert message["state"] == "queued" and message["attempts"] == 0  # waiting costs no attempt
    assert message["last_error"] == "Mail is off (no ADVOCACY_MAIL_SERVER)"
    result = runner.invoke(args=["advocacy", "mail", "retry"])
    assert "Mail is off" in result.output and "1 email(s) waiting" in result.output
    assert "queued: 1" in runner.invoke(args=["advocacy", "mail", "status"]).output


def test_an_unreachable_server_is_a_logged_retry_not_an_error_page(app):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    app.config.update(ADVOCACY_MAIL_SERVER="127.0.0.1", ADVOCACY_MAIL_PORT=closed_port,
                      ADVOCACY_MAIL_TIMEOUT_SECONDS=2)
    client = app.test_client()
    login(client, make_customer(app))
    assert submit_testimonial(client).status_code == 303
    assert len(stored_testimonials(app)) == 1
    [message] = outbox(app)
    assert message["state"] == "queued" and message["attempts"] == 1
    assert "ConnectionRefusedError" in message["last_error"]


def test_login_and_an_overridden_template(app, smtp):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    from tests.testimonials_support import SmtpSink

    sink = SmtpSink()
    seen = []

    def authenticate(server, session, envelope, mechanism, auth_data):
        seen.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret")

    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port, authenticator=authenticate,
                            auth_require_tls=False)
    controller.start()
    try:
        app.config.update(ADVOCACY_MAIL_PORT=port, ADVOCACY_MAIL_USERNAME="shop",
                          ADVOCACY_MAIL_PASSWORD="s3cret", ADVOCACY_MAIL_THANKS_SUBJECT="Cheers!")
        app.jinja_loader.mapping["advocacy/email/thanks.txt"] = "Custom thanks for {{ testimonial.rating }} stars."
        make_testimonial(app, make_customer(app), rating=4)
    finally:
        controller.stop()
    assert seen == [(b"shop", b"s3cret")]
    [message] = sink.messages
    assert message["Subject"] == "Cheers!"
    assert message.get_body(("plain",)).get_content().strip() == "Custom thanks for 4 stars."


def test_tls_and_ssl_together_are_refused_at_start(database_url):
    from tests.host_app import create_app

    with pytest.raises(RuntimeError, match="MAIL_USE_TLS"):
        create_app({"SQLALCHEMY_DATABASE_URI": database_url, "ADVOCACY_MAIL_USE_TLS": True,
                    "ADVOCACY_MAIL_USE_SSL": True})


@pytest.fixture
def tls_ca(tmp_path, monkeypatch):
    """A throwaway certificate authority (trustme) and a certificate of it for 127.0.0.1.

    The mail service verifies the server with ``ssl.create_default_context()``, which trusts what
    OpenSSL's default paths hold; ``SSL_CERT_FILE`` points them at this CA only, for this test.
    """
    import ssl

    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return {"ca_file": str(ca_file), "server_context": server_context, "monkeypatch": monkeypatch}


def _tls_sink(tls_ca, authenticated: list):
    from aiosmtpd.smtp import AuthResult

    def authenticate(server, session, envelope, mechanism, auth_data):
        authenticated.append((auth_data.login, session.ssl is not None))
        return AuthResult(success=auth_data.password == b"s3cret")

    # require_starttls: the server refuses MAIL before STARTTLS; auth_require_tls (the default):
    # no login over a plain connection either.
    return start_smtp_sink(tls_context=tls_ca["server_context"], require_starttls=True,
                           authenticator=authenticate)


def test_mail_goes_through_starttls_with_the_certificate_verified(app, tls_ca):
    tls_ca["monkeypatch"].setenv("SSL_CERT_FILE", tls_ca["ca_file"])
    authenticated = []
    sink, controller = _tls_sink(tls_ca, authenticated)
    try:
        app.config.update(ADVOCACY_MAIL_SERVER="127.0.0.1", ADVOCACY_MAIL_PORT=sink.port,
                          ADVOCACY_MAIL_USE_TLS=True, ADVOCACY_MAIL_USERNAME="shop",
                          ADVOCACY_MAIL_PASSWORD="s3cret")
        make_testimonial(app, make_customer(app, email="writer@example.com"))
    finally:
        controller.stop()
    [message] = sink.messages
    assert message["To"] == "writer@example.com"
    assert sink.over_tls == [True]
    assert authenticated == [(b"shop", True)]  # the password only ever travelled encrypted
    assert [row["state"] for row in outbox(app)] == ["done"]


def test_a_starttls_server_whose_certificate_is_not_trusted_gets_nothing(app, tls_ca, tmp_path, caplog):
    import trustme

    # Trust another CA: the server's certificate no longer verifies.
    other_ca_file = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca_file))
    tls_ca["monkeypatch"].setenv("SSL_CERT_FILE", str(other_ca_file))
    authenticated = []
    sink, controller = _tls_sink(tls_ca, authenticated)
    try:
        app.config.update(ADVOCACY_MAIL_SERVER="127.0.0.1", ADVOCACY_MAIL_PORT=sink.port,
                          ADVOCACY_MAIL_USE_TLS=True, ADVOCACY_MAIL_USERNAME="shop",
                          ADVOCACY_MAIL_PASSWORD="s3cret")
        with caplog.at_level("WARNING", logger="advocacy_portal.services.mail"):
            make_testimonial(app, make_customer(app, email="writer@example.com"))
    finally:
        controller.stop()
    assert sink.messages == [] and authenticated == []  # neither the mail nor the password went out
    [message] = outbox(app)
    assert message["state"] == "queued" and message["attempts"] == 1
    assert "CERTIFICATE_VERIFY_FAILED" in message["last_error"]
    assert "Could not send email" in caplog.text
    assert [row["state"] for row in stored_testimonials(app)] == ["pending"]  # the submission stands


def test_mail_goes_over_implicit_tls_with_the_certificate_verified(app, tls_ca):
    tls_ca["monkeypatch"].setenv("SSL_CERT_FILE", tls_ca["ca_file"])
    sink, controller = start_smtp_sink(ssl_context=tls_ca["server_context"])
    try:
        app.config.update(ADVOCACY_MAIL_SERVER="127.0.0.1", ADVOCACY_MAIL_PORT=sink.port,
                          ADVOCACY_MAIL_USE_SSL=True)
        make_testimonial(app, make_customer(app, email="writer@example.com"))
    finally:
        controller.stop()
    assert len(sink.messages) == 1 and sink.over_tls == [True]
