"""Access to the host's database session.

The plugin does not own a database connection: it uses the Flask-SQLAlchemy instance the host registered
on the app, looked up when needed so the host may initialise it before or after the plugin.
"""

from __future__ import annotations

import logging
from typing import Any
from typing import Callable
from typing import Hashable

from flask import Flask
from flask import current_app
from flask import has_app_context
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm import SessionTransaction

from advocacy_portal.proxies import app_object

log = logging.getLogger(__name__)

#: ``session.info`` key of the callbacks waiting for the session's commit.
_PENDING = "advocacy_after_commit"


def get_db(app=None):
    """The app's Flask-SQLAlchemy instance.

    :raises RuntimeError: when the app has none.
    """
    db = app_object(app).extensions.get("sqlalchemy")
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
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise RuntimeError(f"Advocacy Portal does not support the {dialect} database")


def insert_or_ignore(model, values: dict, conflict_columns: list[str] | None):
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING id``: the new row's id, or ``None`` if a row with
    the same unique ``conflict_columns`` exists already (perhaps inserted a moment ago by a concurrent
    request). ``None`` for ``conflict_columns`` ignores a conflict on any unique column.

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


# -- after commit ------------------------------------------------------------------------------------
#
# One mechanism for everything that must happen only once a change is committed (signals, mail, caches
# of committed rows). The listeners are attached to the host's Flask-SQLAlchemy session factory (its
# ``sessionmaker`` has a ``Session`` subclass of its own), never to SQLAlchemy's global ``Session``
# class: other Flask-SQLAlchemy instances and other sessions in the process are not affected.


def listen(db) -> None:
    """Attach the after-commit listeners to ``db.session`` (a Flask-SQLAlchemy instance); idempotent."""
    if not event.contains(db.session, "after_commit", _run_pending):
        event.listen(db.session, "after_commit", _run_pending)
        event.listen(db.session, "after_soft_rollback", _drop_pending)
        event.listen(db.session, "after_transaction_end", _forget_on_end)


def after_commit(
    callback: Callable[[], Any], *, key: Hashable | None = None, app_context: bool = True
) -> None:
    """Call ``callback()`` once the current session's outermost transaction commits.

    Dropped, never called, if that transaction (or the savepoint it was registered in) rolls back.
    A callback that raises is logged; it neither fails nor undoes the commit.

    :param key: at most one callback per key waits for a transaction (the first one registered).
    :param app_context: run the callback in a new app context of the current app (it may then use
        the app's session for work of its own), else as it is.
    """
    db = get_db()
    listen(db)
    session = db.session()
    pending = session.info.setdefault(_PENDING, {})
    if key is None:
        key = object()
    elif key in pending:
        return
    app = current_app._get_current_object() if app_context and has_app_context() else None
    pending[key] = (_current_transaction(session), app, callback)


def _current_transaction(session: Session) -> SessionTransaction | None:
    return session.get_nested_transaction() or session.get_transaction()


def _run_pending(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint: the outer transaction may still roll back
        return
    pending = session.info.pop(_PENDING, None)
    for _transaction, app, callback in (pending or {}).values():
        _call(app, callback)


def _call(app: Flask | None, callback: Callable[[], Any]) -> None:
    try:
        if app is None:
            callback()
        else:
            with app.app_context():
                callback()
    except Exception:
        log.exception("An Advocacy Portal after-commit action failed (%r)", callback)


def _drop_pending(session: Session, previous_transaction: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if not pending:
        return
    for key, (transaction, _app, _callback) in list(pending.items()):
        if _within(transaction, previous_transaction):
            del pending[key]


def _forget_on_end(session: Session, transaction: SessionTransaction) -> None:
    # The outermost transaction ended without a commit (``close()``, a failed commit): nothing waits.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def _within(transaction: SessionTransaction | None, outer: SessionTransaction) -> bool:
    if transaction is None:  # registered before the session began: part of the outermost transaction
        return outer.parent is None
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False
