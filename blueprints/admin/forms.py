"""Forms of the staff pages (CSRF-protected by Flask-WTF)."""

from __future__ import annotations

import secrets

from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms import SelectField
from wtforms import StringField
from wtforms import SubmitField
from wtforms import TextAreaField
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import Regexp
from wtforms.validators import ValidationError

from advocacy_portal.services import adjustments
from advocacy_portal.services.money import AmountError
from advocacy_portal.services.money import format_money
from advocacy_portal.services.money import parse_amount

#: Field ids of the adjustment form (``advocacy-adjust-amount``, ...).
ADJUST_FORM_PREFIX = "advocacy-adjust"


class AdjustmentForm(FlaskForm):
    """A manual credit or debit of an advocate's available balance, with the reason.

    Only in a currency the program uses; the amount is read strictly (no exponent, no more decimals
    than the currency has) and at most ``ADVOCACY_ADJUSTMENT_MAX``. A debit or a large amount comes
    back once as a confirmation step (``confirmed`` empty), which posts the same form with ``confirmed``
    set; the nonce stays the same, so a double submit still posts once.
    """

    amount = StringField(
        "Amount",
        description="In the currency's units, e.g. 12.50 to credit or -12.50 to debit.",
        validators=[DataRequired(message="Enter an amount.")],
    )
    currency = SelectField("Currency", validate_choice=False)
    reason = TextAreaField(
        "Reason",
        description="Shown to the advocate in their rewards history and kept in the audit log.",
        validators=[
            DataRequired(message="Say why: the advocate sees this reason."),
            Length(max=500, message="Keep the reason under 500 characters."),
        ],
    )
    #: A random key rendered into the form: sending the same form twice posts one adjustment.
    nonce = HiddenField(validators=[DataRequired(), Regexp(r"^[A-Za-z0-9_-]{16,64}$")])
    #: ``"yes"`` when the staff member confirmed a debit or a large amount on the confirmation step.
    confirmed = HiddenField()
    submit = SubmitField("Post adjustment")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        currencies = adjustments.program_currencies()
        self.currency.choices = [(code.upper(), code.upper()) for code in currencies]
        if not self.nonce.data:
            self.nonce.data = secrets.token_urlsafe(16)
        self._minor: int | None = None

    def validate_currency(self, field) -> None:
        code = (field.data or "").strip().lower()
        allowed = adjustments.program_currencies()
        if code not in allowed:
            listed = ", ".join(c.upper() for c in allowed) or "none yet"
            raise ValidationError(f"Adjustments are made in the program's currencies only ({listed}).")

    def validate_amount(self, field) -> None:
        currency = (self.currency.data or "").strip().lower()
        if currency not in adjustments.program_currencies():
            return  # the currency's own error says what is wrong
        try:
            minor = parse_amount(field.data, currency)
        except AmountError as error:
            raise ValidationError(str(error)) from None
        if minor == 0:
            raise ValidationError("Enter an amount other than zero.")
        limit = adjustments.maximum_minor(currency)
        if abs(minor) > limit:
            raise ValidationError(f"At most {format_money(limit, currency)} either way in one adjustment.")
        self._minor = minor

    @property
    def amount_minor(self) -> int:
        """The amount in minor units of the currency (after validation)."""
        if self._minor is None:
            raise ValueError("validate the form first")
        return self._minor


class FraudDecisionForm(FlaskForm):
    """Approve, void or reopen a held reward (the pressed button names the decision), with the reason."""

    decision = HiddenField(validators=[DataRequired(message="Choose approve, void or reopen.")])
    reason = TextAreaField(
        "Reason",
        validators=[
            DataRequired(message="Say why: the reason is kept in the audit log."),
            Length(max=500, message="Keep the reason under 500 characters."),
        ],
    )


class AllowanceForm(FlaskForm):
    """Put the household of a review on the allow-list: its advocate and friend pair, or its IP hash."""

    review_id = HiddenField(validators=[DataRequired()])
    kind = HiddenField(validators=[DataRequired()])
    reason = StringField(
        "Why is this household allowed?",
        validators=[DataRequired(message="Say why this household is allowed."), Length(max=500)],
    )


class CsrfOnlyForm(FlaskForm):
    """A button whose only field is the CSRF token (take a household off the allow-list)."""
