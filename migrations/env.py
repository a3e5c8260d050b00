"""Alembic environment of the Advocacy Portal tables. Run it through ``flask advocacy db ...``."""

from __future__ import annotations

from alembic import context
from flask import current_app

from advocacy_portal.db import get_engine
from advocacy_portal.migrate import include_name
from advocacy_portal.models import Base

config = context.config
app = config.attributes.get("advocacy_app") or current_app._get_current_object()
version_table = app.config["ADVOCACY_VERSION_TABLE"]


def render_item(type_, obj, autogen_context):
    # Migrations must not import model code: store UTC timestamps as plain timezone-aware DateTime.
    if type_ == "type" and type(obj).__name__ == "UTCDateTime":
        return "sa.DateTime(timezone=True)"
    return False


def _options(**extra):
    return dict(
        target_metadata=Base.metadata,
        version_table=version_table,
        include_name=include_name,
        compare_type=True,
        render_item=render_item,
        render_as_batch=True,
        **extra,
    )


def run_offline() -> None:
    engine = get_engine(app)
    context.configure(url=engine.url, literal_binds=True, **_options())
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = get_engine(app)
    with engine.connect() as connection:
        context.configure(connection=connection, **_options())
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
