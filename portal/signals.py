"""Every signal the plugin sends or listens to (blinker), in one place (Flask-Login ``signals.py``).

Connect to them to react in the host app, for example to send a "your friend joined" email::

    from advocacy_portal import signals

    @signals.referral_signed_up.connect
    def tell_advocate(app, referral, **extra):
        ...

The sender is always the Flask app. The plugin sends its signals only once the change they announce is
committed, and not at all when it is rolled back, so a receiver never acts on a row that does not exist.
A receiver runs in an app context of its own (its database session is not the one that committed) and
one that raises is logged: it does not undo or fail the commit.
"""

from __future__ import annotations

import logging

from blinker import Namespace
from flask import current_app

from advocacy_portal.db import after_commit

log = logging.getLogger(__name__)

_signals = Namespace()

# -- sent by the host -------------------------------------------------------------------------------

#: Sent by the host after it creates a user, as ``user_signed_up.send(app, user=user)``. When
#: ``ADVOCACY_LISTEN_FOR_SIGNUPS`` is on (the default), the plugin attributes the signup to the
#: referral link the visitor followed, exactly as :meth:`AdvocacyPortal.attribute_signup` does.
user_signed_up = _signals.signal("user-signed-up")

#: Sent by the host when it deletes a user (or a customer asks to be forgotten), as
#: ``user_deleted.send(app, user=user)`` or ``user_deleted.send(app, user_id="42")``. The plugin erases
#: the person everywhere, exactly as :meth:`AdvocacyPortal.forget_customer` does, and commits (pass
#: ``commit=False`` to commit it with the host's own deletion). Send it in the request or command that
#: deletes the user: a user the host no longer knows cannot be looked up afterwards, but the id is enough.
user_deleted = _signals.signal("user-deleted")

# -- referrals ----------------------------------------------------------------------------------------

#: ``click`` (a :class:`advocacy_portal.models.ReferralClick`): a counted click on a referral link.
link_clicked = _signals.signal("link-clicked")

#: ``referral`` (a :class:`advocacy_portal.models.Referral`): a friend's signup was credited to an
#: advocate.
referral_signed_up = _signals.signal("referral-signed-up")

#: ``referral`` and ``reason`` (for example ``self_referral``): a signup through a link was refused as
#: fraud and recorded as flagged.
referral_flagged = _signals.signal("referral-flagged")

# -- rewards ledger and Stripe ----------------------------------------------------------------------

#: ``conversion`` (a :class:`advocacy_portal.models.Conversion`) and ``referral``: a referred friend's
#: payment was first seen as paid.
referral_converted = _signals.signal("referral-converted")

#: ``reward`` (a :class:`advocacy_portal.models.Reward`), ``transaction`` (the
#: :class:`advocacy_portal.models.LedgerTransaction`) and ``reason`` (``reward.accrue``,
#: ``reward.release``, ``reward.void``, ``reward.clawback``, ``reward.restore``): every ledger posting
#: of a reward.
reward_posted = _signals.signal("reward-posted")

# -- testimonials and reviews ---------------------------------------------------------------------------

#: ``testimonial`` (a :class:`advocacy_portal.models.Testimonial`): a customer submitted a testimonial
#: or review; it waits for moderation.
testimonial_submitted = _signals.signal("testimonial-submitted")

#: ``testimonial``: staff approved a testimonial; it is on the public wall, API and widget.
testimonial_published = _signals.signal("testimonial-published")

#: ``testimonial``: a published testimonial left the wall (rejected, withdrawn by its author, or its
#: consent taken back).
testimonial_unpublished = _signals.signal("testimonial-unpublished")

# -- NPS surveys and follow-up cases ------------------------------------------------------------------

#: ``invitation`` (a :class:`advocacy_portal.models.NpsInvitation`): a survey was sent (email or in-app).
#: Skipped (throttled, unsubscribed) asks send nothing.
survey_sent = _signals.signal("survey-sent")

#: ``response`` (a :class:`advocacy_portal.models.NpsResponse`) and ``first`` (``False`` when the answer
#: changed an earlier one): a survey answer was recorded.
response_recorded = _signals.signal("response-recorded")

#: ``case`` (a :class:`advocacy_portal.models.NpsCase`): a follow-up case was opened (a detractor's
#: score, or the customer's own "I have a problem").
case_opened = _signals.signal("case-opened")

#: ``case`` and ``action`` (``nps.case.assign``, ``nps.case.status``, ``nps.case.message``,
#: ``nps.case.reply``, ...): a case changed.
case_updated = _signals.signal("case-updated")

#: ``case``: a case was resolved (with its root cause).
case_resolved = _signals.signal("case-resolved")

#: Every signal above, by name (the README lists them).
ALL = {signal.name: signal for signal in _signals.values()}


def send_after_commit(signal, **kwargs) -> None:
    """Send ``signal`` with ``kwargs`` (sender: the current app) when the current session commits.

    Dropped if the session rolls back instead.
    """
    app = current_app._get_current_object()
    after_commit(lambda: signal.send(app, **kwargs))
