"""The plugin's models. Every table is prefixed ``advocacy_`` and lives in :data:`Base.metadata`."""

from advocacy_portal.models.api_keys import ApiKey
from advocacy_portal.models.audit import AuditEntry
from advocacy_portal.models.base import Base
from advocacy_portal.models.base import utcnow
from advocacy_portal.models.fraud import FRAUD_ALLOWANCE_KINDS
from advocacy_portal.models.fraud import FRAUD_REVIEW_STATES
from advocacy_portal.models.fraud import FraudAllowance
from advocacy_portal.models.fraud import FraudReview
from advocacy_portal.models.referrals import DEVICE_CLASSES
from advocacy_portal.models.referrals import REFERRAL_STATES
from advocacy_portal.models.referrals import Advocate
from advocacy_portal.models.referrals import IdBlock
from advocacy_portal.models.referrals import LinkQrCode
from advocacy_portal.models.referrals import Referral
from advocacy_portal.models.referrals import ReferralClick
from advocacy_portal.models.outbox import OUTBOX_STATES
from advocacy_portal.models.rollups import AdvocateClickDay
from advocacy_portal.models.rollups import AdvocateClickTotal
from advocacy_portal.models.rollups import ClickDay
from advocacy_portal.models.rollups import ReportAdvocateTotal
from advocacy_portal.models.rollups import ReportDay
from advocacy_portal.models.rollups import ReportDirtyDay
from advocacy_portal.models.rollups import RollupMark
from advocacy_portal.models.outbox import OutboxTask
from advocacy_portal.models.testimonials import CONSENT_CHOICES
from advocacy_portal.models.testimonials import TESTIMONIAL_KINDS
from advocacy_portal.models.testimonials import TESTIMONIAL_STATES
from advocacy_portal.models.testimonials import Testimonial
from advocacy_portal.models.ledger import ADVOCATE_ACCOUNT_KINDS
from advocacy_portal.models.ledger import PROGRAM_ACCOUNT_KINDS
from advocacy_portal.models.ledger import REDEMPTION_STATES
from advocacy_portal.models.ledger import REWARD_STATES
from advocacy_portal.models.ledger import FriendPromotionCode
from advocacy_portal.models.ledger import LedgerAccount
from advocacy_portal.models.ledger import LedgerEntry
from advocacy_portal.models.ledger import LedgerTransaction
from advocacy_portal.models.ledger import Redemption
from advocacy_portal.models.ledger import Reward
from advocacy_portal.models.payments import DISPUTE_STATES
from advocacy_portal.models.payments import Conversion
from advocacy_portal.models.payments import StripeCustomer
from advocacy_portal.models.payments import StripeEvent
from advocacy_portal.models.privacy import Erasure
from advocacy_portal.models.nps import CASE_STATUSES
from advocacy_portal.models.nps import NPS_CHANNELS
from advocacy_portal.models.nps import NpsCase
from advocacy_portal.models.nps import NpsCaseEvent
from advocacy_portal.models.nps import NpsInvitation
from advocacy_portal.models.nps import NpsResponse
from advocacy_portal.models.nps import NpsRootCause
from advocacy_portal.models.nps import NpsUnsubscribe
from advocacy_portal.models.webhooks import WEBHOOK_DELIVERY_STATES
from advocacy_portal.models.webhooks import WebhookAttempt
from advocacy_portal.models.webhooks import WebhookDelivery
from advocacy_portal.models.webhooks import WebhookEndpoint
from advocacy_portal.models.webhooks import WebhookMessage

__all__ = [
    "Advocate",
    "ApiKey",
    "IdBlock",
    "LinkQrCode",
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
    "OutboxTask",
    "TESTIMONIAL_KINDS",
    "TESTIMONIAL_STATES",
    "Testimonial",
    # rewards ledger and Stripe
    "ADVOCATE_ACCOUNT_KINDS",
    "Conversion",
    "DISPUTE_STATES",
    "Erasure",
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
    # NPS and detractor follow-up cases
    "CASE_STATUSES",
    "NPS_CHANNELS",
    "NpsCase",
    "NpsCaseEvent",
    "NpsInvitation",
    "NpsResponse",
    "NpsRootCause",
    "NpsUnsubscribe",
    # fraud review
    "FRAUD_ALLOWANCE_KINDS",
    "FRAUD_REVIEW_STATES",
    "FraudAllowance",
    "FraudReview",
    # rollups
    "AdvocateClickDay",
    "AdvocateClickTotal",
    "ClickDay",
    "ReportAdvocateTotal",
    "ReportDay",
    "ReportDirtyDay",
    "RollupMark",
    # outgoing webhooks
    "WEBHOOK_DELIVERY_STATES",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookMessage",
]
