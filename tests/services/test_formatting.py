"""One date and number format, from ``ADVOCACY_LOCALE`` and ``ADVOCACY_DISPLAY_TIMEZONE``."""

from datetime import date
from datetime import datetime
from datetime import timezone

import pytest

from advocacy_portal.services.formatting import format_date
from advocacy_portal.services.formatting import format_datetime
from advocacy_portal.services.formatting import format_number


def test_dates_in_the_default_locale(app):
    with app.app_context():
        assert format_date(date(2026, 12, 2)) == "Dec 2, 2026"
        assert format_date(datetime(2026, 12, 2, 23, 30, tzinfo=timezone.utc)) == "Dec 2, 2026"
        assert format_datetime(datetime(2026, 12, 2, 16, 5)) == "Dec 2, 2026, 4:05\u202fPM"
        assert format_number(1234567) == "1,234,567"
        assert format_number(12.5, decimals=1) == "12.5"
        assert format_date(None) == format_datetime(None) == format_number(None) == "—"


@pytest.mark.settings(LOCALE="de_DE", DISPLAY_TIMEZONE="Europe/Berlin")
def test_locale_and_time_zone_are_settings(app):
    with app.app_context():
        # 23:30 UTC is already the next day in Berlin.
        assert format_date(datetime(2026, 12, 2, 23, 30, tzinfo=timezone.utc)) == "03.12.2026"
        assert format_datetime(datetime(2026, 12, 2, 16, 5, tzinfo=timezone.utc)) == "02.12.2026, 17:05"
        assert format_number(1234567) == "1.234.567"
