"""The plugin's own Alembic history, run against the app's database.

It lives in ``migrations/`` (``portal/migrations`` in a wheel) and records its revision in
``ADVOCACY_VERSION_TABLE`` (``advocacy_alembic_version``), so it never touches the host's own Alembic
history or tables. ``flask advocacy db upgrade`` creates or upgrades the schema.
"""

from __future__ import annotations

import io

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from flask import current_app
from flask import has_app_context

from advocacy_portal.db import get_engine
from advocacy_portal.models import Base
from advocacy_portal.resources import migrations_dir

DEFAULT_VERSION_TABLE = "advocacy_alembic_version"
FILE_TEMPLATE = "%%(year)d%%(month).2d%%(day).2d_%%(hour).2d%%(minute).2d_%%(rev)s_%%(slug)s"


def include_name(name, type_, parent_names) -> bool:
    """Only the plugin's own tables take part in its comparisons; the host's are not ours to touch."""
    if type_ == "table":
        return name in Base.metadata.tables
    return True


def host_include_name(name, type_, parent_names) -> bool:
    """For the host's own Alembic ``env.py``: hide the plugin's tables (and its version table) from
    the host's autogenerate, which would otherwise propose to drop them. Flask-Migrate hosts that
    initialise Flask-Migrate before the plugin get this automatically."""
    if type_ == "table":
        version_table = DEFAULT_VERSION_TABLE
        if has_app_context():
            version_table = current_app.config.get("ADVOCACY_VERSION_TABLE", version_table)
        return name not in Base.metadata.tables and name != version_table
    return True


def hide_tables_from_host_migrations(app: Flask) -> None:
    """Chain :func:`host_include_name` into the host's Flask-Migrate settings, if it uses Flask-Migrate.

    Called by ``init_app``; a host that initialises Flask-Migrate later, or runs Alembic itself, passes
    ``include_name=advocacy_portal.migrate.host_include_name`` (see README).
    """
    migrate_ext = app.extensions.get("migrate")
    if migrate_ext is None:
        return
    configure_args = getattr(migrate_ext, "configure_args", None)
    if configure_args is None:
        return
    host_filter = configure_args.get("include_name")

    def include_name_for_host(name, type_, parent_names):
        if not host_include_name(name, type_, parent_names):
            return False
        return host_filter(name, type_, parent_names) if host_filter else True

    configure_args["include_name"] = include_name_for_host


def alembic_config(app: Flask, stdout=None) -> Config:
    """An Alembic config for the plugin's script directory, bound to ``app``."""
    config = Config(stdout=stdout or io.StringIO())
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("file_template", FILE_TEMPLATE)
    config.set_main_option("timezone", "UTC")
    config.attributes["advocacy_app"] = app
    return config


def upgrade(app: Flask, revision: str = "head", sql: bool = False, stdout=None) -> None:
    """Create or upgrade the plugin's tables to ``revision`` (with ``sql``: print the SQL instead)."""
    with app.app_context():
        command.upgrade(alembic_config(app, stdout), revision, sql=sql)


def downgrade(app: Flask, revision: str, sql: bool = False, stdout=None) -> None:
    """Step the plugin's tables back to ``revision`` (``base`` drops them all)."""
    with app.app_context():
        command.downgrade(alembic_config(app, stdout), revision, sql=sql)


def current_revision(app: Flask) -> str | None:
    """The revision the database is at, or ``None`` before the first upgrade."""
    with app.app_context():
        engine = get_engine(app)
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table": app.config["ADVOCACY_VERSION_TABLE"]}
            )
            return context.get_current_revision()


def head_revision(app: Flask) -> str:
    """The newest revision the installed plugin ships."""
    return ScriptDirectory.from_config(alembic_config(app)).get_current_head()


def missing_revisions(app: Flask) -> list[tuple[str, str]]:
    """The revisions the installed plugin ships that the database lacks, oldest first, as
    ``(revision, description)``; empty when the database is at head. A database the plugin never
    touched lacks them all."""
    script = ScriptDirectory.from_config(alembic_config(app))
    current = current_revision(app)
    missing = list(script.iterate_revisions(script.get_current_head(), current))
    return [(revision.revision, (revision.doc or "").strip()) for revision in reversed(missing)
            if revision.revision != current]


def schema_differences(app: Flask) -> list:
    """What differs between the database and the models (empty when they agree)."""
    with app.app_context():
        engine = get_engine(app)
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": True,
                    "include_name": include_name,
                    "version_table": app.config["ADVOCACY_VERSION_TABLE"],
                },
            )
            return compare_metadata(context, Base.metadata)


#: The revision that creates the triggers marking the report's stale days (see
#: :mod:`advocacy_portal.services.report_rollups`): its module names them and makes them.
REPORT_TRIGGERS_REVISION = "5d9a3f7c1e20"


def _report_triggers_module(app: Flask):
    return ScriptDirectory.from_config(alembic_config(app)).get_revision(REPORT_TRIGGERS_REVISION).module


def missing_triggers(app: Flask) -> list[str]:
    """The report triggers the database lacks, as ``"table: trigger"`` (empty when all are there).
    Without them the overview's figures go stale silently: an Alembic batch operation on SQLite copies
    a table and leaves its triggers behind."""
    with app.app_context():
        engine = get_engine(app)
        expected = _report_triggers_module(app).report_trigger_names(engine.dialect.name)
        if not expected:
            return []
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                present = set(connection.exec_driver_sql(
                    "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid IN ("
                    + ", ".join(f"to_regclass('{table}')" for table in sorted(set(expected.values()))) + ")"
                ).scalars())
            else:
                present = set(connection.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger'"
                ).scalars())
    return [f"{table}: {name}" for name, table in expected.items() if name not in present]


def repair_triggers(app: Flask) -> None:
    """Create the report triggers again (each dropped first if present), in one transaction, with the
    statements of the revision that made them."""
    from alembic.operations import Operations

    with app.app_context():
        module = _report_triggers_module(app)
        with get_engine(app).begin() as connection:
            context = MigrationContext.configure(connection)
            with Operations.context(context):
                module.create_report_triggers()
