import os

import pytest

from shop import create_app
from shop import db

pytest_plugins = ["advocacy_portal.testing.pytest_plugin"]


@pytest.fixture
def app(tmp_path):
    app = create_app({
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": "plants.test",
        "SQLALCHEMY_DATABASE_URI": os.environ.get("SHOP_DATABASE_URL") or f"sqlite:///{tmp_path}/shop.sqlite",
    })
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()
