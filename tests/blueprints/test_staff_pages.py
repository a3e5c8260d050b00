"""The staff check every admin page uses, and the shared admin navigation."""

from __future__ import annotations

import pytest
from flask import Blueprint
from flask import g
from flask import render_template_string

from advocacy_portal.blueprints.common import admin_section
from advocacy_portal.blueprints.common import setup_blueprint
from advocacy_portal.blueprints.common import staff_required
from tests.helpers import login
from tests.helpers import make_customer


@pytest.fixture
def staff_app(app):
    bp = Blueprint("advocacy_probe", __name__)
    setup_blueprint(bp)

    @bp.get("/probe")
    @staff_required
    def index():
        return render_template_string(
            "{% extends 'advocacy/admin/base.html' %}{% block admin_content %}hello {{ who }}{% endblock %}",
            who=g.advocacy_staff.email,
        )

    admin_section(bp, "advocacy_probe.index", "Probe", order=10)
    app.register_blueprint(bp, url_prefix="/advocacy/admin")
    return app


def test_anonymous_visitors_are_sent_to_log_in(staff_app):
    response = staff_app.test_client().get("/advocacy/admin/probe")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_customers_who_are_not_staff_get_a_403_page(staff_app):
    client = staff_app.test_client()
    login(client, make_customer(staff_app))
    response = client.get("/advocacy/admin/probe")
    assert response.status_code == 403
    assert "staff only" in response.get_data(as_text=True)


def test_staff_see_the_page_in_the_admin_navigation(staff_app):
    client = staff_app.test_client()
    staff = make_customer(staff_app, staff=True)
    login(client, staff)
    response = client.get("/advocacy/admin/probe")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"hello {staff.email}" in page
    assert 'aria-label="Advocacy admin"' in page
    assert '<a href="/advocacy/admin/probe" aria-current="page">Probe</a>' in page
