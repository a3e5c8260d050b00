"""Staff pages of outgoing webhooks: the endpoint list, add and edit, one endpoint with its secret,
actions and delivery log."""

from __future__ import annotations

from flask import abort
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from advocacy_portal.blueprints import inputs
from advocacy_portal.blueprints.common import csrf_failed
from advocacy_portal.blueprints.common import CSRF_MESSAGE
from advocacy_portal.blueprints.common import private_page
from advocacy_portal.blueprints.common import render_error
from advocacy_portal.blueprints.common import staff_required
from advocacy_portal.blueprints.outgoing_webhooks import bp
from advocacy_portal.blueprints.outgoing_webhooks.forms import ActionForm
from advocacy_portal.blueprints.outgoing_webhooks.forms import DeleteForm
from advocacy_portal.blueprints.outgoing_webhooks.forms import EndpointForm
from advocacy_portal.blueprints.outgoing_webhooks.forms import NewEndpointForm
from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.models import WebhookDelivery
from advocacy_portal.models import WebhookEndpoint
from advocacy_portal.services import outgoing_webhooks
from advocacy_portal.services import webhook_queries
from advocacy_portal.services.webhook_events import EVENT_TYPES


def get_endpoint_or_404(endpoint_id: int) -> WebhookEndpoint:
    endpoint = webhook_queries.get_endpoint(endpoint_id)
    if endpoint is None:
        abort(404, "There is no webhook endpoint with this number.")
    return endpoint


def _checked_action_form():
    """The CSRF check of an action button; a refused form answers the error page."""
    form = ActionForm()
    if not form.validate_on_submit():
        return render_error(400, CSRF_MESSAGE)
    return None


@bp.get("/")
@staff_required
def endpoints():
    """Every endpoint with its latest delivery outcome."""
    return private_page(
        render_template(
            config_value("ADMIN_WEBHOOKS_TEMPLATE"),
            summaries=webhook_queries.endpoints(),
            event_types=EVENT_TYPES,
        )
    )


def _render_form(form, endpoint=None, status: int = 200):
    return private_page(
        render_template(
            config_value("ADMIN_WEBHOOK_FORM_TEMPLATE"), form=form, endpoint=endpoint, event_types=EVENT_TYPES,
        ),
        status,
    )


def _form_refused(form, error: outgoing_webhooks.EndpointError, endpoint=None):
    get_session().rollback()
    getattr(form, error.field).errors = [str(error)]
    return _render_form(form, endpoint, 400)


@bp.route("/new", methods=["GET", "POST"])
@staff_required
def new():
    """Add an endpoint."""
    form = NewEndpointForm()
    if request.method == "GET":
        return _render_form(form)
    if not form.validate_on_submit():
        if csrf_failed(form):
            return render_error(400, CSRF_MESSAGE)
        return _render_form(form, status=400)
    try:
        endpoint = outgoing_webhooks.create_endpoint(
            form.url.data, form.description.data, form.event_types.data, g.advocacy_staff, secret=form.secret.data
        )
    except outgoing_webhooks.EndpointError as error:
        return _form_refused(form, error)
    get_session().commit()
    flash("Endpoint added. Give its signing secret to the receiving system.", "success")
    return redirect(url_for(".endpoint", endpoint_id=endpoint.id), code=303)


@bp.get("/<advocacy_id:endpoint_id>")
@staff_required
def endpoint(endpoint_id: int):
    """One endpoint: its settings and secret, its actions, and every delivery with its attempts."""
    found = get_endpoint_or_404(endpoint_id)
    page_number, per_page = inputs.page_arg(), inputs.per_page_arg(25)
    return private_page(
        render_template(
            config_value("ADMIN_WEBHOOK_TEMPLATE"),
            endpoint=found,
            rotating=webhook_queries.is_rotating(found),
            page=webhook_queries.deliveries(found.id, page_number, per_page),
            action_form=ActionForm(),
            delete_form=DeleteForm(),
            event_types=EVENT_TYPES,
        )
    )


@bp.route("/<advocacy_id:endpoint_id>/edit", methods=["GET", "POST"])
@staff_required
def edit(endpoint_id: int):
    """Change an endpoint's URL, description and events."""
    found = get_endpoint_or_404(endpoint_id)
    form = EndpointForm(obj=found) if request.method == "GET" else EndpointForm()
    if request.method == "GET":
        return _render_form(form, found)
    if not form.validate_on_submit():
        if csrf_failed(form):
            return render_error(400, CSRF_MESSAGE)
        return _render_form(form, found, 400)
    try:
        outgoing_webhooks.update_endpoint(
            found, form.url.data, form.description.data, form.event_types.data, g.advocacy_staff
        )
    except outgoing_webhooks.EndpointError as error:
        return _form_refused(form, error, webhook_queries.get_endpoint(endpoint_id))
    get_session().commit()
    flash("Endpoint saved.", "success")
    return redirect(url_for(".endpoint", endpoint_id=found.id), code=303)


@bp.post("/<advocacy_id:endpoint_id>/enable")
@staff_required
def enable(endpoint_id: int):
    """Send this endpoint its events again."""
    found = get_endpoint_or_404(endpoint_id)
    refused = _checked_action_form()
    if refused:
        return refused
    outgoing_webhooks.set_enabled(found, True, g.advocacy_staff)
    get_session().commit()
    flash("Endpoint enabled: new events are sent to it.", "success")
    return redirect(url_for(".endpoint", endpoint_id=found.id), code=303)


@bp.post("/<advocacy_id:endpoint_id>/disable")
@staff_required
def disable(endpoint_id: int):
    """Stop sending events to this endpoint."""
    found = get_endpoint_or_404(endpoint_id)
    refused = _checked_action_form()
    if refused:
        return refused
    outgoing_webhooks.set_enabled(found, False, g.advocacy_staff)
    get_session().commit()
    flash("Endpoint disabled: it gets no events until you enable it.", "success")
    return redirect(url_for(".endpoint", endpoint_id=found.id), code=303)


@bp.post("/<advocacy_id:endpoint_id>/rotate")
@staff_required
def rotate(endpoint_id: int):
    """A new secret; the old one keeps signing during the rotation window."""
    found = get_endpoint_or_404(endpoint_id)
    refused = _checked_action_form()
    if refused:
        return refused
    outgoing_webhooks.rotate_secret(found, g.advocacy_staff)
    get_session().commit()
    hours = config_value("WEBHOOKS_SECRET_ROTATION_HOURS")
    flash(
        f"New secret made. For {hours:g} hours every message is signed with both secrets: "
        "give the new one to the receiving system now.",
        "success",
    )
    return redirect(url_for(".endpoint", endpoint_id=found.id), code=303)


@bp.post("/<advocacy_id:endpoint_id>/end-rotation")
@staff_required
def end_rotation(endpoint_id: int):
    """Stop signing with the previous secret now."""
    found = get_endpoint_or_404(endpoint_id)
    refused = _checked_action_form()
    if refused:
        return refused
    outgoing_webhooks.end_rotation(found, g.advocacy_staff)
    get_session().commit()
    flash("The previous secret no longer signs.", "success")
    return redirect(url_for(".endpoint", endpoint_id=found.id), code=303)


def _outcome_message(delivery_id: int, what: str) -> tuple[str, str]:
    """What became of a delivery just committed (the inline executor has tried it by now)."""
    delivery = get_session().get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.state == "pending" and not delivery.attempts:
        return f"{what} queued: it is sent in the background.", "success"
    if delivery.state == "succeeded":
        return f"{what} delivered: the endpoint answered {delivery.last_status_code}.", "success"
    return f"{what} not delivered: {delivery.last_error}", "error"


@bp.post("/<advocacy_id:endpoint_id>/test")
@staff_required
def send_test(endpoint_id: int):
    """Send a ``webhook.test`` message to this endpoint now."""
    found = get_endpoint_or_404(endpoint_id)
    refused = _checked_action_form()
    if refused:
        return refused
    delivery = outgoing_webhooks.send_test_event(found, g.advocacy_staff)
    delivery_id = delivery.id
    get_session().commit()
    flash(*_outcome_message(delivery_id, "Test event"))
    return redirect(url_for(".endpoint", endpoint_id=found.id), code=303)


@bp.post("/<advocacy_id:endpoint_id>/deliveries/<advocacy_id:delivery_id>/replay")
@staff_required
def replay(endpoint_id: int, delivery_id: int):
    """Send one delivery again, same message id and body."""
    found = get_endpoint_or_404(endpoint_id)
    delivery = webhook_queries.get_delivery(found.id, delivery_id)
    if delivery is None:
        abort(404, "This endpoint has no delivery with this number.")
    refused = _checked_action_form()
    if refused:
        return refused
    try:
        outgoing_webhooks.replay(delivery, g.advocacy_staff)
    except ValueError as error:
        get_session().rollback()
        flash(str(error), "error")
        return redirect(url_for(".endpoint", endpoint_id=found.id), code=303)
    get_session().commit()
    flash(*_outcome_message(delivery_id, "Replay"))
    return redirect(url_for(".endpoint", endpoint_id=found.id), code=303)


@bp.post("/<advocacy_id:endpoint_id>/delete")
@staff_required
def delete(endpoint_id: int):
    """Remove an endpoint and its delivery log (with a confirmation box)."""
    found = get_endpoint_or_404(endpoint_id)
    form = DeleteForm()
    if not form.validate_on_submit():
        if csrf_failed(form):
            return render_error(400, CSRF_MESSAGE)
        flash("Tick “Yes, delete this endpoint and its delivery log” to delete it.", "error")
        return redirect(url_for(".endpoint", endpoint_id=found.id), code=303)
    url = found.url
    outgoing_webhooks.delete_endpoint(found, g.advocacy_staff)
    get_session().commit()
    flash(f"Endpoint {url} deleted.", "success")
    return redirect(url_for(".endpoints"), code=303)
