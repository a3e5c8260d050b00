"""The demo's NPS data: answers over several months with a visible trend, cases in every status."""

from __future__ import annotations

import pytest


@pytest.mark.demo
def test_seed_demo_has_months_of_answers_a_trend_and_cases_in_every_status(app, runner, client, auth):
    from datetime import date

    from sqlalchemy import select

    from advocacy_portal.db import get_session
    from advocacy_portal.models import NpsCase
    from advocacy_portal.models import NpsResponse
    from advocacy_portal.models.nps import CASE_STATUSES
    from advocacy_portal.services import nps_queries

    result = runner.invoke(args=["advocacy", "seed-demo"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        statuses = set(get_session().scalars(select(NpsCase.status)))
        assert statuses == set(CASE_STATUSES)
        assert nps_queries.overdue_count() >= 1
        months = {f"{r.created_at:%Y-%m}" for r in get_session().scalars(select(NpsResponse))}
        assert len(months) >= 5
        start, end = nps_queries.default_period()
        trend = [summary for _label, summary in nps_queries.figures(start, end, "month").trend if summary.total]
        assert trend[-1].score > trend[0].score  # the trend goes up
        figures = nps_queries.figures(start, end)
        assert figures.response_rate is not None and figures.response_rate < 100
        assert nps_queries.cases_per_root_cause().rows


@pytest.mark.parametrize(
    ("month", "back", "expected"),
    [((2026, 12), 0, (2026, 12)), ((2026, 12), 5, (2026, 7)), ((2026, 3), 4, (2025, 11)),
     ((2026, 12), -1, (2027, 1)), ((2026, 1), 13, (2024, 12))],
)
def test_the_demo_spreads_answers_over_calendar_months_across_year_ends(month, back, expected):
    from datetime import datetime
    from datetime import timezone

    from demo.seed import _months_before

    start = datetime(*month, 1, tzinfo=timezone.utc)
    assert _months_before(start, back) == datetime(*expected, 1, tzinfo=timezone.utc)
