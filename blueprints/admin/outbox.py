"""Staff page of the outbox: what waits, what was parked as dead and why, and replay."""

from __future__ import annotations

from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import url_for
from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms import SubmitField

from advocacy_portal import outbox
from advocacy_portal.blueprints import inputs
from advocacy_portal.blueprints.admin import bp
from advocacy_portal.blueprints.common import CSRF_MESSAGE
from advocacy_portal.blueprints.common import private_page
from advocacy_portal.blueprints.common import render_error
from advocacy_portal.blueprints.common import staff_required
from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.services import audit

#: Rows shown per list.
PAGE_SIZE = 50


class ReplayForm(FlaskForm):
    """Replay one dead task, or every dead task of a topic."""

    task_id = HiddenField()
    topic = HiddenField()
    submit = SubmitField("Replay")


@bp.get("/outbox")
@staff_required
def outbox_page():
    """Counts per topic, the dead tasks (newest first) and the tasks waiting for a retry."""
    topic = inputs.text_arg("topic", 64)
    return private_page(render_template(
        config_value("ADMIN_OUTBOX_TEMPLATE"),
        counts=outbox.state_counts(),
        due=outbox.due_count(),
        topics=outbox.topic_counts(),
        dead=outbox.tasks("dead", topic=topic, limit=PAGE_SIZE),
        retrying=outbox.tasks("queued", topic=topic, retrying_only=True, limit=PAGE_SIZE),
        topic=topic or "",
        executor=config_value("TASK_EXECUTOR") if isinstance(config_value("TASK_EXECUTOR"), str) else "host queue",
        form=ReplayForm(),
    ))


@bp.post("/outbox/replay")
@staff_required
def outbox_replay():
    """Queue one dead task again (``task_id``), or all dead tasks of a topic (``topic``)."""
    form = ReplayForm()
    if not form.validate_on_submit():
        return render_error(400, CSRF_MESSAGE)
    if form.task_id.data:
        task_id = inputs.whole_number(form.task_id.data.strip(), 1, inputs.MAX_ID)
        if task_id is None:
            return render_error(400, "That is not a task number.")
        ids = [task_id]
    elif form.topic.data:
        ids = [task.id for task in outbox.tasks("dead", topic=form.topic.data[:64], limit=1000)]
    else:
        return render_error(400, "Choose a task or a topic to replay.")
    replayed = [task_id for task_id in ids if outbox.replay(task_id)]
    for task_id in replayed:
        audit.record_action(g.advocacy_staff, "outbox.replay", "outbox_task", task_id)
    get_session().commit()
    if replayed:
        flash(f"Replayed {len(replayed)} task(s).", "success")
    else:
        flash("Nothing to replay: the task is not dead (any more).", "error")
    return redirect(url_for(".outbox_page"), code=303)
