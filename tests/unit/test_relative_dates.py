"""The one date vocabulary: ISO dates and times, today/yesterday, Nd/Nw/Nm, day bounds in a zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from atlas_cli.domain.dates import DateError, day_bounds, midnight, months_before, parse_day, zone_buckets
from atlas_cli.errors import BadInput
from atlas_cli.services.inputs import date_span

NOW = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")
TOKYO = ZoneInfo("Asia/Tokyo")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


@pytest.mark.parametrize(
    ("text", "now", "expected"),
    [
        ("today", NOW, date(2026, 11, 22)),
        ("TODAY", NOW, date(2026, 11, 22)),
        (" yesterday ", NOW, date(2026, 11, 21)),
        ("0d", NOW, date(2026, 11, 22)),
        ("7d", NOW, date(2026, 11, 15)),
        ("2w", NOW, date(2026, 11, 8)),
        ("3m", NOW, date(2026, 8, 22)),
        ("12m", NOW, date(2025, 11, 22)),
        ("yesterday", datetime(2026, 3, 1, tzinfo=UTC), date(2026, 2, 28)),
        ("yesterday", datetime(2024, 3, 1, tzinfo=UTC), date(2024, 2, 29)),  # leap year
        ("1d", datetime(2027, 1, 1, tzinfo=UTC), date(2026, 12, 31)),  # across the year
        ("1m", datetime(2026, 3, 31, tzinfo=UTC), date(2026, 2, 28)),  # month end clamps
        ("1m", datetime(2024, 3, 31, tzinfo=UTC), date(2024, 2, 29)),  # to a leap day
        ("12m", datetime(2024, 2, 29, tzinfo=UTC), date(2023, 2, 28)),  # from a leap day
        ("1m", datetime(2026, 1, 31, tzinfo=UTC), date(2025, 12, 31)),
        ("3m", datetime(2026, 5, 31, tzinfo=UTC), date(2026, 2, 28)),
        ("2026-02-28", NOW, date(2026, 2, 28)),
        ("2026-11-22T23:30:00-05:00", NOW, date(2026, 11, 22)),  # the date as written
        ("2026-11-22T01:00:00Z", NOW, date(2026, 11, 22)),
    ],
)
def test_days_in_utc(text: str, now: datetime, expected: date) -> None:
    assert parse_day(text, now=now) == expected


@pytest.mark.parametrize(
    ("zone", "now", "expected"),
    [
        (TOKYO, datetime(2026, 11, 22, 15, 30, tzinfo=UTC), date(2026, 11, 23)),  # already tomorrow there
        (LOS_ANGELES, datetime(2026, 11, 22, 5, 0, tzinfo=UTC), date(2026, 11, 21)),  # still yesterday there
        (PARIS, datetime(2026, 2, 28, 23, 30, tzinfo=UTC), date(2026, 3, 1)),
    ],
)
def test_today_is_the_date_in_the_zone(zone: ZoneInfo, now: datetime, expected: date) -> None:
    assert parse_day("today", now=now, zone=zone) == expected


@pytest.mark.parametrize("text", ["", "tomorrow", "7", "d", "-7d", "7y", "1.5d", "7 d", "2026-02-30", "2026-13-01"])
def test_what_is_not_a_date(text: str) -> None:
    with pytest.raises(DateError, match="is not a date; use YYYY-MM-DD, today, yesterday"):
        parse_day(text, now=NOW)


@pytest.mark.parametrize("text", ["999999d", "99999w", "999999m", "1969-12-31", "9999-01-01"])
def test_out_of_range(text: str) -> None:
    with pytest.raises(DateError, match="out of range"):
        parse_day(text, now=NOW)


def test_months_before_keeps_the_day_when_the_month_has_it() -> None:
    assert months_before(date(2026, 1, 15), 13) == date(2024, 12, 15)


def test_bad_span_names_the_option_on_one_line() -> None:
    with pytest.raises(BadInput) as info:
        date_span("7d", "soon", now=NOW)
    assert info.value.message.startswith("--end: 'soon' is not a date;") and "\n" not in info.value.message
    with pytest.raises(BadInput, match="--end 2026-11-01 is before --start 2026-11-15"):
        date_span("7d", "2026-11-01", now=NOW)


@pytest.mark.parametrize(
    ("day", "zone", "expected"),
    [
        (date(2026, 11, 22), UTC, datetime(2026, 11, 22, tzinfo=UTC)),
        (date(2026, 11, 22), PARIS, datetime(2026, 11, 21, 23, tzinfo=UTC)),
        (date(2026, 7, 1), PARIS, datetime(2026, 6, 30, 22, tzinfo=UTC)),  # summer time
        (date(2026, 3, 29), PARIS, datetime(2026, 3, 28, 23, tzinfo=UTC)),  # the day the clocks go forward
        (date(2026, 3, 30), PARIS, datetime(2026, 3, 29, 22, tzinfo=UTC)),
        # Sao Paulo skipped 00:00 on 2018-11-04: that day began at 01:00 local, 03:00 UTC
        (date(2018, 11, 4), ZoneInfo("America/Sao_Paulo"), datetime(2018, 11, 4, 3, tzinfo=UTC)),
    ],
)
def test_midnight_in_a_zone(day: date, zone: ZoneInfo, expected: datetime) -> None:
    assert midnight(day, zone) == expected


def test_day_bounds_are_half_open_and_a_dst_day_is_23_hours() -> None:
    lower, upper = day_bounds(date(2026, 3, 29), date(2026, 3, 29), PARIS)
    assert lower is not None and upper is not None
    assert (upper - lower).total_seconds() == 23 * 3600
    assert day_bounds(None, None) == (None, None)


def test_zone_buckets_are_the_zone_days_newest_first_and_stop_at_the_floor() -> None:
    buckets = zone_buckets(
        "daily",
        now=datetime(2026, 10, 26, 12, tzinfo=UTC),
        zone=PARIS,
        start=None,
        end=None,
        limit=5,
        floor=datetime(2026, 10, 23, 23, 30, tzinfo=UTC),  # the 24th in Paris
    )
    assert [day.isoformat() for day, _lower, _upper in buckets] == ["2026-10-26", "2026-10-25", "2026-10-24"]
    hours = [(upper - lower).total_seconds() / 3600 for _day, lower, upper in buckets]
    assert hours == [24, 25, 24]  # the clocks went back on the 25th


def test_zone_months_begin_at_the_zone_midnight() -> None:
    (month,) = zone_buckets("monthly", now=NOW, zone=TOKYO, start=None, end=None, limit=1)
    assert month == (date(2026, 11, 1), datetime(2026, 10, 31, 15, tzinfo=UTC), datetime(2026, 11, 30, 15, tzinfo=UTC))
