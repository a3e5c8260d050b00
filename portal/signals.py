"""Signals the plugin sends and listens to (blinker).

Connect to them to react in the host app, for example to send a "your friend joined" email::

    from advocacy_portal import signals

    @signals.referral_signed_up.connect
    def tell_advocate(app, referral, **extra):
        ...

The plugin sends its signals only once the change they announce is committed, and not at all when it is
rolled back, so a receiver never acts on a row that does not exist. A receiver that raises is logged and
does not undo or fail the commit.
"""

from __future__ import annotations

import logging

from blinker import Namespace
from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_signals = Namespace()
_PENDING = "advocacy_pending_signals"

#: Sent by the host after it creates a user, as ``user_signed_up.send(app, user=user)``. When
#: ``ADVOCACY_LISTEN_FOR_SIGNUPS`` is on (the default), the plugin attributes the signup to the
#: referral link the visitor followed, exactly as :meth:`AdvocacyPortal.attribute_signup` does.
user_signed_up = _signals.signal("user-signed-up")

#: Sent by the plugin with ``referral`` (a :class:`advocacy_portal.models.Referral`) when a friend's signup is
#: credited to an advocate.
referral_signed_up = _signals.signal("referral-signed-up")

#: Sent by the plugin with ``referral`` and ``reason`` when a signup through a link is refused as fraud
#: (for example ``self_referral``) and recorded as flagged.
referral_flagged = _signals.signal("referral-flagged")

#: Sent by the plugin with ``click`` (a :class:`advocacy_portal.models.ReferralClick`) for every counted click.
link_clicked = _signals.signal("link-clicked")


def send_after_commit(signal, **kwargs) -> None:
    """Send ``signal`` with ``kwargs`` (sender: the current app) when the current session commits.

    Dropped if the session rolls back instead.
    """
    from advocacy_portal.db import get_session

    session = get_session()
    session.info.setdefault(_PENDING, []).append(
        (signal, current_app._get_current_object(), kwargs)
    )


@event.listens_for(Session, "after_commit")
def _send_pending(session) -> None:
    pending = session.info.pop(_PENDING, None)
    for signal, app, kwargs in pending or ():
        try:
            with app.app_context():
                signal.send(app, **kwargs)
        except Exception:
            log.exception("A receiver of the Advocacy Portal signal %r failed", signal.name)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session) -> None:
    session.info.pop(_PENDING, None)


# -- rewards ledger and Stripe ----------------------------------------------------------------------

#: Sent by the plugin with ``conversion`` (a :class:`advocacy_portal.models.Conversion`) and ``referral`` when a
#: referred friend's payment is first seen as paid.
referral_converted = _signals.signal("referral-converted")

#: Sent by the plugin with ``reward`` (a :class:`advocacy_portal.models.Reward`), ``transaction`` (the
#: :class:`advocacy_portal.models.LedgerTransaction`) and ``reason`` (``reward.accrue``, ``reward.release``,
#: ``reward.void``, ``reward.clawback``, ``reward.restore``) for every ledger posting of a reward.
reward_posted = _signals.signal("reward-posted")
