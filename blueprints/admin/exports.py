"""Staff page of the exports: CSV of referrals, payments, ledger entries and audit entries, streamed."""

from __future__ import annotations

from datetime import datetime
from datetime import time
from datetime import timedelta
from datetime import timezone

from flask import Response
from flask import abort
from flask import render_template
from flask import stream_with_context

from advocacy_portal.blueprints import inputs
from advocacy_portal.blueprints.admin import bp
from advocacy_portal.blueprints.common import private_page
from advocacy_portal.blueprints.common import render_error
from advocacy_portal.blueprints.common import staff_required
from advocacy_portal.config import config_value
from advocacy_portal.services import exports


def _period():
    """``(first day, last day, start, end)`` of the ``start``/``end`` query arguments (both optional,
    swapped when inverted); :class:`~advocacy_portal.blueprints.inputs.BadInput` for an unreadable date."""
    first = inputs.date_arg("start", strict=True)
    last = inputs.date_arg("end", strict=True)
    if first and last and first > last:
        first, last = last, first
    start = datetime.combine(first, time.min, tzinfo=timezone.utc) if first else None
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=timezone.utc) if last else None
    return first, last, start, end


@bp.get("/export")
@staff_required
def export_page():
    """Choose what to export and for which period; each kind shows how many rows it has."""
    try:
        first, last, start, end = _period()
    except inputs.BadInput as error:
        return render_error(400, error.description)
    kinds = [(kind, exports.count(kind.name, start, end)) for kind in exports.EXPORTS.values()]
    return private_page(
        render_template(config_value("ADMIN_EXPORT_TEMPLATE"), kinds=kinds,
                        first=first.isoformat() if first else "", last=last.isoformat() if last else "")
    )


@bp.get("/export/<name>.csv")
@staff_required
def export_csv(name: str):
    """One kind of export as a CSV download, streamed in batches (constant memory)."""
    if name not in exports.EXPORTS:
        abort(404, "There is no export of that kind.")
    try:
        first, last, start, end = _period()
    except inputs.BadInput as error:
        return render_error(400, error.description)
    span = f"{first.isoformat() if first else 'start'}-to-{last.isoformat() if last else 'now'}"
    response = Response(stream_with_context(exports.csv_chunks(name, start, end)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="advocacy-{name}-{span}.csv"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
