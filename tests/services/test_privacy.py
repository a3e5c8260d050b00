"""Erasure and export of a person across every plugin table, on SQLite and PostgreSQL: the registry
covers every table, an erased customer leaves no trace outside surrogate-keyed financial rows, the
ledger and revenue figures hold, old links 404, and a restored backup is erased again."""

from __future__ import annotations

import json
import os

import pytest
import sqlalchemy as sa
from sqlalchemy import func
from sqlalchemy import select

from advocacy_portal import signals
from advocacy_portal.db import get_session
from advocacy_portal.models import Advocate
from advocacy_portal.models import AuditEntry
from advocacy_portal.models import Base
from advocacy_portal.models import Erasure
from advocacy_portal import models
from advocacy_portal.services import ledger
from advocacy_portal.services import privacy
from advocacy_portal.services import privacy_rules
from advocacy_portal.services import reward_queries
from advocacy_portal.services.photos import get_storage
from tests.helpers import follow
from tests.privacy_support import PRIVACY_RULES
from tests.privacy_support import build_subject
from tests.privacy_support import find_traces
from tests.webhook_receiver import LOCAL_DELIVERY

pytestmark = [LOCAL_DELIVERY, pytest.mark.settings(REWARD_RULES=PRIVACY_RULES)]


def test_every_table_of_the_metadata_has_a_privacy_rule():
    assert privacy_rules.missing_rules(Base.metadata) == []
    for name, rule in privacy_rules.RULES.items():
        assert rule.category in privacy_rules.CATEGORIES, name
        assert rule.purpose and rule.retention, name
        if rule.category != privacy_rules.NOT_PERSONAL:
            assert rule.export is not None, name


def test_a_table_without_a_rule_is_reported():
    import sqlalchemy as sa

    metadata = sa.MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(metadata)
    sa.Table("advocacy_nps_answers", metadata, sa.Column("id", sa.Integer, primary_key=True))
    assert privacy_rules.missing_rules(metadata) == ["advocacy_nps_answers"]


def _figures(app, advocate_id):
    with app.app_context():
        other = {row.kind: row.balance_minor for row in get_session().execute(
            select(ledger.LedgerAccount.kind, ledger.LedgerAccount.balance_minor)
            .where(ledger.LedgerAccount.advocate_id == advocate_id))}
        return reward_queries.revenue_summary(), ledger.program_balances(), other


def test_the_export_holds_every_tables_data_about_the_person(stripe_app, fake_stripe, receiver):
    subject = build_subject(stripe_app, fake_stripe, receiver)
    with stripe_app.test_request_context("/"):
        from advocacy_portal import get_portal

        document = get_portal(stripe_app).export_person(subject.user)
    assert document["schema"] == "advocacy-portal.person-export" and document["version"] == 2
    assert document["user_id"] == str(subject.user.id)
    personal = {name for name, rule in privacy_rules.RULES.items() if rule.export is not None}
    assert set(document["tables"]) == personal
    empty = sorted(name for name in personal if not document["tables"][name])
    assert empty == [], f"the export has nothing from {empty}"
    tables = document["tables"]
    roles = {row["role"] for row in tables["advocacy_referrals"]}
    assert roles == {"advocate", "friend"}
    mine = [row for row in tables["advocacy_referrals"] if row["role"] == "advocate"]
    assert all("***@" in row["friend"] for row in mine)  # the other person is masked
    assert subject.friend.email not in json.dumps(document)
    assert all("ip_hash" not in row and "device_hash" not in row for row in tables["advocacy_referral_clicks"])
    [testimonial] = tables["advocacy_testimonials"]
    assert testimonial["consent_text"] and testimonial["photo_url"].startswith("http")
    assert testimonial["photo_file"] is None  # the document alone: the photo travels in the zip
    assert document["balances"]["available"]["usd"] == 2000  # 3000 adjustment - 1000 redeemed
    assert any(row["kind"] == "email" and row["to"] == subject.user.email for row in tables["advocacy_outbox"])
    json.dumps(document)  # JSON-ready


def test_erasure_leaves_no_trace_and_keeps_the_books(stripe_app, fake_stripe, receiver):
    app = stripe_app
    subject = build_subject(app, fake_stripe, receiver)
    user_id = str(subject.user.id)
    needles = [subject.user.email, subject.name]
    traces = {(table, column) for table, column, _row in find_traces(app, user_id, needles)}
    # Staff memos that name the person: an adjustment, a fraud decision, a note on another case, a key.
    memos = {("advocacy_ledger_transactions", "memo"), ("advocacy_fraud_reviews", "decision_reason"),
             ("advocacy_nps_case_events", "body"), ("advocacy_api_keys", "name"), ("advocacy_audit_log", "reason")}
    assert memos <= traces, memos - traces
    with app.app_context():
        other_id = get_session().scalar(select(Advocate.id).where(Advocate.user_id == str(subject.other_advocate.id)))
        photo_key = get_session().scalar(select(models.Testimonial.photo_key).where(models.Testimonial.author_user_id == user_id))
        storage = get_storage(app)
        assert os.path.exists(storage._path(photo_key))
    before_other = _figures(app, other_id)
    before_mine = _figures(app, subject.advocate_id)

    result = app.test_cli_runner().invoke(args=["advocacy", "privacy", "erase", user_id, "--yes"])
    assert result.exit_code == 0, result.output
    assert "Erased (erasure #" in result.output

    assert find_traces(app, user_id, needles) == []
    assert _figures(app, other_id) == before_other
    assert _figures(app, subject.advocate_id) == before_mine  # kept under the surrogate
    verify = app.test_cli_runner().invoke(args=["advocacy", "ledger", "verify"])
    assert verify.exit_code == 0 and "Ledger OK" in verify.output
    assert follow(app.test_client(), subject.link_path).status_code == 404
    with app.app_context():
        assert not os.path.exists(get_storage(app)._path(photo_key))
        [entry] = get_session().scalars(select(Erasure)).all()
        assert entry.surrogate.startswith("erased-") and user_id not in entry.user_hash
        advocate = get_session().get(Advocate, subject.advocate_id)
        assert advocate.user_id == entry.surrogate and advocate.email is None
        logged = get_session().scalars(select(AuditEntry).where(AuditEntry.action == "privacy.erase")).one()
        assert logged.subject_id == str(entry.id) and logged.actor_user_id is None
        assert get_session().scalar(select(func.count()).select_from(models.Testimonial)) == 0
        memo = get_session().scalar(select(models.LedgerTransaction.memo)
                                    .where(models.LedgerTransaction.reason == "adjustment"))
        assert memo == "Thank you bonus for [erased] <[erased]>"
        note = get_session().scalar(select(models.NpsCaseEvent.body).where(models.NpsCaseEvent.kind == "note"))
        assert note == "Same courier as [erased] ([erased])"


def test_every_free_text_column_is_scrubbed_or_declared_structured():
    """A new Text or JSON column must say whether staff or others write words into it that may name
    a person (then erasure scrubs it) or not."""
    for table in Base.metadata.sorted_tables:
        declared = set(privacy_rules.FREE_TEXT.get(table.name, ())) | set(privacy_rules.NOT_FREE_TEXT.get(table.name, ()))
        for column in table.columns:
            if isinstance(column.type, (sa.Text, sa.JSON)):
                assert column.name in declared, f"{table.name}.{column.name}: add it to FREE_TEXT or NOT_FREE_TEXT"
        for name in privacy_rules.FREE_TEXT.get(table.name, ()):
            assert name in table.columns, f"{table.name}.{name} does not exist"


def test_the_host_signal_erases_and_a_restored_backup_is_erased_again(stripe_app, fake_stripe, tmp_path):
    app = stripe_app
    subject = build_subject(app, fake_stripe)
    user_id = str(subject.user.id)
    needles = [subject.user.email, subject.name]
    # The "backup": every plugin row as it is now.
    with app.app_context():
        connection = get_session().connection()
        backup = {table.name: [dict(row) for row in connection.execute(select(table)).mappings()]
                  for table in Base.metadata.sorted_tables}
    with app.app_context():
        signals.user_deleted.send(app, user_id=user_id)
    assert find_traces(app, user_id, needles) == []
    saved = app.test_cli_runner().invoke(args=["advocacy", "privacy", "erasure-list"])
    hashes = tmp_path / "erasures.txt"
    hashes.write_text(saved.output)
    assert user_id not in saved.output.split()

    # Restore the backup from before the erasure: the erasure list itself goes back in time.
    with app.app_context():
        session = get_session()
        if session.get_bind().dialect.name == "postgresql":
            # A real restore loads a fresh database; here the append-only ledger's triggers stand aside.
            session.execute(sa.text("SET LOCAL session_replication_role = replica"))
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(table.delete())
        for table in Base.metadata.sorted_tables:
            if backup[table.name]:
                session.execute(table.insert(), backup[table.name])
        session.commit()
    assert find_traces(app, user_id, needles)
    result = app.test_cli_runner().invoke(args=["advocacy", "privacy", "replay-erasures", "--hashes", str(hashes)])
    assert result.exit_code == 0, result.output
    assert "Erased again 1 people" in result.output
    assert find_traces(app, user_id, needles) == []
    assert app.test_cli_runner().invoke(args=["advocacy", "ledger", "verify"]).exit_code == 0


def test_erasing_someone_unknown_still_lists_them(app):
    with app.app_context():
        report = privacy.erase("no-such-user")
        get_session().commit()
        assert report.total == 0
        assert privacy.erasure_of("no-such-user") is not None


def test_the_readme_record_of_processing_names_every_table():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    record = readme.split("### Record of processing", 1)[1]
    for table in privacy_rules.RULES:
        assert f"`{table}`" in record, table


def test_the_export_command_writes_one_json_document(app, tmp_path):
    from tests.helpers import make_customer
    from tests.helpers import referral_path

    customer = make_customer(app)
    referral_path(app, customer)
    target = tmp_path / "export.json"
    result = app.test_cli_runner().invoke(args=["advocacy", "privacy", "export", str(customer.id), "-o", str(target)])
    assert result.exit_code == 0, result.output
    document = json.loads(target.read_text())
    assert document["schema"] == "advocacy-portal.person-export"
    assert document["tables"]["advocacy_advocates"][0]["user_id"] == str(customer.id)
    printed = app.test_cli_runner().invoke(args=["advocacy", "privacy", "export", str(customer.id)])
    assert json.loads(printed.output)["user_id"] == str(customer.id)


def test_the_export_zip_holds_the_document_and_the_photo_files(stripe_app, fake_stripe, tmp_path):
    import zipfile

    app = stripe_app
    subject = build_subject(app, fake_stripe)
    target = tmp_path / "export.zip"
    result = app.test_cli_runner().invoke(args=["advocacy", "privacy", "export", str(subject.user.id),
                                                "--zip", str(target)])
    assert result.exit_code == 0, result.output
    assert "export.json and 1 photos" in result.output
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        document = json.loads(archive.read("export.json"))
        [testimonial] = document["tables"]["advocacy_testimonials"]
        assert document["version"] == 2 and testimonial["photo_file"] in names
        extension = testimonial["photo_key"].rsplit(".", 1)[1]  # the stored photo's type (re-encoded on upload)
        assert testimonial["photo_file"] == f"photos/testimonial-{testimonial['id']}.{extension}"
        photo = archive.read(testimonial["photo_file"])
    with app.app_context():
        with get_storage(app).open(testimonial["photo_key"]) as stored:
            assert photo == stored.read() and len(photo) > 100
    print(f"export zip: {target.stat().st_size} bytes, photo {len(photo)} bytes, {len(names)} files")
    assert sorted(names) == ["export.json", testimonial["photo_file"]]
    both = app.test_cli_runner().invoke(args=["advocacy", "privacy", "export", str(subject.user.id),
                                              "--zip", str(target), "-o", str(tmp_path / "x.json")])
    assert both.exit_code == 2 and "not both" in both.output


def test_erasing_a_staff_member_replaces_their_id_on_their_adjustments(stripe_app, fake_stripe):
    app = stripe_app
    subject = build_subject(app, fake_stripe)
    staff_id = str(subject.staff.id)
    with app.app_context():
        adjusted = select(func.count()).select_from(models.LedgerTransaction).where(
            models.LedgerTransaction.actor_user_id == staff_id)
        assert get_session().scalar(adjusted) == 1
        report = privacy.erase(staff_id, emails=[subject.staff.email], names=["Sam Staff"])
        get_session().commit()
        assert get_session().scalar(adjusted) == 0
        [memo] = get_session().scalars(select(models.LedgerTransaction.memo).where(
            models.LedgerTransaction.actor_user_id == report.surrogate)).all()
        assert memo.startswith("Thank you bonus for ")  # the words about the customer stay
        assert ledger.verify() == []
