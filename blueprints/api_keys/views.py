"""The API keys page: list, create (the secret shown once), revoke."""

from __future__ import annotations

from flask import abort
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import url_for

from advocacy_portal.blueprints.api_keys import bp
from advocacy_portal.blueprints.api_keys.forms import KEY_FORM_PREFIX
from advocacy_portal.blueprints.api_keys.forms import NewKeyForm
from advocacy_portal.blueprints.api_keys.forms import RevokeForm
from advocacy_portal.blueprints.common import csrf_failed
from advocacy_portal.blueprints.common import CSRF_MESSAGE
from advocacy_portal.blueprints.common import private_page
from advocacy_portal.blueprints.common import render_error
from advocacy_portal.blueprints.common import staff_required
from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.services import api_keys


def _render(form: NewKeyForm, status: int = 200, new_key=None):
    return private_page(
        render_template(
            config_value("ADMIN_API_KEYS_TEMPLATE"),
            form=form,
            keys=api_keys.list_keys(),
            revoke_form=RevokeForm(formdata=None),
            scopes=api_keys.SCOPES,
            new_key=new_key,
        ),
        status,
    )


@bp.get("/")
@staff_required
def index():
    """Every API key, and the form for a new one."""
    return _render(NewKeyForm(prefix=KEY_FORM_PREFIX, formdata=None))


@bp.post("/")
@staff_required
def create():
    """Make a key and show its secret, this once (the answer is never cached; the secret is in no
    cookie or flash message)."""
    form = NewKeyForm(prefix=KEY_FORM_PREFIX)
    if not form.validate_on_submit():
        if csrf_failed(form):
            return render_error(400, CSRF_MESSAGE)
        return _render(form, status=400)
    try:
        made = api_keys.create_key(form.name.data, form.scopes.data, g.advocacy_staff)
    except ValueError as error:
        form.name.errors = [*form.name.errors, str(error)]
        return _render(form, status=400)
    get_session().commit()
    return _render(NewKeyForm(prefix=KEY_FORM_PREFIX, formdata=None), new_key=made)


@bp.post("/<advocacy_id:key_id>/revoke")
@staff_required
def revoke(key_id: int):
    """Revoke a key: every request with it is refused from now on."""
    form = RevokeForm()
    if not form.validate_on_submit():
        return render_error(400, CSRF_MESSAGE)
    key = api_keys.get_key(key_id)
    if key is None:
        abort(404, "There is no API key with this number.")
    if api_keys.revoke_key(key, g.advocacy_staff):
        get_session().commit()
        flash(f"The key “{key.name}” ({key.display_prefix}…) is revoked.", "success")
    else:
        flash(f"The key “{key.name}” was revoked already.", "success")
    return redirect(url_for(".index"), code=303)
