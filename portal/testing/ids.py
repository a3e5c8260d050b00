"""Stripe-shaped ids, shared by the local server and the event builders."""

from __future__ import annotations

import secrets
import string

_ALPHANUMERIC = string.ascii_letters + string.digits


def random_id(prefix: str, length: int = 24) -> str:
    """An id shaped like Stripe's: ``prefix`` and random letters and digits."""
    return prefix + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))
