"""The ``flask advocacy`` command group."""

from __future__ import annotations

import sys
from datetime import timedelta
from datetime import timezone

import click
import requests
from alembic import command
from flask import current_app
from flask import url_for
from flask.cli import AppGroup
from sqlalchemy import func
from sqlalchemy import select

from advocacy_portal import migrate
from advocacy_portal import outbox
from advocacy_portal.cli_scale import add_scale_commands
from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.identity import Customer
from advocacy_portal.models import Advocate
from advocacy_portal.models import Conversion
from advocacy_portal.models import Referral
from advocacy_portal.models import ReferralClick
from advocacy_portal.models import StripeEvent
from advocacy_portal.models import utcnow
from advocacy_portal.proxies import get_portal
from advocacy_portal.services import exports
from advocacy_portal.services import fraud
from advocacy_portal.services import ledger
from advocacy_portal.services import links
from advocacy_portal.services import mail
from advocacy_portal.services import payments
from advocacy_portal.services import redemptions
from advocacy_portal.services import referrals
from advocacy_portal.services import report_rollups
from advocacy_portal.services import rewards
from advocacy_portal.services import testimonial_queries
from advocacy_portal.services import testimonials
from advocacy_portal.services.money import format_money
from advocacy_portal.testing import stripe_events as test_events
from advocacy_portal.testing.stripe_events import signed_request
from advocacy_portal.testing.stripe_events import webhook_path


def find_host_user(user_id: str):
    """The host's user of this id through Flask-Login's ``user_loader``, or ``None``; without
    Flask-Login, a user the plugin already knows (an advocate or a referred friend), as a bare id."""
    login_manager = getattr(current_app, "login_manager", None)
    loader = getattr(login_manager, "_user_callback", None)
    if loader is not None:
        return loader(str(user_id))
    known = get_session().scalar(select(Advocate.user_id).where(Advocate.user_id == str(user_id))) or \
        get_session().scalar(select(Referral.friend_user_id).where(Referral.friend_user_id == str(user_id)))
    return Customer(id=known, email=None) if known else None


def make_cli() -> AppGroup:
    """A fresh ``advocacy`` group for one app, so a host can add its own subcommands to it."""
    cli = AppGroup("advocacy", help="Advocacy Portal: referral links, testimonials, rewards.")

    @cli.group("db")
    def db_group():
        """Create, upgrade and check the plugin's own tables."""

    @db_group.command("upgrade")
    @click.option("--revision", default="head", show_default=True, help="Target revision.")
    @click.option("--sql", is_flag=True, help="Print the SQL instead of running it.")
    def db_upgrade(revision, sql):
        """Create or upgrade the advocacy_* tables (safe to run again)."""
        app = current_app._get_current_object()
        before = None if sql else migrate.current_revision(app)
        migrate.upgrade(app, revision, sql=sql, stdout=sys.stdout)
        if not sql:
            after = migrate.current_revision(app)
            if before == after:
                click.echo(f"Advocacy Portal schema is up to date ({after}).")
            else:
                click.echo(f"Advocacy Portal schema upgraded from {before or 'nothing'} to {after}.")

    @db_group.command("downgrade")
    @click.argument("revision")
    @click.option("--sql", is_flag=True, help="Print the SQL instead of running it.")
    def db_downgrade(revision, sql):
        """Step the advocacy_* tables back to REVISION (``base`` drops them)."""
        migrate.downgrade(current_app._get_current_object(), revision, sql=sql, stdout=sys.stdout)

    @db_group.command("current")
    def db_current():
        """Print the schema revision of the database and of the installed plugin."""
        app = current_app._get_current_object()
        click.echo(f"database: {migrate.current_revision(app) or 'not created'}")
        click.echo(f"plugin:   {migrate.head_revision(app)}")

    @db_group.command("check")
    def db_check():
        """Exit non-zero, naming the missing revisions, when the database is not at the plugin's
        revision or its schema differs from the models."""
        app = current_app._get_current_object()
        current, head = migrate.current_revision(app), migrate.head_revision(app)
        if current != head:
            missing = migrate.missing_revisions(app)
            for revision, description in missing:
                click.echo(f"  missing {revision}: {description}", err=True)
            raise click.ClickException(
                f"database is at {current or 'nothing (no advocacy tables)'}, plugin needs {head}: "
                f"{len(missing)} revision(s) missing; run `flask advocacy db upgrade`"
            )
        differences = migrate.schema_differences(app)
        if differences:
            for difference in differences:
                click.echo(f"  {difference}", err=True)
            raise click.ClickException("the database schema differs from the models")
        triggers = migrate.missing_triggers(app)
        if triggers:
            for trigger in triggers:
                click.echo(f"  missing trigger {trigger}", err=True)
            raise click.ClickException(
                "the triggers that keep the staff report's rollups current are missing (an Alembic batch "
                "operation on SQLite copies a table without them): run `flask advocacy db repair-triggers`"
            )
        click.echo(f"Advocacy Portal schema matches the models ({head}).")

    @db_group.command("repair-triggers")
    def db_repair_triggers():
        """Create the report rollups' triggers again, then recount the report: the days changed while
        they were missing are counted from the raw tables."""
        app = current_app._get_current_object()
        missing = migrate.missing_triggers(app)
        migrate.repair_triggers(app)
        if migrate.missing_triggers(app):  # pragma: no cover - the statements above make them
            raise click.ClickException("the triggers could not be created")
        days = report_rollups.rebuild()
        click.echo(f"Created the report triggers again ({len(missing)} were missing) and recounted "
                   f"{days} days of the report.")

    @db_group.command("revision")
    @click.option("-m", "--message", required=True, help="What the revision changes.")
    def db_revision(message):
        """For plugin developers: autogenerate a revision from the models."""
        config = migrate.alembic_config(current_app._get_current_object(), stdout=sys.stdout)
        command.revision(config, message=message, autogenerate=True)

    @cli.command("link")
    @click.argument("user_id")
    @click.option("--campaign", default=None, help="Campaign slug the link carries.")
    @click.option("--base-url", default=None,
                  help="Scheme and host to put in front (default: the configured site, ADVOCACY_SITE_URL, "
                       "SERVER_NAME or TRUSTED_HOSTS; else http://127.0.0.1:5000).")
    def link(user_id, campaign, base_url):
        """Print the absolute referral link of host user USER_ID (refused for a user that does not exist)."""
        user = find_host_user(user_id)
        customer = get_portal().identify(user) if user is not None else None
        if customer is None:
            raise click.BadParameter(f"no user {user_id!r}: give the id of an existing user of this app",
                                     param_hint="USER_ID")
        advocate = referrals.ensure_advocate(customer.id, customer.email)
        try:
            token = referrals.link_token(advocate, campaign)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--campaign") from None
        get_session().commit()
        if base_url is None:
            origin = links.site_origin()
            if origin is not None:
                base_url = origin.url
            else:
                base_url = "http://127.0.0.1:5000"
                click.echo(f"(none of ADVOCACY_SITE_URL, SERVER_NAME or TRUSTED_HOSTS is set: using {base_url}; "
                           "pass --base-url for another)", err=True)
        with current_app.test_request_context("/", base_url=base_url):
            click.echo(url_for("advocacy_links.follow", token=token, _external=True))

    @cli.command("reset-link")
    @click.argument("user_id")
    def reset_link(user_id):
        """Retire every link host user USER_ID has shared and issue a new one."""
        advocate = referrals.get_advocate(user_id)
        if advocate is None:
            raise click.ClickException(f"user {user_id} has no referral link")
        referrals.reset_link(advocate)
        get_session().commit()
        click.echo(f"Links of user {user_id} were reset.")

    @cli.group("privacy")
    def privacy_group():
        """Keep only the personal data the program needs."""

    @privacy_group.command("purge")
    def privacy_purge():
        """Apply every retention setting: IP hashes, the mail log, old unpublished testimonials, closed
        cases, erased people's financial records past their retention (run daily)."""
        from advocacy_portal.services import privacy

        report = privacy.purge()
        get_session().commit()
        for line in report.lines():
            click.echo(line)

    @privacy_group.command("erase")
    @click.argument("user_id")
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    def privacy_erase(user_id, yes):
        """Erase host user USER_ID everywhere (one transaction); financial records stay under a surrogate."""
        if not yes:
            click.confirm(f"Erase user {user_id} from every Advocacy Portal table? This cannot be undone",
                          abort=True)
        user = find_host_user(user_id)
        target = user if user is not None and not isinstance(user, Customer) else user_id
        try:
            report = get_portal().forget_customer(target)
        except ValueError as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"Erased (erasure #{report.erasure_id}): {report.total} rows in {len(report.counts)} tables, "
                   f"{report.photos_deleted} photos.")
        for table, count in sorted(report.counts.items()):
            click.echo(f"  {table}: {count}")

    @privacy_group.command("export")
    @click.argument("user_id")
    @click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
                  help="Write the JSON to this file instead of standard output.")
    @click.option("--zip", "zip_path", type=click.Path(dir_okay=False, writable=True), default=None,
                  help="Write a zip instead: the JSON document (export.json) and the person's photos as files.")
    def privacy_export(user_id, output, zip_path):
        """Print (or write) everything the plugin holds about host user USER_ID as one JSON document,
        or with --zip, a zip of the document and the photos."""
        import json

        if output and zip_path:
            raise click.UsageError("give --output or --zip, not both")
        user = find_host_user(user_id)
        target = user if user is not None and not isinstance(user, Customer) else user_id
        base_url = config_value("SITE_URL") or (
            f"{current_app.config.get('PREFERRED_URL_SCHEME', 'http')}://{current_app.config['SERVER_NAME']}"
            if current_app.config.get("SERVER_NAME") else "http://127.0.0.1:5000")
        with current_app.test_request_context("/", base_url=base_url):
            if zip_path:
                body, document = get_portal().export_archive(target)
                with open(zip_path, "wb") as handle:
                    handle.write(body)
                photos = sum(1 for row in document["tables"].get("advocacy_testimonials", []) if row.get("photo_file"))
                click.echo(f"Wrote the export of user {user_id} to {zip_path}: export.json and {photos} photos, "
                           f"{len(body)} bytes.", err=True)
                return
            document = get_portal().export_person(target)
        text = json.dumps(document, indent=2, ensure_ascii=False, default=str)
        if output:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
            click.echo(f"Wrote the export of user {user_id} to {output}.", err=True)
        else:
            click.echo(text)

    @privacy_group.command("erasure-list")
    def privacy_erasure_list():
        """Print the erasure list's hashes, one a line: keep a copy apart from the database backups."""
        from advocacy_portal.models import Erasure

        for user_hash in get_session().scalars(select(Erasure.user_hash).order_by(Erasure.id)):
            click.echo(user_hash)

    @privacy_group.command("replay-erasures")
    @click.option("--hashes", type=click.File("r"), default=None,
                  help="A saved `privacy erasure-list` (erasures newer than the restored backup).")
    @click.argument("user_ids", nargs=-1)
    def privacy_replay(hashes, user_ids):
        """After restoring a backup: erase again everyone on the erasure list (and USER_IDS)."""
        from advocacy_portal.services import privacy

        reports = privacy.replay_erasures(hashes.read().split() if hashes else (), user_ids)
        get_session().commit()
        click.echo(f"Erased again {len(reports)} people found in the restored data.")

    @cli.command("stats")
    def stats():
        """Print program totals: advocates, counted clicks, signups, flagged signups."""
        session = get_session()
        count = lambda query: session.scalar(query) or 0  # noqa: E731
        click.echo(f"advocates: {count(select(func.count()).select_from(Advocate))}")
        click.echo(f"clicks:    {count(select(func.count()).select_from(ReferralClick))}")
        click.echo(
            "signups:   "
            f"{count(select(func.count()).where(Referral.status == 'signed_up'))}"
        )
        click.echo(
            f"flagged:   {count(select(func.count()).where(Referral.status == 'flagged'))}"
        )

    _add_testimonial_commands(cli)
    _add_rewards_commands(cli)
    _add_export_command(cli)
    _add_outbox_commands(cli)
    add_scale_commands(cli)
    return cli


# -- testimonials and reviews, and the mail outbox -----------------------------------------------------


def _add_testimonial_commands(cli: AppGroup) -> None:
    @cli.group("testimonials")
    def testimonials_group():
        """Testimonials and reviews."""

    @testimonials_group.command("list")
    @click.option("--state", default="pending", show_default=True, help="pending, approved, rejected, "
                  "unpublished, withdrawn, or 'any'.")
    @click.option("--limit", default=50, show_default=True)
    def testimonials_list(state, limit):
        """List testimonials: id, state, rating, author, start of the text."""
        filters = testimonial_queries.QueueFilters(state=None if state == "any" else state)
        page = testimonial_queries.moderation_queue(filters, per_page=limit)
        for item in page.items:
            text = " ".join(item.body.split())
            click.echo(f"{item.id}\t{item.state}\t{item.rating}\t{item.author_user_id}\t{text[:60]}")
        click.echo(f"{page.total} testimonial(s)")

    @testimonials_group.command("stats")
    def testimonials_stats():
        """Testimonials per state, and the average rating of what is published."""
        for state, count in testimonial_queries.state_counts().items():
            click.echo(f"{state + ':':13}{count}")
        overall = testimonial_queries.overall_rating()
        if overall:
            click.echo(f"published average: {overall.average} from {overall.count}")

    @testimonials_group.command("moderate")
    @click.argument("testimonial_id", type=int)
    @click.argument("action", type=click.Choice(["approve", "reject", "unpublish", "feature", "unfeature"]))
    @click.option("--reason", default=None, help="Why (needed to reject).")
    @click.option("--staff-id", required=True, help="Host user id of the staff member acting (audited).")
    def testimonials_moderate(testimonial_id, action, reason, staff_id):
        """Approve, reject, unpublish, feature or unfeature one testimonial."""
        try:
            testimonials.moderate(testimonial_id, action, Customer(id=staff_id, email=None), reason=reason)
            get_session().commit()
        except testimonials.TestimonialError as error:
            get_session().rollback()
            raise click.ClickException(str(error)) from None
        click.echo(f"Testimonial {testimonial_id}: {action} done.")

    @cli.group("mail")
    def mail_group():
        """The plugin's emails (``email`` tasks of the outbox)."""

    @mail_group.command("retry")
    @click.option("--limit", default=500, show_default=True, help="Most tasks to run.")
    def mail_retry(limit):
        """Run every due task of the outbox, emails included (same as `outbox run`)."""
        waiting = mail.wake_waiting_mail()
        if waiting is not None:
            click.echo(f"Mail is off (set ADVOCACY_MAIL_SERVER): {waiting} email(s) waiting.")
        _run_outbox(limit)

    @mail_group.command("status")
    def mail_status():
        """How many emails are queued, sent and dead."""
        counts = mail.outbox_counts()
        for label, state in (("queued", "queued"), ("sent", "done"), ("dead", "dead")):
            click.echo(f"{label + ':':8}{counts[state]}")


def _run_outbox(limit: int) -> None:
    # Pass after pass: a task that waited for an earlier one of its group is due once that one is done.
    report = outbox.RunReport()
    while report.ran < limit:
        batch = outbox.run_due(limit=min(limit - report.ran, config_value("OUTBOX_BATCH")))
        if not batch.ran:
            break
        report.add_report(batch)
    click.echo(f"Ran {report.ran} task(s): {report.done} done, {report.retried} to retry later, "
               f"{report.dead} dead, {report.lost} taken over by another run.")
    if report.retried or report.dead:
        sys.exit(1)


# -- the outbox and its worker ---------------------------------------------------------------------------


def _add_outbox_commands(cli: AppGroup) -> None:
    @cli.command("worker")
    @click.option("--once", is_flag=True, help="One pass over the due tasks, then exit.")
    @click.option("--poll", type=float, default=None, help="Seconds between polls of an empty outbox "
                  "[default: ADVOCACY_WORKER_POLL_SECONDS].")
    @click.option("--max-seconds", type=float, default=None, help="Stop after this long (for tests, cron).")
    def worker(once, poll, max_seconds):
        """Run the outbox's tasks until SIGTERM or Ctrl-C (no broker needed; any number may run at once)."""
        app = current_app._get_current_object()
        runner = outbox.Worker(
            app,
            poll_seconds=poll if poll is not None else config_value("WORKER_POLL_SECONDS"),
            health_seconds=config_value("WORKER_HEALTH_SECONDS"),
            echo=lambda line: click.echo(line),
        )
        runner.run(once=once, max_seconds=max_seconds)

    @cli.group("outbox")
    def outbox_group():
        """The outbox: every side effect (emails, Stripe calls and events, webhooks), run by the relay."""

    @outbox_group.command("run")
    @click.option("--limit", default=500, show_default=True, help="Most tasks to run.")
    def outbox_run(limit):
        """Run the due tasks once (from cron, when neither the worker nor a queue runs them)."""
        _run_outbox(limit)

    @outbox_group.command("status")
    def outbox_status():
        """Tasks per topic and state."""
        counts = outbox.state_counts()
        click.echo(f"queued: {counts['queued']} ({outbox.due_count()} due now)   done: {counts['done']}   "
                   f"dead: {counts['dead']}")
        for topic, by_state in outbox.topic_counts():
            click.echo(f"  {topic:24} queued {by_state['queued']:>6}  done {by_state['done']:>8}  "
                       f"dead {by_state['dead']:>5}")

    @outbox_group.command("dead")
    @click.option("--limit", default=50, show_default=True)
    def outbox_dead(limit):
        """The dead tasks, newest first: id, topic, attempts, last error."""
        for task in outbox.tasks("dead", limit=limit):
            click.echo(f"{task.id}\t{task.topic}\t{task.attempts}\t{(task.last_error or '')[:120]}")

    @outbox_group.command("replay")
    @click.argument("task_ids", type=int, nargs=-1, required=True)
    def outbox_replay(task_ids):
        """Queue dead tasks again (their attempts start over)."""
        replayed = [task_id for task_id in task_ids if outbox.replay(task_id)]
        get_session().commit()
        skipped = sorted(set(task_ids) - set(replayed))
        click.echo(f"Replayed {len(replayed)} task(s).")
        if skipped:
            raise click.ClickException(f"Not dead (or no such task): {', '.join(map(str, skipped))}")


# -- rewards ledger and Stripe ----------------------------------------------------------------------------


def _money(amounts: dict[str, int]) -> str:
    return ", ".join(format_money(amount, currency) for currency, amount in sorted(amounts.items())) or "nothing"


def _add_rewards_commands(cli: AppGroup) -> None:
    @cli.group("ledger")
    def ledger_group():
        """The rewards ledger."""

    @ledger_group.command("verify")
    def ledger_verify():
        """Recompute every balance from the entries; exit 1 on any mismatch."""
        problems = ledger.verify()
        accounts, transactions, entries = ledger.counts()
        for problem in problems:
            click.echo(f"  {problem}", err=True)
        if problems:
            raise click.ClickException(f"ledger verification failed: {len(problems)} problem(s)")
        click.echo(
            f"Ledger OK: {accounts} accounts, {transactions} transactions, {entries} entries balance."
        )

    @cli.group("rewards")
    def rewards_group():
        """Release held rewards and retry redemptions (run both from cron)."""

    @rewards_group.command("release")
    def rewards_release():
        """Make rewards whose hold has ended available (idempotent; safe to run twice at once). Rewards
        held for fraud review stay held; ADVOCACY_FRAUD_DEADLINE_ACTION applies to those past their deadline."""
        decided = fraud.apply_deadline()
        get_session().commit()
        if decided:
            click.echo(f"Fraud review deadline passed for {decided} held rewards ({current_app.config['ADVOCACY_FRAUD_DEADLINE_ACTION']}).")
        summary = rewards.release_due()
        click.echo(
            f"Released {summary.released} rewards ({_money(summary.amounts)}); "
            f"{summary.skipped} skipped, {summary.failed} failed."
        )
        if summary.failed:
            sys.exit(1)

    @rewards_group.command("retry-redemptions")
    @click.option("--older-than", default=0, show_default=True, type=click.IntRange(min=0),
                  help="Only redemptions untouched for this many seconds.")
    def rewards_retry(older_than):
        """Ask Stripe again, with the same Idempotency-Key, for redemptions without a definite answer."""
        summary = redemptions.retry_pending(timedelta(seconds=older_than))
        click.echo(
            f"Redemptions: {summary.completed} completed, {summary.failed} failed (funds returned), "
            f"{summary.unknown} still without an answer."
        )
        if summary.unknown:
            sys.exit(1)

    @rewards_group.command("expire-codes")
    def rewards_expire_codes():
        """Give back the amount of every redeemed promotion code that expired unused (run daily)."""
        summary = redemptions.expire_codes()
        click.echo(f"Promotion codes: {summary.returned} expired unused (amount returned), {summary.used} used, "
                   f"{summary.failed} not checked (Stripe did not answer; tried again next run).")
        if summary.failed:
            sys.exit(1)

    @cli.group("stripe")
    def stripe_group():
        """Stripe: events received, and test events (pay, refund, dispute) for your own webhook."""

    def send_test_event(event: dict, url: str | None) -> None:
        key = current_app.config.get("ADVOCACY_STRIPE_SECRET_KEY") or ""
        if key.startswith(("sk_live_", "rk_live_")):
            raise click.ClickException("these commands make up test payments: refused with a live Stripe key")
        secrets = current_app.config["ADVOCACY_STRIPE_WEBHOOK_SECRETS"]
        if not secrets:
            raise click.ClickException("set ADVOCACY_STRIPE_WEBHOOK_SECRETS: the webhook refuses unsigned events")
        body, headers = signed_request(event, secrets[0])
        if url:
            answer = requests.post(url.rstrip("/") + webhook_path(current_app), data=body, headers=headers,
                                   timeout=10)
            status, text = answer.status_code, answer.text
        else:
            answer = current_app.test_client().post(webhook_path(current_app), data=body, headers=headers)
            status, text = answer.status_code, answer.get_data(as_text=True)
        click.echo(f"{event['type']} {event['id']}: {status} {text.strip()}")
        if status != 200:
            raise click.ClickException("the webhook refused the event")

    def host_user_id(user: str) -> str:
        """A host user id as given, or the user of an email the program knows (advocate or friend)."""
        if "@" not in user:
            return user
        email = referrals.normalize_email(user)
        found = get_session().scalar(
            select(Referral.friend_user_id).where(Referral.friend_email_normalized == email)
        ) or get_session().scalar(select(Advocate.user_id).where(Advocate.email_normalized == email))
        if found is None:
            raise click.BadParameter(f"no advocate or referred friend has the email {user}; give the user id",
                                     param_hint="USER")
        return found

    def latest_payment(user_id: str) -> Conversion:
        payment = get_session().scalar(
            select(Conversion)
            .where(Conversion.customer_user_id == user_id, Conversion.paid_at.is_not(None))
            .order_by(Conversion.id.desc())
        )
        if payment is None:
            raise click.ClickException(f"user {user_id} has not paid yet: run `flask advocacy stripe pay` first")
        return payment

    url_option = click.option("--url", default=None,
                              help="Base URL of the running app (http://127.0.0.1:5000); default: in-process.")

    @stripe_group.command("pay")
    @click.argument("user")
    @click.option("--amount", default=9900, show_default=True, type=click.IntRange(min=1), help="Minor units.")
    @click.option("--currency", default="usd", show_default=True)
    @url_option
    def stripe_pay(user, amount, currency, url):
        """Test event: USER (host user id, or email) completed a one-off Checkout payment."""
        user_id = host_user_id(user)
        send_test_event(test_events.checkout_session_completed(
            amount_total=amount, currency=currency.lower(), client_reference_id=user_id,
            customer=payments.stripe_customer_id_for(user_id), metadata={payments.USER_METADATA_KEY: user_id},
        ), url)

    @stripe_group.command("refund")
    @click.argument("user")
    @click.option("--amount", default=None, type=click.IntRange(min=1),
                  help="Refunded so far, in minor units; default: all of it.")
    @url_option
    def stripe_refund(user, amount, url):
        """Test event: USER's latest payment refunded (fully, or partly with --amount)."""
        payment = latest_payment(host_user_id(user))
        refunded = payment.amount_minor if amount is None else min(amount, payment.amount_minor)
        send_test_event(test_events.charge_refunded(
            amount=payment.amount_minor, amount_refunded=refunded, currency=payment.currency,
            payment_intent=payment.payment_intent_id, charge_id=payment.charge_id or f"ch_test_{payment.id}",
        ), url)

    @stripe_group.command("dispute")
    @click.argument("user")
    @click.option("--outcome", type=click.Choice(["open", "won", "lost"]), default="open", show_default=True)
    @url_option
    def stripe_dispute(user, outcome, url):
        """Test event: a dispute of USER's latest payment, opened or closed as won or lost."""
        payment = latest_payment(host_user_id(user))
        fields = dict(charge=payment.charge_id or f"ch_test_{payment.id}", payment_intent=payment.payment_intent_id,
                      amount=payment.amount_minor, currency=payment.currency)
        if outcome == "open":
            send_test_event(test_events.charge_dispute_created(**fields), url)
        else:
            send_test_event(test_events.charge_dispute_closed(status=outcome, **fields), url)

    @stripe_group.command("release")
    def stripe_release():
        """Testing only: end the hold of every pending reward now, so it can be redeemed at once."""
        key = current_app.config.get("ADVOCACY_STRIPE_SECRET_KEY") or ""
        if key.startswith(("sk_live_", "rk_live_")):
            raise click.ClickException("refused with a live Stripe key: holds protect you from refunds")
        summary = rewards.release_due(now=utcnow() + timedelta(days=36500))
        click.echo(f"Released {summary.released} reward(s) early (testing only).")

    @stripe_group.command("events")
    @click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1))
    def stripe_events(limit):
        """List the newest Stripe events received and what they did."""
        rows = get_session().scalars(
            select(StripeEvent).order_by(StripeEvent.id.desc()).limit(limit)
        )
        for event in rows:
            click.echo(f"{event.received_at:%Y-%m-%d %H:%M:%S} {event.event_id} {event.type} {event.outcome}")


def _add_export_command(cli: AppGroup) -> None:
    @cli.command("export")
    @click.argument("kind", type=click.Choice(sorted(exports.EXPORTS)))
    @click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="First day (UTC), included.")
    @click.option("--until", type=click.DateTime(formats=["%Y-%m-%d"]), help="Last day (UTC), included.")
    @click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True, allow_dash=True),
                  default="-", show_default=True, help="The CSV file to write ('-': standard output).")
    def export(kind, since, until, output):
        """Write referrals, conversions, ledger entries or audit entries of a period as CSV, streamed in
        batches (constant memory), with a progress bar on standard error."""
        if since and until and since > until:
            since, until = until, since
        start = since.replace(tzinfo=timezone.utc) if since else None
        end = until.replace(tzinfo=timezone.utc) + timedelta(days=1) if until else None
        total = exports.count(kind, start, end)
        with click.open_file(output, "w", encoding="utf-8") as out, click.progressbar(
            length=total, label=f"Exporting {total} {kind}", file=sys.stderr
        ) as bar:
            for chunk in exports.csv_chunks(kind, start, end, on_row=lambda: bar.update(1)):
                out.write(chunk)
        click.echo(f"Exported {total} {kind} row(s) to {'standard output' if output == '-' else output}.", err=True)
