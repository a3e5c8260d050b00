"""The plugin's models. Every table is prefixed ``advocacy_`` and lives in :data:`Base.metadata`."""

from portal.models.audit import AuditEntry
from portal.models.base import Base
from portal.models.base import utcnow
from portal.models.referrals import DEVICE_CLASSES
from portal.models.referrals import REFERRAL_STATES
from portal.models.referrals import Advocate
from portal.models.referrals import Referral
from portal.models.referrals import ReferralClick
from portal.models.mail import OUTBOX_STATES
from portal.models.mail import OutboxMessage
from portal.models.testimonials import CONSENT_CHOICES
from portal.models.testimonials import TESTIMONIAL_KINDS
from portal.models.testimonials import TESTIMONIAL_STATES
from portal.models.testimonials import Testimonial

__all__ = [
    "Advocate",
    "AuditEntry",
    "Base",
    "DEVICE_CLASSES",
    "REFERRAL_STATES",
    "Referral",
    "ReferralClick",
    "utcnow",
    # Testimonials and reviews
    "CONSENT_CHOICES",
    "OUTBOX_STATES",
    "OutboxMessage",
    "TESTIMONIAL_KINDS",
    "TESTIMONIAL_STATES",
    "Testimonial",
]
