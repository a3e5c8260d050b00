"""The plugin's models. Every table is prefixed ``advocacy_`` and lives in :data:`Base.metadata`."""

from portal.models.audit import AuditEntry
from portal.models.base import Base
from portal.models.base import utcnow
from portal.models.referrals import DEVICE_CLASSES
from portal.models.referrals import REFERRAL_STATES
from portal.models.referrals import Advocate
from portal.models.referrals import Referral
from portal.models.referrals import ReferralClick

__all__ = [
    "Advocate",
    "AuditEntry",
    "Base",
    "DEVICE_CLASSES",
    "REFERRAL_STATES",
    "Referral",
    "ReferralClick",
    "utcnow",
]
