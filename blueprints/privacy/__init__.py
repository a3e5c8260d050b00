"""The customer's privacy page (download my data), mounted at ``<ADVOCACY_URL_PREFIX>/privacy``, and the
attribution consent endpoint the host's consent banner calls."""

from flask import Blueprint

from advocacy_portal.blueprints.common import setup_blueprint
from advocacy_portal.blueprints.ratelimit import customer_or_ip
from advocacy_portal.blueprints.ratelimit import limit_blueprint
from advocacy_portal.resources import templates_dir

bp = Blueprint("advocacy_privacy", __name__, template_folder=str(templates_dir()))
setup_blueprint(bp)
limit_blueprint(bp, "EXPORT_RATE_LIMIT", methods=["POST"], key_func=customer_or_ip,
                message="You downloaded your data several times already; try again in an hour.")

#: Apart from ``bp``, so the export's rate limit never applies to consent.
consent_bp = Blueprint("advocacy_consent", __name__, template_folder=str(templates_dir()))
setup_blueprint(consent_bp)

from advocacy_portal.blueprints.privacy import views  # noqa: E402,F401
