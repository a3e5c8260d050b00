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
from flask import Flask

from portal.models import Base
from portal.resources import migrations_dir

FILE_TEMPLATE = "%%(year)d%%(month).2d%%(day).2d_%%(hour).2d%%(minute).2d_%%(rev)s_%%(slug)s"


def include_name(name, type_, parent_names) -> bool:
    """Only the plugin's own tables take part in comparisons; the host's are not ours to touch."""
    if type_ == "table":
        return name is not None and name.startswith("advocacy_")
    return True


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
        engine = app.extensions["sqlalchemy"].engine
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table": app.config["ADVOCACY_VERSION_TABLE"]}
            )
            return context.get_current_revision()


def head_revision(app: Flask) -> str:
    """The newest revision the installed plugin ships."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(app)).get_current_head()


def schema_differences(app: Flask) -> list:
    """What differs between the database and the models (empty when they agree)."""
    with app.app_context():
        engine = app.extensions["sqlalchemy"].engine
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
