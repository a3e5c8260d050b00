"""The erasure list: who was erased, as a one-way hash only, so a restored backup can be erased again."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from advocacy_portal.models.base import Base
from advocacy_portal.models.base import utcnow


class Erasure(Base):
    """One erased person.

    ``user_hash`` is a keyed hash of the host user id (``ADVOCACY_ERASURE_HASH_SECRET``): the id itself
    is never kept, yet ``flask advocacy privacy replay-erasures`` can recognise the person in a restored
    backup, where the id still is. ``surrogate`` is the random id their financial records were moved to.
    """

    __tablename__ = "advocacy_erasures"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_hash: Mapped[str] = mapped_column(String(64), unique=True)
    surrogate: Mapped[str] = mapped_column(String(64), unique=True)
    erased_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    #: When ``privacy purge`` removed the Stripe ids of the surrogate's financial records.
    financial_purged_at: Mapped[datetime | None] = mapped_column()
