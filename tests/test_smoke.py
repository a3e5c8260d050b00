from tests.helpers import follow
from tests.helpers import login
from tests.helpers import make_customer
from tests.helpers import referral_path
from tests.helpers import signup


def test_friend_who_follows_a_link_and_signs_up_is_credited(app, client):
    advocate = make_customer(app)
    path = referral_path(app, advocate)
    response = follow(client, path)
    assert response.status_code == 302
    assert response.headers["Location"] == "/signup"
    assert "advocacy_ref=" in response.headers["Set-Cookie"]
    response = signup(client, "friend@example.com")
    assert response.status_code == 302
    login(app.test_client(), advocate)
    page_client = app.test_client()
    login(page_client, advocate)
    page = page_client.get("/advocacy/").get_data(as_text=True)
    assert 'data-stat="signups">1<' in page
    assert 'data-stat="clicks">1<' in page
