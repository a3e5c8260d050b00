"""The referred friend's landing: who invited them (only if the advocate says so), their discount and,
once they have an account, their code; or a clear note when the rule gives friends nothing."""

from __future__ import annotations

import pytest

from tests.helpers import csrf_token
from tests.helpers import follow
from tests.helpers import login
from tests.helpers import make_customer
from tests.helpers import referral_path
from tests.helpers import signup

NO_FRIEND_REWARD = {
    "default": {"type": "fixed", "amount_minor": 500, "currency": "usd"},
    "campaigns": {},
}


def _set_inviter_name(client, name: str, hide: bool = False):
    token = csrf_token(client, "/advocacy/")
    # The referral page has two forms; the inviter form's token is the same session token.
    data = {"advocacy-inviter-csrf_token": token, "advocacy-inviter-name": name}
    if hide:
        data["advocacy-inviter-hide"] = "y"
    return client.post("/advocacy/inviter-name", data=data)


def test_a_friend_sees_the_discount_and_no_name_unless_the_advocate_gives_one(app):
    advocate = make_customer(app, name="Samantha Jones")
    path = referral_path(app, advocate)
    friend = app.test_client()
    follow(friend, path)
    page = friend.get("/signup").get_data(as_text=True)
    assert "A friend invited you: welcome!" in page
    assert "Samantha" not in page  # nothing shown unasked
    assert "You get 10% off your first purchase." in page
    assert "Create your account and it is applied at checkout on your first purchase." in page

    owner = app.test_client()
    login(owner, advocate)
    assert _set_inviter_name(owner, "  Sam  the advocate").status_code == 303
    mine = owner.get("/advocacy/").get_data(as_text=True)
    assert "Friends you invite now read “Sam invited you”." in mine
    assert "Sam invited you: welcome!" in friend.get("/signup").get_data(as_text=True)

    assert _set_inviter_name(owner, "Sam", hide=True).status_code == 303
    assert "A friend invited you: welcome!" in friend.get("/signup").get_data(as_text=True)


def test_an_inviter_name_with_markup_is_refused(app, client):
    advocate = make_customer(app)
    login(client, advocate)
    response = _set_inviter_name(client, "<script>")
    assert response.status_code == 400
    assert "Use letters only" in response.get_data(as_text=True)


@pytest.mark.settings(REWARD_RULES=NO_FRIEND_REWARD)
def test_without_a_friend_discount_the_friend_is_told_so(app):
    advocate = make_customer(app)
    friend = app.test_client()
    follow(friend, referral_path(app, advocate))
    page = friend.get("/signup").get_data(as_text=True)
    assert "A friend invited you: welcome!" in page
    assert "There is no discount on this invitation" in page
    assert " off your first purchase" not in page
    owner = app.test_client()
    login(owner, advocate)
    mine = owner.get("/advocacy/").get_data(as_text=True)
    assert "You earn $5.00 for each friend who pays, for their first payment." in mine
    assert "Your friends get no discount" in mine


def test_a_visitor_without_a_link_sees_no_welcome(app, client):
    assert "invited you" not in client.get("/signup").get_data(as_text=True)


def test_a_signed_up_friend_gets_their_promotion_code(stripe_app, fake_stripe):
    advocate = make_customer(stripe_app)
    friend = stripe_app.test_client()
    follow(friend, referral_path(stripe_app, advocate))
    assert signup(friend, "fran.friend@example.com").status_code == 302
    page = friend.get("/signup").get_data(as_text=True)
    assert "You get 10% off your first purchase." in page
    codes = fake_stripe.requests_to("/v1/promotion_codes", method="POST")
    assert len(codes) == 1
    assert 'data-friend-code>' in page
    again = friend.get("/signup").get_data(as_text=True)
    assert len(fake_stripe.requests_to("/v1/promotion_codes", method="POST")) == 1  # made once
    assert again.split("data-friend-code>")[1].split("<")[0] == page.split("data-friend-code>")[1].split("<")[0]


def test_the_share_texts_carry_the_friends_discount(app, client):
    login(client, make_customer(app))
    page = client.get("/advocacy/").get_data(as_text=True)
    assert "Sign%20up%20with%20my%20link%20and%20get%2010%25%20off%20your%20first%20purchase." in page
    assert "You earn 10% of what each friend pays, for their first payment." in page
    assert "Your friend gets 10% off their first purchase." in page
