"""Forms of the privacy pages (CSRF-protected by Flask-WTF)."""

from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import HiddenField
from wtforms import PasswordField
from wtforms import StringField
from wtforms import SubmitField
from wtforms.validators import DataRequired
from wtforms.validators import Length

EXPORT_FORM_PREFIX = "advocacy-export"
ERASE_FORM_PREFIX = "advocacy-erase"


class ExportForm(FlaskForm):
    """Download my data; the password field is shown only with a ``password_check`` hook."""

    password = PasswordField("Your password", validators=[Length(max=1024)])
    submit = SubmitField("Download my data")


class EraseForm(FlaskForm):
    """Staff: erase a customer, confirmed by typing their user id."""

    confirm_user_id = StringField("Type the customer's user id to confirm",
                                  validators=[DataRequired(message="Type the user id to confirm."), Length(max=255)])
    understood = BooleanField("I understand this cannot be undone",
                              validators=[DataRequired(message="Tick the box to confirm.")])
    submit = SubmitField("Erase this customer")


class ConsentForm(FlaskForm):
    """What the host's consent banner posts (with the page's CSRF token) once the visitor agrees."""

    class Meta:
        # The banner posts from any page of the site, with the token of the visitor's session.
        csrf = True

    ref = HiddenField(validators=[DataRequired(), Length(max=512)])
