"""The demo host's extension objects, bound to the app in ``wsgi.create_app``."""

from __future__ import annotations

from flask import current_app
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase

from advocacy_portal import AdvocacyPortal


class HostBase(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=HostBase)
login_manager = LoginManager()
csrf = CSRFProtect()
portal = AdvocacyPortal()

#: The demo shop's products, for product reviews (``DEMO_PRODUCTS`` config replaces them; ``{}`` turns
#: reviews off).
DEMO_PRODUCTS = {"starter": "Starter plan", "pro": "Pro plan", "team": "Team plan"}


@portal.product_catalogue
def demo_products() -> dict:
    return current_app.config.get("DEMO_PRODUCTS", DEMO_PRODUCTS)


def sqlite_pragmas(dbapi_connection, connection_record):
    # The demo's embedded database: write-ahead logging lets readers and the writer work side by side.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()
