"""The demo host's login, signup and logout forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms import PasswordField
from wtforms import StringField
from wtforms import SubmitField
from wtforms.validators import DataRequired
from wtforms.validators import Email
from wtforms.validators import Length


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email()], render_kw={"autocomplete": "email"})
    password = PasswordField(
        "Password", validators=[DataRequired()], render_kw={"autocomplete": "current-password"}
    )
    submit = SubmitField("Log in")


class SignupForm(FlaskForm):
    name = StringField(
        "Your name", validators=[DataRequired(), Length(max=100)], render_kw={"autocomplete": "name"}
    )
    email = EmailField(
        "Email",
        validators=[DataRequired(), Email(), Length(max=320)],
        render_kw={"autocomplete": "email"},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired(), Length(min=8, max=200)],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField("Create account")


class LogoutForm(FlaskForm):
    submit = SubmitField("Log out")
