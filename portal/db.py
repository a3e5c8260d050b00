"""Access to the host's database session.

The plugin does not own a database connection: it uses the Flask-SQLAlchemy instance the host registered
on the app, looked up when needed so the host may initialise it before or after the plugin.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy.orm import Session


def get_db(app=None):
    """The app's Flask-SQLAlchemy instance.

    :raises RuntimeError: when the app has none.
    """
    app = app or current_app
    db = app.extensions.get("sqlalchemy")
    if db is None:
        raise RuntimeError(
            "Advocacy Portal needs Flask-SQLAlchemy on the app: db = SQLAlchemy(app) or db.init_app(app)"
        )
    return db


def get_session() -> Session:
    """The Flask-SQLAlchemy scoped session of the current app."""
    return get_db().session


def get_engine(app=None):
    """The engine the plugin's tables live on (the app's default engine)."""
    return get_db(app).engine


def dialect_insert(model):
    """An ``INSERT`` for ``model`` in the session's dialect, which offers ``on_conflict_do_nothing``
    (SQLite and PostgreSQL)."""
    dialect = get_session().get_bind(mapper=model.__mapper__).dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the plugin supports SQLite and PostgreSQL
        raise RuntimeError(f"Advocacy Portal does not support the {dialect} database")
    return insert(model)


def insert_or_ignore(model, values: dict, conflict_columns: list[str]):
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING id``: the new row's id, or ``None`` if a row with
    the same unique ``conflict_columns`` exists already (perhaps inserted a moment ago by a concurrent
    request).

    One statement, no savepoint: exactly-once inserts that behave the same on SQLite and PostgreSQL.
    """
    session = get_session()
    statement = (
        dialect_insert(model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=conflict_columns)
        .returning(model.id)
    )
    session.flush()
    return session.execute(statement).scalar_one_or_none()
