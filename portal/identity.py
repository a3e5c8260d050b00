"""Who a host user is to the plugin."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Customer:
    """Who a host user is to the plugin: the host's user id (as text) and email."""

    id: str
    email: str | None
