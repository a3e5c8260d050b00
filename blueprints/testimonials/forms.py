"""Forms of testimonials and reviews (CSRF-protected by Flask-WTF)."""

from __future__ import annotations

import secrets

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed
from flask_wtf.file import FileField
from wtforms import BooleanField
from wtforms import HiddenField
from wtforms import RadioField
from wtforms import SelectField
from wtforms import StringField
from wtforms import SubmitField
from wtforms import TextAreaField
from wtforms.validators import DataRequired
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.validators import Optional
from wtforms.validators import Regexp
from wtforms.validators import ValidationError

try:
    from wtforms import SelectChoice
except ImportError:  # WTForms before 3.3 takes (value, label) pairs
    SelectChoice = None

from advocacy_portal.config import config_value
from advocacy_portal.services import photos
from advocacy_portal.services import testimonial_queries

RATING_CHOICES = [(5, "5 stars: excellent"), (4, "4 stars: good"), (3, "3 stars: fine"),
                  (2, "2 stars: poor"), (1, "1 star: bad")]



def select_choices(pairs) -> list:
    """WTForms choices from ``(value, label)`` pairs: ``SelectChoice`` objects where WTForms has them
    (3.3 deprecates tuples), plain pairs on older versions."""
    if SelectChoice is None:
        return [(value, label) for value, label in pairs]
    return [SelectChoice(value, label) for value, label in pairs]


#: Name of the honeypot field: hidden from people, and bots fill it in.
HONEYPOT = "website"


def _strip(value):
    # A file posted where text is due (a multipart body with a file named like the field) is no text.
    return value.strip() if isinstance(value, str) else None


def _text(value):
    # One newline convention, as browsers show text: highlight offsets then match what staff select.
    if isinstance(value, str):
        return value.replace("\r\n", "\n").replace("\r", "\n").strip()
    return None


def _no_control_characters(form, field):
    if field.data and any(ord(ch) < 32 and ch not in "\n\r\t" for ch in field.data):
        raise ValidationError("Remove the invisible control characters from this text.")


class _BaseForm(FlaskForm):
    #: What the form writes (its consent wording names only the fields it has).
    kind = "testimonial"
    #: The fields in the order the page shows them (the error summary follows it).
    field_order: tuple[str, ...] = ()
    rating = RadioField(
        "Your rating", coerce=int, choices=select_choices(RATING_CHOICES),
        validators=[InputRequired(message="Choose a rating from 1 to 5 stars.")],
    )
    body = TextAreaField("Your words", filters=[_text], validators=[DataRequired(message="Write a few words."), _no_control_characters])
    consent = RadioField(
        "May we publish it?", validators=[InputRequired(message="Choose whether we may publish it.")]
    )
    #: Random per form: submitting the same form twice (a double click) stores one testimonial.
    nonce = HiddenField(validators=[DataRequired(), Regexp(r"^[A-Za-z0-9_-]{16,64}$")])
    #: Honeypot: hidden from people; a filled-in value means a bot, which is thanked and ignored.
    website = StringField("Leave this field empty", render_kw={"autocomplete": "off", "tabindex": "-1"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.consent.choices = select_choices(testimonial_queries.consent_choices(self.kind))
        low, high = config_value("TESTIMONIAL_MIN_LENGTH"), config_value("TESTIMONIAL_MAX_LENGTH")
        self.body.validators = list(self.body.validators) + [
            Length(min=low, max=high, message=f"Write between {low} and {high} characters.")
        ]
        self.body.render_kw = {"maxlength": high, "minlength": low}
        if not self.nonce.data:
            self.nonce.data = secrets.token_urlsafe(24)

    @property
    def is_spam(self) -> bool:
        return bool((self.website.data or "").strip())


class TestimonialForm(_BaseForm):
    """A testimonial about the business."""

    field_order = ("rating", "body", "display_name", "role", "photo", "consent")

    display_name = StringField(
        "Name to show", filters=[_strip],
        validators=[DataRequired(message="Tell us the name to show."), Length(max=80), _no_control_characters],
        render_kw={"maxlength": 80, "autocomplete": "name"},
    )
    role = StringField(
        "Role or company (optional)", filters=[_strip],
        validators=[Optional(), Length(max=120), _no_control_characters], render_kw={"maxlength": 120},
    )
    photo = FileField(
        "Photo (optional)",
        validators=[FileAllowed(photos.ALLOWED_EXTENSIONS, "Upload a JPEG, PNG, WebP or GIF photo.")],
        render_kw={"accept": "image/jpeg,image/png,image/webp,image/gif"},
    )
    remove_photo = BooleanField("Remove my photo")
    submit = SubmitField("Send my testimonial")


class ReviewForm(_BaseForm):
    """A review of one product from the host's catalogue."""

    kind = "review"
    field_order = ("product", "rating", "title", "body", "display_name", "consent")

    product = SelectField("Product", validators=[InputRequired(message="Choose the product.")])
    title = StringField(
        "Title", filters=[_strip],
        validators=[DataRequired(message="Give your review a title."), _no_control_characters],
    )
    display_name = StringField(
        "Name to show", filters=[_strip],
        validators=[DataRequired(message="Tell us the name to show."), Length(max=80), _no_control_characters],
        render_kw={"maxlength": 80, "autocomplete": "name"},
    )
    submit = SubmitField("Send my review")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.product.choices = select_choices(testimonial_queries.products().items())
        high = config_value("REVIEW_TITLE_MAX_LENGTH")
        self.title.validators = list(self.title.validators) + [Length(max=high)]
        self.title.render_kw = {"maxlength": high}


class WithdrawForm(FlaskForm):
    """Withdraw consent for one testimonial."""

    confirm = BooleanField(
        "Take it down and never publish it again",
        validators=[DataRequired(message="Tick the box to confirm.")],
    )
    submit = SubmitField("Withdraw my consent")
