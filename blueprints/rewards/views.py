"""The customer's rewards: balances by state, every ledger line with its reason, redemption."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace

from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from advocacy_portal.blueprints import inputs
from advocacy_portal.blueprints.common import csrf_failed
from advocacy_portal.blueprints.common import CSRF_MESSAGE
from advocacy_portal.blueprints.common import current_advocate
from advocacy_portal.blueprints.common import customer_required
from advocacy_portal.blueprints.common import private_page
from advocacy_portal.blueprints.common import render_error
from advocacy_portal.blueprints.rewards import bp
from advocacy_portal.blueprints.rewards.forms import REDEEM_FORM_PREFIX
from advocacy_portal.blueprints.rewards.forms import RedeemForm
from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.services import offer_text
from advocacy_portal.services import redemptions
from advocacy_portal.services import reward_queries
from advocacy_portal.services.formatting import format_date
from advocacy_portal.services.money import format_money

#: What the customer reads for each outcome of a redemption as a promotion code.
CODE_MESSAGES = {
    "completed": ("success", "Your promotion code for {amount} is ready: {code}. Enter it at checkout; it "
                             "works once, until {expires}."),
    "failed": ("error", "We could not create your promotion code, so {amount} is back in your available "
                        "balance. Please try again later."),
    "unknown": ("info", "We are creating your promotion code for {amount}. Payment processing is slow right "
                        "now; it shows here as soon as it is confirmed, and it cannot be made twice."),
    "reserved": ("info", "We are creating your promotion code for {amount}. It shows here as soon as it is "
                         "confirmed."),
}

#: What the customer reads for each outcome of a redemption as account credit.
REDEMPTION_MESSAGES = {
    "completed": ("success", "{amount} is now credit on your account. It is used on your next invoice."),
    "failed": ("error", "We could not add {amount} to your account, so it is back in your available balance. "
                        "Please try again later."),
    "unknown": ("info", "We are adding {amount} to your account. Payment processing is slow right now; it "
                        "will show as redeemed as soon as it is confirmed, and it cannot be added twice."),
    "reserved": ("info", "We are adding {amount} to your account. It will show as redeemed as soon as it is "
                         "confirmed."),
}


#: Moves between the customer's own balances that the history leaves out: the redemption list says
#: how each redemption ended, so its "reserved → redeemed" step would only repeat the amount.
_HIDDEN_MOVES = frozenset({"redemption.confirm", "redemption.code"})
#: Moves into the available balance from elsewhere of the customer's own (not new money): no sign.
_NEUTRAL_MOVES = frozenset({"reward.release"})


@dataclass(frozen=True)
class HistoryLine:
    """One line of the customer's history: the ledger line and how its amount reads (``sign``:
    ``plus``, ``minus`` or ``move``)."""

    line: object
    amount_minor: int
    sign: str


def _one_line_per_transaction(lines) -> list[HistoryLine]:
    """One line per ledger transaction, as the customer sees their money: a reward or a clawback
    against the program as it is, a redemption as the amount leaving the available balance (and any
    return as it coming back), a release after the hold as a move without a sign."""
    by_transaction: dict[int, list] = {}
    for line in lines:
        by_transaction.setdefault(line.transaction_id, []).append(line)
    shown = []
    for line in lines:
        group = by_transaction[line.transaction_id]
        if len(group) > 1:
            if line.reason in _HIDDEN_MOVES:
                continue
            # A move between two of the customer's balances: show the side of "available" once.
            if line.account != "available" and any(other.account == "available" for other in group):
                continue
            if line.account != "available" and line.amount_minor < 0:
                continue
        if line.reason in _NEUTRAL_MOVES:
            shown.append(HistoryLine(line, abs(line.amount_minor), "move"))
        else:
            shown.append(HistoryLine(line, line.amount_minor, "plus" if line.amount_minor > 0 else "minus"))
    return shown


def _totals(balances: dict[str, dict[str, int]], currencies: list[str]) -> dict[str, dict[str, int]]:
    """Per currency: earned in all (net of refunds), pending, available, being redeemed, redeemed."""
    totals = {}
    for currency in currencies:
        row = {state: balances.get(state, {}).get(currency, 0)
               for state in ("pending", "available", "reserved", "redeemed")}
        row["earned"] = sum(row.values())
        totals[currency] = row
    return totals


def _redeemable(balances: dict[str, dict[str, int]]) -> dict[str, int]:
    """Currencies whose available balance reaches the redemption minimum."""
    minimum = config_value("REDEMPTION_MINIMUM_MINOR")
    return {
        currency: amount
        for currency, amount in balances.get("available", {}).items()
        if amount > 0 and amount >= minimum
    }


@bp.get("/")
@customer_required
def ledger():
    """Balances and the full history of the customer's rewards."""
    advocate = current_advocate()
    balances = reward_queries.balances(advocate)
    page = reward_queries.entries_for(advocate, page=inputs.page_arg())
    page = replace(page, items=_one_line_per_transaction(page.items))
    history = redemptions.redemptions_of(advocate, limit=20)
    codes = redemptions.open_codes(advocate)
    on_hold = reward_queries.pending_rewards(advocate)
    offer = offer_text.offer_for(None)
    get_session().commit()
    currencies = sorted({currency for by_currency in balances.values() for currency in by_currency})
    return private_page(
        render_template(
            config_value("REWARDS_PAGE_TEMPLATE"),
            balances=balances,
            currencies=currencies,
            redeemable=_redeemable(balances),
            minimum_minor=config_value("REDEMPTION_MINIMUM_MINOR"),
            hold_days=config_value("REWARD_HOLD_DAYS"),
            page=page,
            redemptions=history,
            methods={currency: redemptions.method_for(currency) for currency in currencies},
            open_codes=codes,
            totals=_totals(balances, currencies),
            pending_rewards=on_hold,
            offer=offer,
            redemptions_by_id={redemption.id: redemption for redemption in history},
        )
    )


@bp.get("/redeem")
@customer_required
def confirm_redeem():
    """The confirmation step: what will be credited, and a box to tick."""
    advocate = current_advocate()
    balances = reward_queries.balances(advocate)
    get_session().commit()
    currency = (request.args.get("currency") or "").lower()
    redeemable = _redeemable(balances)
    if currency not in redeemable:
        flash("There is nothing to redeem in that currency yet.", "error")
        return redirect(url_for(".ledger"), code=303)
    form = RedeemForm(prefix=REDEEM_FORM_PREFIX, currency=currency, amount_minor=str(redeemable[currency]))
    return _render_confirm(form, currency, redeemable[currency])


def _render_confirm(form: RedeemForm, currency: str, amount_minor: int, status: int = 200):
    return private_page(
        render_template(
            config_value("REDEEM_TEMPLATE"), form=form, currency=currency, amount_minor=amount_minor,
            method=redemptions.method_for(currency), code_days=config_value("PROMOTION_CODE_DAYS"),
        ),
        status,
    )


@bp.post("/redeem")
@customer_required
def redeem():
    """Redeem the confirmed amount as credit on the customer's Stripe balance or as a promotion code."""
    form = RedeemForm(prefix=REDEEM_FORM_PREFIX)
    if not form.validate_on_submit():
        if csrf_failed(form):
            return render_error(400, CSRF_MESSAGE)
        if form.currency.errors or form.amount_minor.errors:
            return render_error(400, "This redemption form is not valid. Go back to your rewards and try again.")
        return _render_confirm(form, form.currency.data, int(form.amount_minor.data), status=400)
    advocate = current_advocate()
    currency, amount_minor = form.currency.data, int(form.amount_minor.data)
    try:
        redemption = redemptions.request_redemption(
            advocate, amount_minor, currency, requested_by=g.advocacy_customer
        )
    except redemptions.RedemptionRefused as refused:
        get_session().rollback()
        flash(_refusal_message(refused, currency), "error")
        return redirect(url_for(".ledger"), code=303)
    messages = CODE_MESSAGES if redemption.method == redemptions.PROMOTION_CODE else REDEMPTION_MESSAGES
    category, message = messages[redemption.state]
    flash(message.format(
        amount=format_money(redemption.amount_minor, redemption.currency),
        code=redemption.promotion_code,
        expires=format_date(redemption.expires_at) if redemption.expires_at else "",
    ), category)
    return redirect(url_for(".ledger"), code=303)


def _refusal_message(refused: redemptions.RedemptionRefused, currency: str) -> str:
    if refused.code == "below_minimum":
        minimum = format_money(config_value("REDEMPTION_MINIMUM_MINOR"), currency)
        return f"You can redeem once you have at least {minimum} available."
    if refused.code == "insufficient_funds":
        return "Your available balance changed in the meantime. Check it and try again."
    return str(refused)
