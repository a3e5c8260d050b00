import re

from sqlalchemy import inspect

from advocacy_portal.testing.stripe_events import send_event
from shop import User
from shop import db
from shop import portal


def test_create_all_leaves_the_plugin_tables_to_advocacy_tables(app):
    with app.app_context():
        assert "advocacy_advocates" not in inspect(db.engine).get_table_names()


def test_a_friend_pays_and_the_advocates_code_takes_its_amount_off(app, advocacy_tables, advocacy_stripe,
                                                                    stripe_globals):
    ann, bob = app.test_client(), app.test_client()
    ann.post("/signup", data={"email": "ann@example.com"})
    with app.test_request_context():
        link = portal.referral_link(db.session.scalar(db.select(User).filter_by(email="ann@example.com")))
    assert bob.get(link).status_code == 302
    bob.post("/signup", data={"email": "bob@example.com"})

    checkout = bob.post("/buy")
    assert checkout.status_code == 303
    session_id = checkout.location.rsplit("/", 1)[-1]
    sent = advocacy_stripe.requests_to("/v1/checkout/sessions", "POST")[-1].params
    assert "customer_email" not in sent and sent["metadata"]["order"] == "monstera-xl"
    paid = advocacy_stripe.complete_checkout(session_id)
    assert send_event(bob, paid).status_code == 200
    assert app.test_cli_runner().invoke(args=["advocacy", "stripe", "release"]).exit_code == 0

    assert "Redeem $9.90 as a promotion code" in ann.get("/advocacy/rewards/").get_data(as_text=True)
    redeemed = ann.post("/advocacy/rewards/redeem", follow_redirects=True, data={
        "advocacy-redeem-currency": "usd", "advocacy-redeem-amount_minor": "990", "advocacy-redeem-confirm": "y"})
    code = re.search(r"is ready: (REWARD-\w+)", redeemed.get_data(as_text=True)).group(1)

    own = ann.post("/buy").location.rsplit("/", 1)[-1]
    bought = advocacy_stripe.complete_checkout(own, code)
    assert bought["data"]["object"]["amount_total"] == 9900 - 990
    assert send_event(ann, bought).status_code == 200
    assert "used at checkout" in ann.get("/advocacy/rewards/").get_data(as_text=True)
