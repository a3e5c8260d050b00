"""Advocacy Portal: referral links, testimonials and rewards for Flask apps.

Add it to an app::

    from advocacy_portal import AdvocacyPortal

    portal = AdvocacyPortal(app)        # or portal.init_app(app) in a factory
"""

from advocacy_portal.extension import AdvocacyPortal
from advocacy_portal.identity import Customer
from advocacy_portal.proxies import current_portal
from advocacy_portal.proxies import get_portal
from advocacy_portal.services.referrals import AttributionResult

__version__ = "0.1.0"

__all__ = [
    "AdvocacyPortal",
    "AttributionResult",
    "Customer",
    "__version__",
    "current_portal",
    "get_portal",
]
