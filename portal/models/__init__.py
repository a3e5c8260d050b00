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
from portal.models.ledger import ADVOCATE_ACCOUNT_KINDS
from portal.models.ledger import PROGRAM_ACCOUNT_KINDS
from portal.models.ledger import REDEMPTION_STATES
from portal.models.ledger import REWARD_STATES
from portal.models.ledger import FriendPromotionCode
from portal.models.ledger import LedgerAccount
from portal.models.ledger import LedgerEntry
from portal.models.ledger import LedgerTransaction
from portal.models.ledger import Redemption
from portal.models.ledger import Reward
from portal.models.payments import DISPUTE_STATES
from portal.models.payments import Conversion
from portal.models.payments import StripeCustomer
from portal.models.payments import StripeEvent

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
    # rewards ledger and Stripe
    "ADVOCATE_ACCOUNT_KINDS",
    "Conversion",
    "DISPUTE_STATES",
    "FriendPromotionCode",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerTransaction",
    "PROGRAM_ACCOUNT_KINDS",
    "REDEMPTION_STATES",
    "REWARD_STATES",
    "Redemption",
    "Reward",
    "StripeCustomer",
    "StripeEvent",
]
