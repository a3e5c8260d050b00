"""Forms of the referral page (CSRF-protected by Flask-WTF)."""

from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import SubmitField
from wtforms.validators import DataRequired


#: Field ids of the form on the page (``advocacy-reset-confirm``, ...), unique beside the host's forms.
RESET_FORM_PREFIX = "advocacy-reset"


class ResetLinkForm(FlaskForm):
    """Retire the current link and get a new one."""

    confirm = BooleanField(
        "I understand that links I have already shared will stop working",
        validators=[DataRequired(message="Tick the box to confirm.")],
    )
    submit = SubmitField("Get a new link")
