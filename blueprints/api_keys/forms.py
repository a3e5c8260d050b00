"""Forms of the API keys page (CSRF-protected by Flask-WTF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectMultipleField
from wtforms import StringField
from wtforms import SubmitField
from wtforms import widgets
from wtforms.validators import DataRequired
from wtforms.validators import Length

from advocacy_portal.blueprints.testimonials.forms import select_choices
from advocacy_portal.services.api_keys import SCOPES

#: Field ids of the new-key form (``advocacy-key-name``, ...).
KEY_FORM_PREFIX = "advocacy-key"


class NewKeyForm(FlaskForm):
    """A new key: what it is for, and what it may read."""

    name = StringField(
        "Name",
        description="What uses this key, e.g. “Finance export”. Shown here and in the audit log.",
        validators=[
            DataRequired(message="Give the key a name."),
            Length(max=100, message="Keep the name under 100 characters."),
        ],
    )
    scopes = SelectMultipleField(
        "What the key may read",
        choices=select_choices((scope, f"{scope} — {text}") for scope, text in SCOPES.items()),
        option_widget=widgets.CheckboxInput(),
        widget=widgets.ListWidget(prefix_label=False),
        validators=[DataRequired(message="Choose at least one scope.")],
    )
    submit = SubmitField("Create key")


class RevokeForm(FlaskForm):
    """Revoke one key (the key's id is in the URL)."""

    submit = SubmitField("Revoke")
