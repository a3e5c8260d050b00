"""What a customer shares: share-intent URLs for each network and the QR code of a link."""

from __future__ import annotations

import io

from urllib.parse import quote
from urllib.parse import urlencode

import segno

from advocacy_portal.config import config_value


def share_links(link: str, offer: str | None = None) -> list[dict[str, str]]:
    """Share URLs for email, X, LinkedIn, WhatsApp and Facebook, each with ``network``, ``label``
    and ``url``. The messages come from ``ADVOCACY_SHARE_MESSAGE`` and ``ADVOCACY_PROGRAM_NAME``,
    followed by ``offer`` (the friend's discount in words, :attr:`offer_text.Offer.share`) if any."""
    message = config_value("SHARE_MESSAGE")
    if offer:
        message = f"{message} {offer}"
    subject = config_value("PROGRAM_NAME")
    text = f"{message} {link}"
    return [
        {
            "network": "email",
            "label": "Email",
            "url": "mailto:?" + urlencode({"subject": subject, "body": text}, quote_via=quote),
        },
        {
            "network": "x",
            "label": "X",
            "url": "https://x.com/intent/post?" + urlencode({"text": message, "url": link}),
        },
        {
            "network": "linkedin",
            "label": "LinkedIn",
            "url": "https://www.linkedin.com/sharing/share-offsite/?" + urlencode({"url": link}),
        },
        {
            "network": "whatsapp",
            "label": "WhatsApp",
            "url": "https://wa.me/?" + urlencode({"text": text}),
        },
        {
            "network": "facebook",
            "label": "Facebook",
            "url": "https://www.facebook.com/sharer/sharer.php?" + urlencode({"u": link}),
        },
    ]


def qr_svg(link: str) -> bytes:
    """The link as a standalone SVG document (QR error correction M, black on white, with a title)."""
    buffer = io.BytesIO()
    segno.make(link, error="m").save(
        buffer,
        kind="svg",
        scale=6,
        border=2,
        title="QR code of your referral link",
        dark="#111111",
        light="#ffffff",
    )
    return buffer.getvalue()
