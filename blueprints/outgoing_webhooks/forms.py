"""Forms of the outgoing-webhook staff pages (CSRF-protected by Flask-WTF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import SelectMultipleField
from wtforms import StringField
from wtforms import SubmitField
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import Optional
from wtforms.widgets import CheckboxInput
from wtforms.widgets import ListWidget

from advocacy_portal.services.webhook_events import EVENT_TYPES
from advocacy_portal.services.webhook_targets import MAX_URL_LENGTH


class CheckboxesField(SelectMultipleField):
    """Several choices as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class EndpointForm(FlaskForm):
    """Add or change an endpoint: where, what it is, which events."""

    url = StringField(
        "URL",
        description="HTTPS, reachable from this server, e.g. https://hooks.example.com/advocacy.",
        validators=[DataRequired(message="Enter the endpoint's URL."),
                    Length(max=MAX_URL_LENGTH, message=f"Keep the URL under {MAX_URL_LENGTH} characters.")],
        render_kw={"inputmode": "url", "autocomplete": "off", "spellcheck": "false"},
    )
    description = StringField(
        "Description",
        description="Optional: what receives these events, e.g. “CRM (HubSpot)”.",
        validators=[Optional(), Length(max=255, message="Keep the description under 255 characters.")],
    )
    event_types = CheckboxesField("Events to send", validate_choice=False)
    submit = SubmitField("Save endpoint")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.event_types.choices = [(event.name, event.name) for event in EVENT_TYPES.values()]


class NewEndpointForm(EndpointForm):
    """Add an endpoint, optionally with a secret the receiving system gave."""

    secret = StringField(
        "Signing secret",
        description="Leave empty to get a new random secret. Or paste one the receiving system gave you (whsec_…).",
        validators=[Optional(), Length(max=255, message="Keep the secret under 255 characters.")],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    submit = SubmitField("Add endpoint")


class ActionForm(FlaskForm):
    """A button that changes something (enable, disable, rotate, test, replay): CSRF only."""

    submit = SubmitField("Go")


class DeleteForm(FlaskForm):
    confirm = BooleanField(
        "Yes, delete this endpoint and its delivery log",
        validators=[DataRequired(message="Tick the box to confirm.")],
    )
    submit = SubmitField("Delete endpoint")
