"""Forms of the NPS and case pages (CSRF-protected by Flask-WTF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import DateTimeLocalField
from wtforms import HiddenField
from wtforms import RadioField
from wtforms import SelectField
from wtforms import SelectMultipleField
from wtforms import StringField
from wtforms import SubmitField
from wtforms import TextAreaField
from wtforms.validators import DataRequired
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.validators import Optional

from advocacy_portal.blueprints.testimonials.forms import select_choices
from advocacy_portal.models.nps import CASE_STATUSES
from advocacy_portal.services.nps import STATUS_LABELS

SCORE_CHOICES = select_choices([(score, str(score)) for score in range(11)])


class ScoreForm(FlaskForm):
    """The question and its optional reason: a score link's confirm step, and the in-app question."""

    score = RadioField("Your score", choices=SCORE_CHOICES, coerce=int,
                       validators=[InputRequired(message="Choose a score from 0 to 10.")])
    comment = TextAreaField("What is the main reason? (optional)", validators=[Optional()])
    submit = SubmitField("Send my answer")


class UnsubscribeForm(FlaskForm):
    submit = SubmitField("Unsubscribe from surveys")


class ProblemForm(FlaskForm):
    subject = StringField("In a few words, what is wrong?", validators=[DataRequired(), Length(max=200)])
    body = TextAreaField("Tell us more (optional)", validators=[Optional()])
    submit = SubmitField("Send my request")


class ReplyForm(FlaskForm):
    body = TextAreaField("Your reply", validators=[DataRequired(message="Write your reply first.")])
    submit = SubmitField("Send reply")


# -- staff ------------------------------------------------------------------------------------------


class SendForm(FlaskForm):
    """Send the survey: to one customer, or to a pasted list / CSV (ids, emails or ``id,email``)."""

    recipients = TextAreaField("Customers: one id or email per line, or a CSV of id,email",
                               validators=[Optional(), Length(max=100_000)])
    use_audience = BooleanField("Send to the shop's whole list (the survey_audience hook)")
    channel = SelectField("Channel", choices=select_choices([("email", "Email with score links"),
                                                             ("in_app", "Only on their portal pages")]), default="email")
    submit = SubmitField("Send the survey")


class AssignForm(FlaskForm):
    owner = SelectField("Owner", validators=[DataRequired()])
    submit = SubmitField("Assign")


class StatusForm(FlaskForm):
    status = SelectField("Status", choices=select_choices([(s, STATUS_LABELS[s]) for s in CASE_STATUSES]))
    root_cause = SelectField("Root cause (required to resolve)", coerce=str, validators=[Optional()])
    root_cause_text = StringField("…or describe it", validators=[Optional(), Length(max=500)])
    submit = SubmitField("Change status")


class MessageForm(FlaskForm):
    body = TextAreaField("Message to the customer (emailed to them)",
                         validators=[DataRequired(message="Write the message first.")])
    submit = SubmitField("Send message")


class NoteForm(FlaskForm):
    body = TextAreaField("Internal note (staff only)", validators=[DataRequired(message="Write the note first.")])
    submit = SubmitField("Add note")


class DueForm(FlaskForm):
    due_at = DateTimeLocalField("Due (UTC)", format="%Y-%m-%dT%H:%M", validators=[DataRequired()])
    submit = SubmitField("Change due date")


class BulkCloseForm(FlaskForm):
    selected = SelectMultipleField(validators=[DataRequired(message="Select at least one case.")],
                                   validate_choice=False)
    submit = SubmitField("Close selected cases")


class RootCauseForm(FlaskForm):
    label = StringField("New root cause", validators=[DataRequired(), Length(max=80)])
    submit = SubmitField("Add to the list")


class RetireRootCauseForm(FlaskForm):
    cause = HiddenField(validators=[DataRequired()])
    submit = SubmitField("Remove")
