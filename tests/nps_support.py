"""Builders of the NPS tests: invitations, score links and cases through the real services."""

from __future__ import annotations

import re

from sqlalchemy import select

SCORE_LINK = re.compile(r"(/advocacy/nps/s/[A-Za-z0-9_.\-]+)")
CASE_LINK = re.compile(r"(/advocacy/nps/case/[A-Za-z0-9_.\-]+)")


def invite(app, customer, channel: str = "email") -> int:
    """Send the survey to ``customer`` (committed); returns the invitation's id."""
    from advocacy_portal.db import get_session
    from advocacy_portal.services import nps

    with app.app_context():
        invitation = nps.send_survey(str(customer.id), customer.email, channel=channel)
        get_session().commit()
        return invitation.id


def score_path(app, invitation_id: int, score: int | None) -> str:
    from advocacy_portal.db import get_session
    from advocacy_portal.models import NpsInvitation
    from advocacy_portal.services import nps

    with app.app_context():
        return f"/advocacy/nps/s/{nps.score_token(get_session().get(NpsInvitation, invitation_id), score)}"


def open_case(app, customer, subject: str = "My parcel never came") -> int:
    from advocacy_portal.db import get_session
    from advocacy_portal.services import nps

    with app.app_context():
        case = nps.open_case(str(customer.id), customer.email, source="request", subject=subject)
        get_session().commit()
        return case.id


def case_path(app, case_id: int) -> str:
    from advocacy_portal.db import get_session
    from advocacy_portal.models import NpsCase
    from advocacy_portal.services import nps

    with app.app_context():
        return f"/advocacy/nps/case/{nps.case_token(get_session().get(NpsCase, case_id))}"


def rows(app, model) -> list:
    """Every row of ``model`` as plain dicts, oldest first."""
    from advocacy_portal.db import get_session

    with app.app_context():
        found = get_session().scalars(select(model).order_by(model.id)).all()
        return [{column.name: getattr(row, column.name) for column in model.__table__.columns} for row in found]


def emails(app, prefix: str = "nps.") -> list[dict]:
    from advocacy_portal.db import get_session
    from advocacy_portal.models import OutboxTask

    with app.app_context():
        tasks = get_session().scalars(
            select(OutboxTask).where(OutboxTask.topic == "email").order_by(OutboxTask.id)).all()
        return [task.payload for task in tasks if task.payload["kind"].startswith(prefix)]
