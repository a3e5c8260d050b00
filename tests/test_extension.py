"""Adding the plugin to a host app: settings, hooks, signals, and mistakes an integrator can make."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import Migrate
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import func
from sqlalchemy import select

from advocacy_portal import AdvocacyPortal
from advocacy_portal import Customer
from advocacy_portal import migrate
from advocacy_portal import signals
from advocacy_portal.config import DEFAULTS
from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.models import Referral
from advocacy_portal.services import links
from tests.helpers import CustomerRef
from tests.helpers import follow
from tests.helpers import make_customer
from tests.helpers import referral_path


def bare_app(database_url, **config) -> Flask:
    app = Flask("host")
    app.config.update(TESTING=True, SECRET_KEY="host-secret", SQLALCHEMY_DATABASE_URI=database_url, **config)
    return app


def test_every_default_is_documented():
    source = open(__import__("advocacy_portal.config").config.__file__).read()
    for key in DEFAULTS:
        line = next(line for line in source.splitlines() if line.strip().startswith(f'"{key}":'))
        comment = source[: source.index(line)].rstrip().splitlines()[-1].strip()
        assert comment.startswith("#:"), key


def test_a_second_registration_is_refused(database_url):
    app = bare_app(database_url)
    portal = AdvocacyPortal(app)
    with pytest.raises(RuntimeError, match="already registered"):
        portal.init_app(app)
    with pytest.raises(RuntimeError, match="already registered"):
        AdvocacyPortal(app)


def test_a_misspelled_setting_is_an_error(database_url):
    app = bare_app(database_url, ADVOCACY_ATTRIBUTON_DAYS=10)
    with pytest.raises(RuntimeError, match="ADVOCACY_ATTRIBUTON_DAYS"):
        AdvocacyPortal(app)
    with bare_app(database_url).app_context(), pytest.raises(KeyError):
        config_value("NOT_A_SETTING")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"ADVOCACY_ATTRIBUTION_MODEL": "linear"}, "ATTRIBUTION_MODEL"),
        ({"ADVOCACY_REDIRECT_PATH": "/r/<code>"}, "REDIRECT_PATH"),
        ({"ADVOCACY_LANDING_URL": "//evil.example"}, "LANDING_URL"),
        ({"ADVOCACY_LANDING_URL": "https://evil.example/"}, "LANDING_URL"),
        ({"ADVOCACY_URL_PREFIX": ""}, "URL_PREFIX"),
        ({"ADVOCACY_URL_PREFIX": "/"}, "URL_PREFIX"),
    ],
)
def test_invalid_settings_fail_at_startup(database_url, config, message):
    with pytest.raises(RuntimeError, match=message):
        AdvocacyPortal(bare_app(database_url, **config))


def test_defaults_are_applied_and_the_host_wins(database_url):
    app = bare_app(database_url, ADVOCACY_ATTRIBUTION_DAYS=7)
    AdvocacyPortal(app)
    assert app.config["ADVOCACY_ATTRIBUTION_DAYS"] == 7
    assert app.config["ADVOCACY_URL_PREFIX"] == "/advocacy"
    assert app.extensions["advocacy"]


def test_the_plugin_may_be_initialised_before_flask_sqlalchemy(database_url):
    app = bare_app(database_url)
    AdvocacyPortal(app)
    db = SQLAlchemy()
    db.init_app(app)  # the host's own, afterwards: no conflict
    migrate.upgrade(app)
    assert migrate.current_revision(app) == migrate.head_revision(app)
    assert app.extensions["sqlalchemy"] is db


def test_an_app_without_flask_sqlalchemy_gets_a_clear_error(database_url):
    app = bare_app(database_url)
    AdvocacyPortal(app)
    with pytest.raises(RuntimeError, match="needs Flask-SQLAlchemy"):
        migrate.upgrade(app)


def test_the_hosts_flask_migrate_never_proposes_to_drop_plugin_tables(database_url):
    class HostBase(DeclarativeBase):
        pass

    class Order(HostBase):
        __tablename__ = "orders"
        id: Mapped[int] = mapped_column(primary_key=True)

    app = bare_app(database_url)
    db = SQLAlchemy(app, model_class=HostBase)
    Migrate(app, db)
    AdvocacyPortal(app)
    migrate.upgrade(app)
    with app.app_context():
        db.create_all()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts=dict(app.extensions["migrate"].configure_args))
            assert compare_metadata(context, HostBase.metadata) == []
    assert not migrate.host_include_name("advocacy_referrals", "table", {})
    assert not migrate.host_include_name("advocacy_alembic_version", "table", {})
    assert migrate.host_include_name("orders", "table", {})
    assert migrate.host_include_name("advocacy_my_own_table", "table", {})  # not ours: the host's


def test_a_signup_signal_sent_outside_an_app_context_still_works(app):
    signals.user_signed_up.send(app, user=make_customer(app))  # no cookie here: nothing to credit


def test_the_customer_page_needs_flask_login(database_url):
    app = bare_app(database_url)
    AdvocacyPortal(app)
    with pytest.raises(RuntimeError, match="Flask-Login"):
        app.test_client().get("/advocacy/")


class HostUser:
    """A host user whose id and email live under other names."""

    is_authenticated = True

    def __init__(self, uid, mail, role="customer"):
        self.uid, self.mail, self.role = uid, mail, role


def test_identity_and_staff_hooks(database_url):
    app = bare_app(database_url)
    portal = AdvocacyPortal(app)
    with app.app_context():
        assert portal.identify(CustomerRef(5, "x@example.com")) == Customer("5", "x@example.com")
        assert portal.is_staff(type("U", (), {"is_authenticated": True, "is_staff": True})())
        assert not portal.is_staff(CustomerRef(5, "x@example.com"))

        @portal.customer_identity
        def identity(user):
            return None if user.role == "robot" else (user.uid, user.mail)

        @portal.staff_loader
        def staff(user):
            return user.role == "admin"

        assert portal.identify(HostUser("u-1", "m@example.com")) == Customer("u-1", "m@example.com")
        assert portal.identify(HostUser("u-2", "r@example.com", role="robot")) is None
        assert portal.is_staff(HostUser("u-3", "a@example.com", role="admin"))
        assert not portal.is_staff(HostUser("u-4", "c@example.com"))
        assert portal.identify(type("Anon", (), {"is_authenticated": False})()) is None


@pytest.mark.settings(USER_EMAIL_ATTR="contact_email", STAFF_ATTR="is_admin")
def test_identity_attributes_are_settings(app):
    from advocacy_portal import get_portal

    user = type("U", (), {"is_authenticated": True, "contact_email": "c@example.com", "is_admin": True,
                          "get_id": lambda self: "9"})()
    with app.app_context():
        assert get_portal().identify(user) == Customer("9", "c@example.com")
        assert get_portal().is_staff(user)


def test_referral_link_and_attribute_signup_on_the_extension(app):
    from advocacy_portal import get_portal

    advocate = make_customer(app)
    portal = get_portal(app)
    with app.app_context():
        link = portal.referral_link(advocate, campaign="newsletter")
        assert link.startswith("http://shop.test/r/")
        assert links.read_link_token(link.rsplit("/", 1)[1]).campaign == "newsletter"
        with pytest.raises(ValueError):
            portal.referral_link(advocate, campaign="not a slug")
    # The link was committed when it was handed out: it works for the next visitor at once.
    response = follow(app.test_client(), link.removeprefix("http://shop.test"))
    assert response.status_code == 302
    with app.app_context():
        with pytest.raises(ValueError, match="flush"):
            portal.attribute_signup(type("New", (), {"is_authenticated": True, "get_id": lambda self: None})())
        # Outside a request there is no cookie to read.
        assert portal.attribute_signup(CustomerRef(999, "n@example.com")).outcome == "no_claim"


def test_the_signup_signal_attributes_like_the_method(app):
    advocate = make_customer(app)
    client = app.test_client()
    follow(client, referral_path(app, advocate))
    friend = make_customer(app, email="friend@example.com")
    cookie = client.get_cookie("advocacy_ref", domain="shop.test")
    with app.test_request_context("/signup", headers={"Cookie": f"advocacy_ref={cookie.value}"}):
        signals.user_signed_up.send(app, user=friend)
        assert get_session().scalar(select(func.count()).select_from(Referral)) == 1


@pytest.mark.settings(LISTEN_FOR_SIGNUPS=False)
def test_the_signup_signal_can_be_ignored(app):
    advocate = make_customer(app)
    client = app.test_client()
    follow(client, referral_path(app, advocate))
    cookie = client.get_cookie("advocacy_ref", domain="shop.test")
    friend = make_customer(app, email="friend@example.com")
    with app.test_request_context("/signup", headers={"Cookie": f"advocacy_ref={cookie.value}"}):
        signals.user_signed_up.send(app, user=friend)
        assert get_session().scalar(select(func.count()).select_from(Referral)) == 0


def test_a_host_with_its_own_login_view_gets_anonymous_visitors_sent_there(database_url):
    app = bare_app(database_url)
    login_manager = LoginManager(app)
    login_manager.login_view = "sign_in"
    login_manager.user_loader(lambda user_id: None)
    app.add_url_rule("/sign-in", "sign_in", lambda: "sign in")
    AdvocacyPortal(app)
    response = app.test_client().get("/advocacy/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in?next=")
