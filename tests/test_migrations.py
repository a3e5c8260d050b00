"""The plugin's own Alembic history: schema equals models, own version table, host tables untouched."""

from __future__ import annotations

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
