"""The plugin's own Alembic history: schema equals models, own version table, host tables untouched."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from advocacy_portal import migrate
from advocacy_portal.models import Base


def inspector(app):
    with app.app_context():
        return sa.inspect(app.extensions["sqlalchemy"].engine)


def test_the_migrated_schema_equals_the_models(app):
    assert migrate.schema_differences(app) == []
    assert migrate.current_revision(app) == migrate.head_revision(app)
    tables = set(inspector(app).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "advocacy_alembic_version" in tables
    assert "alembic_version" not in tables  # the host's version table is never ours
    assert all(name.startswith("advocacy_") for name in Base.metadata.tables)


def test_downgrade_removes_only_plugin_tables_and_upgrade_restores_them(app):
    migrate.downgrade(app, "base")
    tables = set(inspector(app).get_table_names())
    assert not (set(Base.metadata.tables) & tables)
    assert "shop_users" in tables
    migrate.upgrade(app)
    assert migrate.schema_differences(app) == []


def test_upgrade_is_idempotent(app):
    migrate.upgrade(app)
    migrate.upgrade(app)
    assert migrate.current_revision(app) == migrate.head_revision(app)


def test_upgrade_sql_can_be_printed_for_a_dba(app, runner):
    result = runner.invoke(args=["advocacy", "db", "upgrade", "--sql"])
    assert result.exit_code == 0, result.output
    assert "CREATE TABLE advocacy_advocates" in result.output
    assert "advocacy_alembic_version" in result.output


def test_timestamps_are_timezone_aware(app):
    for table in Base.metadata.tables.values():
        for column in table.columns:
            if isinstance(column.type, sa.types.TypeDecorator):
                assert column.type.impl.timezone, column


def test_migration_files_follow_the_naming_scheme():
    import re

    from advocacy_portal.resources import migrations_dir

    names = [path.name for path in (migrations_dir() / "versions").glob("*.py") if path.name != "__init__.py"]
    assert names
    for name in names:
        assert re.fullmatch(r"\d{8}_\d{4}_[0-9a-f]{12}_[a-z0-9_]+\.py", name), name


def test_a_table_copied_without_its_triggers_is_caught_and_repaired(app, runner):
    """An Alembic batch operation on SQLite (or a careless DBA on PostgreSQL) leaves the referrals
    table without the triggers that mark the report's stale days: ``db check`` and ``rollups verify``
    name them, a signup made meanwhile is missing from the report, and ``db repair-triggers`` makes
    them again and recounts it."""
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    from advocacy_portal.db import get_engine
    from advocacy_portal.db import get_session
    from advocacy_portal.models import utcnow
    from advocacy_portal.services import report_rollups
    from tests.rollup_support import add_advocate
    from tests.rollup_support import add_referral
    from tests.rollup_support import days_ago

    def signups():
        today = utcnow().date()
        rows = report_rollups.report_rows(today - timedelta(days=6), today, by_day=False)
        return rows.get("", {}).get("signups", 0)

    assert migrate.missing_triggers(app) == []
    assert runner.invoke(args=["advocacy", "db", "check"]).exit_code == 0
    with app.app_context():
        engine = get_engine(app)
        with engine.begin() as connection:
            if engine.dialect.name == "sqlite":
                with Operations.context(MigrationContext.configure(connection)) as operations:
                    with operations.batch_alter_table("advocacy_referrals", recreate="always"):
                        pass  # the table is copied: its triggers stay behind
            else:
                connection.exec_driver_sql("DROP TRIGGER advocacy_referrals_report_dirty ON advocacy_referrals")
    missing = migrate.missing_triggers(app)
    assert missing and all(name.startswith("advocacy_referrals: ") for name in missing)
    result = runner.invoke(args=["advocacy", "db", "check"])
    assert result.exit_code == 1 and "missing trigger advocacy_referrals" in result.output
    assert "db repair-triggers" in result.output
    with app.app_context():
        advocate = add_advocate(get_session())
        add_referral(get_session(), advocate, days_ago(1))
        get_session().commit()
        assert signups() == 0  # nothing marked the day: the report does not know
    result = runner.invoke(args=["advocacy", "rollups", "verify"])
    assert result.exit_code == 1 and "MISSING TRIGGER advocacy_referrals" in result.output

    result = runner.invoke(args=["advocacy", "db", "repair-triggers"])
    assert result.exit_code == 0, result.output
    assert f"({len(missing)} were missing)" in result.output
    assert migrate.missing_triggers(app) == []
    assert runner.invoke(args=["advocacy", "db", "check"]).exit_code == 0
    assert runner.invoke(args=["advocacy", "rollups", "verify"]).exit_code == 0
    with app.app_context():
        assert signups() == 1
        add_referral(get_session(), advocate, days_ago(2))  # the triggers work again
        get_session().commit()
        assert signups() == 2
    assert runner.invoke(args=["advocacy", "db", "repair-triggers"]).exit_code == 0  # idempotent
