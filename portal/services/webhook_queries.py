"""Reads of the outgoing-webhook staff pages: endpoints with their latest outcome, and one endpoint's
delivery log with every attempt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy import select

from advocacy_portal.db import get_session
from advocacy_portal.models import WebhookAttempt
from advocacy_portal.models import WebhookDelivery
from advocacy_portal.models import WebhookEndpoint
from advocacy_portal.models import WebhookMessage
from advocacy_portal.models import utcnow
from advocacy_portal.services.paging import Page


@dataclass(frozen=True)
class EndpointSummary:
    endpoint: WebhookEndpoint
    #: Deliveries by state: ``{"succeeded": 12, "failed": 1, ...}``.
    counts: dict[str, int]
    last_delivery: WebhookDelivery | None
    rotating: bool


@dataclass(frozen=True)
class DeliveryLine:
    """A delivery with its message and attempts (newest attempt first), for the log."""

    delivery: WebhookDelivery
    message: WebhookMessage
    attempts: list[WebhookAttempt]


def get_endpoint(endpoint_id: int) -> WebhookEndpoint | None:
    return get_session().get(WebhookEndpoint, endpoint_id)


def get_delivery(endpoint_id: int, delivery_id: int) -> WebhookDelivery | None:
    """A delivery of this endpoint (``None`` for another endpoint's)."""
    delivery = get_session().get(WebhookDelivery, delivery_id)
    return delivery if delivery is not None and delivery.endpoint_id == endpoint_id else None


def is_rotating(endpoint: WebhookEndpoint, now: datetime | None = None) -> bool:
    """Whether the previous secret still signs."""
    return bool(
        endpoint.previous_secret
        and endpoint.previous_secret_expires_at
        and endpoint.previous_secret_expires_at > (now or utcnow())
    )


def endpoints() -> list[EndpointSummary]:
    """Every endpoint, oldest first, with its delivery counts and latest delivery."""
    session = get_session()
    found = list(session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))
    counts: dict[int, dict[str, int]] = {endpoint.id: {} for endpoint in found}
    for endpoint_id, state, number in session.execute(
        select(WebhookDelivery.endpoint_id, WebhookDelivery.state, func.count())
        .group_by(WebhookDelivery.endpoint_id, WebhookDelivery.state)
    ):
        counts.setdefault(endpoint_id, {})[state] = number
    latest_ids = select(func.max(WebhookDelivery.id)).group_by(WebhookDelivery.endpoint_id)
    latest = {
        delivery.endpoint_id: delivery
        for delivery in session.scalars(select(WebhookDelivery).where(WebhookDelivery.id.in_(latest_ids)))
    }
    now = utcnow()
    return [
        EndpointSummary(endpoint, counts.get(endpoint.id, {}), latest.get(endpoint.id), is_rotating(endpoint, now))
        for endpoint in found
    ]


def deliveries(endpoint_id: int, page: int = 1, per_page: int = 25) -> Page[DeliveryLine]:
    """One page of an endpoint's deliveries, newest first, each with its attempts."""
    session = get_session()
    total = session.scalar(
        select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    )
    rows = session.execute(
        select(WebhookDelivery, WebhookMessage)
        .join(WebhookMessage, WebhookMessage.id == WebhookDelivery.message_id)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    attempts: dict[int, list[WebhookAttempt]] = {delivery.id: [] for delivery, _message in rows}
    if attempts:
        for found in session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(list(attempts)))
            .order_by(WebhookAttempt.id.desc())
        ):
            attempts[found.delivery_id].append(found)
    lines = [DeliveryLine(delivery, message, attempts[delivery.id]) for delivery, message in rows]
    return Page(items=lines, page=page, per_page=per_page, total=total)
