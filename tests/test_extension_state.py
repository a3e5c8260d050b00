"""The extension keeps its state on itself, and its after-commit listeners on the host's session only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import sqlalchemy as sa
from blinker import Namespace
from blinker import NamedSignal
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import Session

import advocacy_portal
from advocacy_portal import AdvocacyPortal
from advocacy_portal import current_portal
from advocacy_portal import signals
from advocacy_portal.db import after_commit

REPO = Path(__file__).resolve().parent.parent


def host(database_url: str, db: SQLAlchemy | None = None, **config) -> tuple[Flask, SQLAlchemy, AdvocacyPortal]:
    app = Flask("host")
    app.config.update(TESTING=True, SECRET_KEY="s", SQLALCHEMY_DATABASE_URI=database_url, **config)
    db = db or SQLAlchemy()
    db.init_app(app)
    return app, db, AdvocacyPortal(app)


def test_one_extensions_entry_and_state_per_app(database_url, tmp_path):
    portal = AdvocacyPortal()
    apps = []
    for name in ("one", "two"):
        app = Flask(name)
        app.config.update(TESTING=True, SECRET_KEY="s", SQLALCHEMY_DATABASE_URI=database_url)
        SQLAlchemy().init_app(app)
        portal.init_app(app)
        apps.append(app)
    for app in apps:
        assert [key for key in app.extensions if "advocacy" in key] == ["advocacy"]
        assert app.extensions["advocacy"] is portal
        with app.app_context():
            assert current_portal.state() is portal.state(app)
            current_portal.state().cache["k"] = app.name
            assert advocacy_portal.get_portal() is portal
    assert portal.state(apps[0]) is not portal.state(apps[1])
    assert portal.state(apps[0]).cache == {"k": "one"}
    with pytest.raises(RuntimeError, match="not registered"):
        portal.state(Flask("other"))
    with Flask("bare").app_context(), pytest.raises(RuntimeError, match="not registered"):
        current_portal.identify(None)


def test_hooks_are_read_through_public_properties(database_url):
    _app, _db, portal = host(database_url)
    assert portal.verified_customer_callback is None and portal.product_catalogue_callback is None

    @portal.verified_customer_check
    def paying(user_id):
        return user_id == "7"

    @portal.product_catalogue
    def catalogue():
        return {"mug": "Mug"}

    assert portal.verified_customer_callback is paying
    assert portal.product_catalogue_callback is catalogue
    assert portal.products() == {"mug": "Mug"}
    with pytest.raises(AttributeError):
        portal.verified_customer_callback = None  # read-only: set it with the decorator


def _our_listeners(target) -> list[str]:
    from advocacy_portal import db

    ours = [db._run_pending, db._drop_pending, db._forget_on_end]
    names = ("after_commit", "after_soft_rollback", "after_rollback", "after_transaction_end")
    return [name for name in names for fn in ours if sa.event.contains(target, name, fn)]


def test_no_listener_on_sqlalchemys_global_session_class(app):
    assert _our_listeners(Session) == []
    # the host's own session factory has them, once
    db = app.extensions["sqlalchemy"]
    assert sorted(_our_listeners(db.session)) == ["after_commit", "after_soft_rollback", "after_transaction_end"]


def test_other_sqlalchemy_instances_and_sessions_are_not_affected(database_url):
    app, db, _portal = host(database_url)
    other = SQLAlchemy()
    another_app = Flask("another_app")
    another_app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    other.init_app(another_app)  # another Flask-SQLAlchemy instance in the same process
    ran = []
    with app.app_context():
        after_commit(lambda: ran.append("host"))
        plain = Session(db.engine)
        plain.execute(sa.text("SELECT 1"))
        plain.commit()  # a session of another factory: nothing of ours runs
        plain.close()
        assert ran == []
        assert _our_listeners(other.session) == []
        db.session.execute(sa.text("SELECT 1"))
        db.session.commit()
        assert ran == ["host"]
        db.session.commit()
        assert ran == ["host"]  # once


def test_after_commit_follows_the_transaction(database_url):
    app, db, _portal = host(database_url)
    ran = []
    with app.app_context():
        db.session.execute(sa.text("SELECT 1"))
        after_commit(lambda: ran.append("rolled back"))
        db.session.rollback()
        db.session.commit()
        assert ran == []

        db.session.execute(sa.text("SELECT 1"))
        after_commit(lambda: ran.append("outer"))
        savepoint = db.session.begin_nested()
        after_commit(lambda: ran.append("in a rolled-back savepoint"))
        savepoint.rollback()
        with db.session.begin_nested():
            after_commit(lambda: ran.append("in a released savepoint"))
        assert ran == []  # releasing a savepoint is not the commit
        after_commit(lambda: ran.append("keyed"), key="k")
        after_commit(lambda: ran.append("keyed again"), key="k")
        db.session.commit()
        assert ran == ["outer", "in a released savepoint", "keyed"]

        db.session.execute(sa.text("SELECT 1"))
        after_commit(lambda: ran.append("closed"))
        db.session.close()
        db.session.commit()
        assert ran[-1] == "keyed"


def test_a_failing_callback_is_logged_and_the_rest_still_run(database_url, caplog):
    app, db, _portal = host(database_url)
    ran = []
    with app.app_context():
        db.session.execute(sa.text("SELECT 1"))
        after_commit(lambda: 1 / 0)
        after_commit(lambda: ran.append("after the failure"))
        db.session.commit()
    assert ran == ["after the failure"]
    assert "after-commit action failed" in caplog.text


def _parse(source: str) -> ast.Module:
    # CPython 3.11's AST validator keeps its recursion depth in state shared by every thread: when a
    # thread left running by an earlier test (a click writer, an outbox worker rendering a template)
    # compiles code at the same moment, ast.parse fails with "AST constructor recursion depth
    # mismatch". Nothing is wrong with the source: parse it again.
    for attempt in range(5):
        try:
            return ast.parse(source)
        except SystemError as error:
            if "recursion depth mismatch" not in str(error) or attempt == 4:
                raise
    raise AssertionError("unreachable")


def test_every_signal_is_declared_in_signals_py_and_listed_in_the_readme():
    sent_by_plugin = set()
    for path in (REPO / "portal").rglob("*.py"):
        tree = _parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "signal" and path.name != "signals.py":
                pytest.fail(f"{path.relative_to(REPO)} declares a signal: declare it in signals.py")
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "send_after_commit":
                first = node.args[0]
                sent_by_plugin.add(first.attr if isinstance(first, ast.Attribute) else first.id)
    declared = {name for name, value in vars(signals).items() if isinstance(value, NamedSignal)}
    assert sent_by_plugin <= declared, sent_by_plugin - declared
    assert set(signals.ALL) == {getattr(signals, name).name for name in declared}
    readme = (REPO / "README.md").read_text()
    for name in declared:
        assert f"`{name}`" in readme, f"README does not list the signal {name}"
    assert isinstance(signals._signals, Namespace)
