"""API keys of the back-office JSON API: only a hash of each secret is kept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from advocacy_portal.models.base import Base
from advocacy_portal.models.base import utcnow


class ApiKey(Base):
    """One key a host's back office calls the API with.

    The secret (``adv_live_`` and 43 random characters) is shown once, when the key is made; the table
    holds its SHA-256 (``token_hash``) and the first characters (``display_prefix``) so staff can tell
    keys apart. A revoked key (``revoked_at`` set) never authenticates again.
    """

    __tablename__ = "advocacy_api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    #: The key's first characters (``adv_live_AbC1``), shown on the staff page and in the audit log.
    display_prefix: Mapped[str] = mapped_column(String(32))
    #: Hex SHA-256 of the whole secret.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The scopes granted, e.g. ``["advocates:read", "ledger:read"]``.
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_by_user_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The last authenticated request, updated at most once per ``ADVOCACY_API_KEY_LAST_USED_INTERVAL_SECONDS``.
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_by_user_id: Mapped[str | None] = mapped_column(String(255))

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def __repr__(self) -> str:
        return f"<ApiKey {self.id} {self.display_prefix}…>"
