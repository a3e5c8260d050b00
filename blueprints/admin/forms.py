"""Forms of the staff pages (CSRF-protected by Flask-WTF)."""

from __future__ import annotations

import secrets
from decimal import Decimal
from decimal import InvalidOperation

from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms import StringField
from wtforms import SubmitField
from wtforms import TextAreaField
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import Regexp
from wtforms.validators import ValidationError

from advocacy_portal.services.money import exponent

#: Field ids of the adjustment form (``advocacy-adjust-amount``, ...).
ADJUST_FORM_PREFIX = "advocacy-adjust"


class AdjustmentForm(FlaskForm):
    """A manual credit or debit of an advocate's available balance, with the reason."""

    amount = StringField(
        "Amount",
        description="In the currency's units, e.g. 12.50 to credit or -12.50 to debit.",
        validators=[DataRequired(message="Enter an amount.")],
    )
    currency = StringField(
        "Currency",
        validators=[
            DataRequired(message="Enter a currency."),
            Regexp(r"^[A-Za-z]{3}$", message="Use a three-letter code such as USD."),
        ],
    )
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
    submit = SubmitField("Post adjustment")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.nonce.data:
            self.nonce.data = secrets.token_urlsafe(16)

    def validate_amount(self, field) -> None:
        try:
            value = Decimal(field.data.strip().replace(",", ""))
        except (InvalidOperation, AttributeError):
            raise ValidationError("Enter a number such as 12.50 or -12.50.") from None
        if not value.is_finite() or value == 0:
            raise ValidationError("Enter a number other than zero.")
        if abs(value) >= Decimal(10) ** 12:
            raise ValidationError("That amount is too large.")
        currency = (self.currency.data or "usd").lower()
        minor = value.scaleb(exponent(currency))
        if minor != minor.to_integral_value():
            raise ValidationError(f"{currency.upper()} has {exponent(currency)} decimal places at most.")

    @property
    def amount_minor(self) -> int:
        """The amount in minor units of the currency (call after validation)."""
        value = Decimal(self.amount.data.strip().replace(",", ""))
        return int(value.scaleb(exponent(self.currency.data.lower())))
