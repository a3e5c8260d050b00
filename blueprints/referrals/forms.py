"""Forms of the referral page (CSRF-protected by Flask-WTF)."""

from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import StringField
from wtforms import SubmitField
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import Optional
from wtforms.validators import Regexp


#: Field ids of the form on the page (``advocacy-reset-confirm``, ...), unique beside the host's forms.
RESET_FORM_PREFIX = "advocacy-reset"
INVITER_FORM_PREFIX = "advocacy-inviter"


class ResetLinkForm(FlaskForm):
    """Retire the current link and get a new one."""

    confirm = BooleanField(
        "I understand that links I have already shared will stop working",
        validators=[DataRequired(message="Tick the box to confirm.")],
    )
    submit = SubmitField("Get a new link")


class InviterNameForm(FlaskForm):
    """The first name friends see on the landing page, or none."""

    name = StringField(
        "Your first name, as friends will see it",
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        validators=[Optional(), Length(max=40, message="Use at most 40 characters."),
                    Regexp(r"^[^<>{}\x00-\x1f]*$", message="Use letters only: no brackets or control characters.")],
        render_kw={"maxlength": 40, "autocomplete": "given-name"},
    )
    hide = BooleanField("Do not show my name")
    submit = SubmitField("Save")
