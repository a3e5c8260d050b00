"""The public referral link, ``ADVOCACY_REDIRECT_PATH`` (``/r/<token>``), mounted at the site root."""

from flask import Blueprint

from advocacy_portal.blueprints.common import setup_blueprint
from advocacy_portal.blueprints.ratelimit import limit_blueprint

bp = Blueprint("advocacy_links", __name__)
setup_blueprint(bp)
# A generous per-IP limit: it only blunts click spam (repeat clicks are not counted anyway).
limit_blueprint(
    bp,
    "LINK_FOLLOW_LIMIT",
    methods=["GET"],
    message="This link was opened too many times from your network. Please wait a minute and try again.",
)

from advocacy_portal.blueprints.links import views  # noqa: E402,F401


@bp.record
def _add_follow_rule(state):
    # The path is a per-app setting, so the rule is added when the blueprint is registered.
    state.add_url_rule(
        state.app.config["ADVOCACY_REDIRECT_PATH"], "follow", views.follow, methods=["GET", "HEAD"]
    )
