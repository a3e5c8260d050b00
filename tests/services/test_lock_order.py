"""One lock order for the money of one referral: a release, a refund, a dispute and a redemption of the
same referral raced against each other on PostgreSQL queue up, none deadlocks, none needs a retry."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from advocacy_portal import Customer
from advocacy_portal.db import get_session
from advocacy_portal.models import Advocate
from advocacy_portal.models import Reward
from advocacy_portal.services import conversions
from advocacy_portal.services import ledger
from advocacy_portal.services import redemptions
from advocacy_portal.services import rewards
from advocacy_portal.testing import stripe_events
from tests.fixtures import needs_postgres
from tests.rewards_helpers import PERCENT_RULES
from tests.rewards_helpers import advocate_balances
from tests.rewards_helpers import flat
from tests.rewards_helpers import later
from tests.rewards_helpers import make_referral

STAFF = Customer(id="1", email="staff@example.com")
ROUNDS = 16


def _paid_referral(app, number: int):
    """A referral whose friend paid 10,000 (a pending reward of 1,000), and 1,000 available to redeem."""
    referred = make_referral(app)
    with app.app_context():
        advocate = get_session().get(Advocate, referred.advocate_id)
        rewards.post_adjustment(advocate, 1000, "usd", "Opening balance", STAFF)
        conversions.apply_event(stripe_events.checkout_session_completed(
            amount_total=10_000, payment_intent=f"pi_race_{number}", metadata=referred.metadata,
            client_reference_id=str(referred.friend.id)))
        get_session().commit()
        reward_id = get_session().scalar(select(Reward.id).where(Reward.referral_id == referred.referral_id))
        get_session().commit()
    return referred, reward_id


@needs_postgres
@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_release_refund_dispute_and_redemption_of_one_referral_never_deadlock(stripe_app):
    app = stripe_app
    errors: list[BaseException] = []
    for number in range(ROUNDS):
        referred, reward_id = _paid_referral(app, number)
        payment_intent = f"pi_race_{number}"
        if number % 2:
            event = stripe_events.charge_refunded(amount=10_000, amount_refunded=4_000,
                                                  payment_intent=payment_intent)
        else:
            event = stripe_events.charge_dispute_created(charge=f"ch_race_{number}", amount=10_000,
                                                         payment_intent=payment_intent)
        barrier = threading.Barrier(3)

        def release():
            assert rewards.release(reward_id, now=later(365)) in (True, False)

        def stripe_event():
            assert conversions.apply_event(event).outcome == "applied"

        def redeem():
            advocate = get_session().get(Advocate, referred.advocate_id)
            get_session().commit()
            barrier.wait(timeout=30)
            redemptions.reserve(advocate, 500, "usd")
            get_session().commit()

        def run(work, waits: bool):
            try:
                with app.app_context():
                    if waits:
                        barrier.wait(timeout=30)
                    work()
                    get_session().commit()
            except BaseException as error:  # noqa: BLE001 - a deadlock or any failure: reported below
                errors.append((work.__name__, error))

        threads = [
            threading.Thread(target=run, args=(release, True)),
            threading.Thread(target=run, args=(stripe_event, True)),
            threading.Thread(target=run, args=(redeem, False)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        # Not one deadlock, lock timeout or lost race: no error at all, so nothing needed a retry.
        assert errors == [], f"round {number}: {errors!r}"

        money = flat(advocate_balances(app, referred.advocate_id))
        with app.app_context():
            reward = get_session().get(Reward, reward_id)
            held_by_reward = (reward.pending_minor, reward.available_minor)
            get_session().commit()
        # The ledger says what the reward's record says, whatever order the three ran in: the opening
        # 1,000 less the 500 reserved, plus what the reward still holds pending and available.
        assert money["reserved"] == 500
        assert (money["pending"], money["available"]) == (held_by_reward[0], 500 + held_by_reward[1])
        if number % 2:  # refunded 40%: the reward is at most 600
            assert sum(held_by_reward) == 600
        else:  # disputed: nothing is paid out while the dispute is open
            assert held_by_reward[1] == 0
        assert min(money.values()) >= 0
    with app.app_context():
        assert ledger.verify() == []
