"""Outgoing webhooks (Standard Webhooks): the endpoints staff registered, the messages the plugin sent
them, one delivery per (message, endpoint), and every attempt at it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import CheckConstraint
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from advocacy_portal.models.base import Base
from advocacy_portal.models.base import utcnow

#: States of a delivery. ``pending``: on its way (or waiting for a retry). ``succeeded``: a 2xx answer.
#: ``failed``: given up (every retry used, or 410 Gone). ``cancelled``: its endpoint was disabled first.
WEBHOOK_DELIVERY_STATES = ("pending", "succeeded", "failed", "cancelled")


class WebhookEndpoint(Base):
    """A URL of the host's other systems (CRM, chat, accounting) that receives the events it chose.

    ``secret`` (``whsec_<base64>``) signs every message; it is stored as given because signing needs
    it, and only staff pages show it. While a rotation window is open, ``previous_secret`` signs too,
    so the receiver can switch over without losing a message.
    """

    __tablename__ = "advocacy_webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str | None] = mapped_column(String(255))
    #: The event type names this endpoint receives (see ``advocacy_portal.services.webhook_events``).
    event_types: Mapped[list[str]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(default=True)
    #: Why the endpoint was disabled, e.g. "The endpoint answered 410 Gone" (shown to staff).
    disabled_reason: Mapped[str | None] = mapped_column(String(255))
    disabled_at: Mapped[datetime | None] = mapped_column()
    secret: Mapped[str] = mapped_column(String(255))
    previous_secret: Mapped[str | None] = mapped_column(String(255))
    #: The end of the rotation window: until then ``previous_secret`` signs as well.
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<WebhookEndpoint {self.id} {self.url!r}>"


class WebhookMessage(Base):
    """One event as sent: ``message_id`` is the ``webhook-id`` header (the same on every retry and
    replay, so receivers can drop duplicates) and ``body`` the exact JSON signed and sent."""

    __tablename__ = "advocacy_webhook_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(64), index=True)
    body: Mapped[str] = mapped_column(Text)
    #: For a test event, the one endpoint it is for (others never receive it).
    endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("advocacy_webhook_endpoints.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class WebhookDelivery(Base):
    """One message to one endpoint: at most one row per pair, however often the fan-out runs."""

    __tablename__ = "advocacy_webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("message_id", "endpoint_id", name="uq_advocacy_webhook_deliveries_message_endpoint"),
        CheckConstraint("state IN ('pending', 'succeeded', 'failed', 'cancelled')", name="state"),
        Index("ix_advocacy_webhook_deliveries_endpoint", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("advocacy_webhook_messages.id", ondelete="CASCADE")
    )
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("advocacy_webhook_endpoints.id", ondelete="CASCADE")
    )
    state: Mapped[str] = mapped_column(String(16), default="pending")
    #: Attempts since the delivery was created or last replayed (the retry schedule counts these).
    attempts: Mapped[int] = mapped_column(default=0)
    #: Staff replays so far; each starts the retry schedule again.
    replays: Mapped[int] = mapped_column(default=0)
    last_status_code: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()


class WebhookAttempt(Base):
    """One HTTP request of a delivery and what came of it (kept for staff, and for replays)."""

    __tablename__ = "advocacy_webhook_attempts"
    __table_args__ = (Index("ix_advocacy_webhook_attempts_delivery", "delivery_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("advocacy_webhook_deliveries.id", ondelete="CASCADE")
    )
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The HTTP status, ``None`` when no answer came (refused address, timeout, connection error).
    status_code: Mapped[int | None] = mapped_column()
    duration_ms: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    #: The start of the answer's body, truncated (``ADVOCACY_WEBHOOKS_RESPONSE_SNIPPET_CHARS``).
    response_snippet: Mapped[str | None] = mapped_column(Text)
    succeeded: Mapped[bool] = mapped_column(default=False)
    #: ``auto`` (the schedule), ``replay`` (staff), ``test`` (the "send test event" button).
    trigger: Mapped[str] = mapped_column(String(16), default="auto")
    #: Headers and address facts worth keeping: the address connected to, the retry wait chosen.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
