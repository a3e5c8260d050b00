"""Forms of the moderation pages (CSRF-protected by Flask-WTF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField
from wtforms import HiddenField
from wtforms import IntegerField
from wtforms import SelectField
from wtforms import SelectMultipleField
from wtforms import StringField
from wtforms import SubmitField
from wtforms import TextAreaField
from wtforms.validators import AnyOf
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import NumberRange
from wtforms.validators import Optional

from advocacy_portal.blueprints.testimonials.forms import select_choices
from advocacy_portal.models import TESTIMONIAL_STATES

ACTION_LABELS = {
    "approve": "Approve",
    "reject": "Reject",
    "unpublish": "Unpublish",
    "feature": "Feature",
    "unfeature": "Stop featuring",
}


class QueueFilterForm(FlaskForm):
    """Filters of the queue: a GET form, so no CSRF token."""

    class Meta:
        csrf = False

    state = SelectField(
        "State", choices=select_choices([("", "Any")] + [(s, s.capitalize()) for s in TESTIMONIAL_STATES]),
        default="pending", validators=[Optional()],
    )
    rating = SelectField(
        "Rating", choices=select_choices([("", "Any")] + [(str(n), f"{n} stars") for n in range(5, 0, -1)]),
        validators=[Optional()],
    )
    kind = SelectField(
        "Kind", choices=select_choices([("", "Any"), ("testimonial", "Testimonials"), ("review", "Reviews")]),
        validators=[Optional()],
    )
    product = SelectField("Product", validators=[Optional()])
    submitted_from = DateField("Submitted from", validators=[Optional()])
    submitted_until = DateField("Submitted until", validators=[Optional()])


class ActionForm(FlaskForm):
    """One staff action on one testimonial."""

    action = HiddenField(validators=[AnyOf(list(ACTION_LABELS))])
    version = IntegerField(validators=[DataRequired()])
    reason = TextAreaField("Reason", validators=[Optional(), Length(max=1000)])


class HighlightForm(FlaskForm):
    """Pick the excerpt to highlight: offsets, or the words themselves."""

    version = IntegerField(validators=[DataRequired()])
    start = IntegerField("First character", validators=[Optional(), NumberRange(min=0)])
    end = IntegerField("After the last character", validators=[Optional(), NumberRange(min=1)])
    excerpt = StringField(
        "…or paste the words to highlight", validators=[Optional(), Length(max=5000)]
    )
    clear = SubmitField("Remove the highlight")
    submit = SubmitField("Save the highlight")


class BulkForm(FlaskForm):
    """One action on many testimonials; each checkbox value is ``<id>:<version>``."""

    selected = SelectMultipleField(validators=[DataRequired(message="Select at least one testimonial.")],
                                   validate_choice=False)
    action = SelectField("With the selected", choices=select_choices(ACTION_LABELS.items()))
    reason = StringField("Reason (needed to reject)", validators=[Optional(), Length(max=1000)])
    back = HiddenField()
    submit = SubmitField("Apply")
