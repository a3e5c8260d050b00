"""Template helpers for a host's own layout: `advocacy_head()` links the stylesheets each plugin page
needs, and the extension and the widget helpers are Jinja globals in the host's templates too."""

from __future__ import annotations

import re

from tests.helpers import make_customer
from tests.host_app import add_templates


def stylesheets(page: str) -> list[str]:
    return re.findall(r'<link rel="stylesheet" href="[^"]*/(advocacy[\w-]*\.css)">', page)


def test_advocacy_head_links_what_each_page_needs_in_the_hosts_layout(app, client, auth):
    user = make_customer(app, staff=True)
    auth.login(user)
    # Customer pages may show the NPS question, so they carry its stylesheet.
    assert stylesheets(client.get("/advocacy/").get_data(as_text=True)) == ["advocacy.css", "advocacy-nps.css"]
    assert stylesheets(client.get("/advocacy/admin/nps/").get_data(as_text=True)) == [
        "advocacy.css", "advocacy-admin.css", "advocacy-nps.css"]
    # The overview's charts bring their own stylesheet.
    assert stylesheets(client.get("/advocacy/admin/").get_data(as_text=True)) == [
        "advocacy.css", "advocacy-admin.css", "advocacy-charts.css"]
    assert stylesheets(client.get("/advocacy/testimonials/").get_data(as_text=True)) == [
        "advocacy.css", "advocacy-testimonials.css", "advocacy-nps.css"]
    assert stylesheets(client.get("/advocacy/admin/testimonials/").get_data(as_text=True)) == [
        "advocacy.css", "advocacy-admin.css", "advocacy-testimonials.css"]


def test_the_extension_and_widget_helpers_are_jinja_globals_in_host_templates(app, client, auth):
    user = make_customer(app)

    add_templates(app, {"shop/invite.html": (
        "<a id='link' href='{{ advocacy_portal.referral_link(current_user) }}'>Invite</a>"
        "<script src='{{ advocacy_widget_script_url() }}' data-token='{{ advocacy_widget_token(current_user) }}'></script>"
        "<a id='nav' href=\"{{ url_for('advocacy_rewards.ledger') }}\">Rewards</a>"
    )})

    @app.get("/invite")
    def invite():
        from flask import render_template

        return render_template("shop/invite.html")

    auth.login(user)
    page = client.get("/invite").get_data(as_text=True)
    assert re.search(r"href='http://shop.test/r/[\w.-]+'", page)
    assert re.search(r"src='http://shop.test/advocacy/widget/widget\.[0-9a-f]+\.js' data-token='[\w.-]+'", page)
    assert 'href="/advocacy/rewards/"' in page
