"""Forms of the rewards page (CSRF-protected by Flask-WTF)."""

from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import HiddenField
from wtforms import SubmitField
from wtforms.validators import DataRequired
from wtforms.validators import Regexp

#: Field ids of the redeem form (``advocacy-redeem-confirm``, ...), unique beside the host's forms.
REDEEM_FORM_PREFIX = "advocacy-redeem"


class RedeemForm(FlaskForm):
    """Redeem the whole available balance of one currency as account credit."""

    currency = HiddenField(validators=[DataRequired(), Regexp(r"^[a-z]{3}$", message="Unknown currency.")])
    #: The amount the customer saw and confirmed; a balance that changed meanwhile is not redeemed blindly.
    amount_minor = HiddenField(validators=[DataRequired(), Regexp(r"^[0-9]{1,15}$", message="Unknown amount.")])
    confirm = BooleanField(
        "I want this amount as credit on my account",
        validators=[DataRequired(message="Tick the box to confirm.")],
    )
    submit = SubmitField("Redeem")
