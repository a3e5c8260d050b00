"""A hypothesis state machine of the ledger: random payments, refunds, disputes, redelivered events,
releases and redemptions (some answered by a Stripe 500), through the real webhook, the real SDK and
the local Stripe server. After every step the ledger's invariants hold and every advocate holds what a
simple model of the facts says they earned.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle
from hypothesis.stateful import RuleBasedStateMachine
from hypothesis.stateful import invariant
from hypothesis.stateful import rule
from hypothesis.stateful import run_state_machine_as_test

from advocacy_portal.db import get_session
from advocacy_portal.models import Advocate
from advocacy_portal.models import LedgerAccount
from advocacy_portal.services import ledger
from advocacy_portal.services import redemptions
from advocacy_portal.services import rewards
from advocacy_portal.testing import stripe_events
from tests.rewards_helpers import PERCENT_RULES
from tests.rewards_helpers import advocate_balances
from tests.rewards_helpers import deliver
from tests.rewards_helpers import flat
from tests.rewards_helpers import later
from tests.rewards_helpers import make_referral

MINIMUM = 500
_DISPUTE_RANK = {None: 0, "open": 1, "won": 2, "lost": 2}


@dataclass
class Payment:
    """The model of one friend's payment and what their advocate should hold."""

    referred: object
    n: int
    amount: int
    refunded: int = 0
    dispute: str | None = None
    released: bool = False
    reserved: int = 0
    redeemed: int = 0

    @property
    def earned(self) -> int:
        gross = self.amount * 10 // 100
        if self.dispute in ("open", "lost"):
            return 0
        return gross * (self.amount - self.refunded) // self.amount

    @property
    def available(self) -> int:
        return (self.earned if self.released else 0) - self.reserved - self.redeemed

    @property
    def ids(self) -> dict:
        return {"payment_intent": f"pi_sm_{self.n}"}


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES, REDEMPTION_MINIMUM_MINOR=MINIMUM)
def test_ledger_invariants_hold_over_random_histories(stripe_app, fake_stripe):
    app = stripe_app
    client = app.test_client()
    counter = {"examples": 0, "steps": 0, "payments": 0}
    serial = iter(range(10**9))

    class LedgerMachine(RuleBasedStateMachine):
        payments = Bundle("payments")

        def __init__(self):
            super().__init__()
            counter["examples"] += 1
            self.sent: list[dict] = []
            self.payments_made: list[Payment] = []

        def send(self, event):
            response = deliver(client, event)
            assert response.status_code == 200, response.get_data(as_text=True)
            self.sent.append(event)

        @rule(target=payments, amount=st.integers(min_value=-100, max_value=200_000))
        def pay(self, amount):
            payment = Payment(make_referral(app), next(serial), amount)
            counter["payments"] += 1
            self.send(stripe_events.checkout_session_completed(
                amount_total=amount, metadata=payment.referred.metadata, **payment.ids))
            if amount <= 0:
                payment.amount = 1  # stored unrewarded: the model earns nothing (1 * 10 // 100 == 0)
            self.payments_made.append(payment)
            return payment

        @rule(payment=payments, share=st.floats(min_value=0, max_value=1))
        def refund(self, payment, share):
            refunded = int(payment.amount * share)
            self.send(stripe_events.charge_refunded(amount=payment.amount, amount_refunded=refunded,
                                             charge_id=f"ch_sm_{payment.n}", **payment.ids))
            payment.refunded = max(payment.refunded, refunded)

        @rule(payment=payments, closing=st.sampled_from([None, "won", "lost"]))
        def dispute(self, payment, closing):
            fields = dict(charge=f"ch_sm_{payment.n}", **payment.ids)
            if closing is None:
                self.send(stripe_events.charge_dispute_created(**fields))
                state = "open"
            else:
                self.send(stripe_events.charge_dispute_closed(status=closing, **fields))
                state = closing
            if _DISPUTE_RANK[state] > _DISPUTE_RANK[payment.dispute]:
                payment.dispute = state

        @rule(data=st.data())
        def redeliver(self, data):
            if not self.sent:
                return
            event = data.draw(st.sampled_from(self.sent))
            with app.app_context():
                before = {a.id: a.balance_minor for a in get_session().query(LedgerAccount)}
            assert deliver(client, event).get_json()["duplicate"] is True
            with app.app_context():
                assert {a.id: a.balance_minor for a in get_session().query(LedgerAccount)} == before

        @rule(days=st.sampled_from([5, 31]))
        def release(self, days):
            with app.app_context():
                rewards.release_due(now=later(days))
            if days > 30:
                for payment in self.all_payments():
                    if not payment.released and payment.earned > 0 and payment.dispute != "open":
                        payment.released = True

        @rule(payment=payments, amount=st.one_of(st.none(), st.integers(min_value=1, max_value=25_000)),
              stripe_fails=st.booleans())
        def redeem(self, payment, amount, stripe_fails):
            wanted = payment.available if amount is None else amount
            stripe_fails = stripe_fails and MINIMUM <= wanted <= payment.available
            if stripe_fails:
                fake_stripe.fail_next("POST", "/v1/customers/*/balance_transactions", status=500)
            with app.app_context():
                advocate = get_session().get(Advocate, payment.referred.advocate_id)
                try:
                    state = redemptions.request_redemption(advocate, amount, "usd").state
                except redemptions.RedemptionRefused as refused:
                    state = refused.code
            if wanted < MINIMUM:
                assert state == "below_minimum"
            elif wanted > payment.available:
                assert state == "insufficient_funds"
            elif stripe_fails:
                assert state == "unknown"
                payment.reserved += wanted
            else:
                assert state == "completed"
                payment.redeemed += wanted

        @rule()
        def retry_redemptions(self):
            with app.app_context():
                summary = redemptions.retry_pending()
            assert summary.unknown == 0 and summary.failed == 0
            for payment in self.all_payments():
                payment.redeemed += payment.reserved
                payment.reserved = 0

        def all_payments(self):
            return self.payments_made

        @invariant()
        def ledger_is_consistent(self):
            counter["steps"] += 1
            with app.app_context():
                assert ledger.verify() == []
                negative = [
                    (account.kind, account.balance_minor)
                    for account in get_session().query(LedgerAccount)
                    if account.kind in ("pending", "reserved", "redeemed") and account.balance_minor < 0
                ]
                assert negative == []

        @invariant()
        def advocates_hold_what_they_earned(self):
            for payment in self.all_payments():
                held = flat(advocate_balances(app, payment.referred.advocate_id))
                expected = {
                    "pending": 0 if payment.released else payment.earned,
                    "available": payment.available,
                    "reserved": payment.reserved,
                    "redeemed": payment.redeemed,
                }
                assert held == expected, (payment, held)

    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=60,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=False,
        ),
    )
    print(f"\nledger state machine: {counter['examples']} examples, {counter['steps']} checked steps, "
          f"{counter['payments']} payments")
    assert counter["examples"] >= 60
