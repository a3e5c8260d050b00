"""Signals the plugin sends and listens to (blinker, through Flask's namespace).

Connect to them to react in the host app, for example to send a "your friend joined" email::

    from portal import signals

    @signals.referral_signed_up.connect
    def tell_advocate(app, referral, **extra):
        ...
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: Sent by the host after it creates a user, as ``user_signed_up.send(app, user=user)``. When
#: ``ADVOCACY_LISTEN_FOR_SIGNUPS`` is on (the default), the plugin attributes the signup to the
#: referral link the visitor followed, exactly as :meth:`AdvocacyPortal.attribute_signup` does.
user_signed_up = _signals.signal("user-signed-up")

#: Sent by the plugin with ``referral`` (a :class:`portal.models.Referral`) when a friend's signup is
#: credited to an advocate.
referral_signed_up = _signals.signal("referral-signed-up")

#: Sent by the plugin with ``referral`` and ``reason`` when a signup through a link is refused as fraud
#: (for example ``self_referral``) and recorded as flagged.
referral_flagged = _signals.signal("referral-flagged")

#: Sent by the plugin with ``click`` (a :class:`portal.models.ReferralClick`) for every counted click.
link_clicked = _signals.signal("link-clicked")
