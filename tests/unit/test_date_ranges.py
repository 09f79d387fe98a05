"""History buckets never reach before the workspace's usage; dates in and out of range."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from atlas_cli.domain.periods import PeriodKind, history_buckets, iso_millis
from atlas_cli.errors import BadInput
from atlas_cli.services.inputs import parse_date

NOW = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)
MONTHLY, DAILY = PeriodKind.MONTHLY, PeriodKind.DAILY


def starts(kind: PeriodKind, **kwargs: object) -> list[str]:
    return [b.start.date().isoformat() for b in history_buckets(kind, now=NOW, **kwargs)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "start", "end", "limit", "floor", "expected"),
    [
        (
            MONTHLY,
            None,
            None,
            90,
            datetime(2026, 9, 30, 23, 59, tzinfo=UTC),
            ["2026-11-01", "2026-10-01", "2026-09-01"],
        ),
        (MONTHLY, date(2019, 1, 1), None, 90, datetime(2026, 11, 1, tzinfo=UTC), ["2026-11-01"]),
        (MONTHLY, date(2026, 10, 15), None, 90, datetime(2026, 1, 1, tzinfo=UTC), ["2026-11-01", "2026-10-01"]),
        (MONTHLY, None, None, 2, datetime(2020, 1, 1, tzinfo=UTC), ["2026-11-01", "2026-10-01"]),
        (MONTHLY, None, date(2026, 8, 31), 90, datetime(2026, 9, 1, tzinfo=UTC), []),
        (DAILY, None, None, 90, datetime(2026, 11, 20, 23, tzinfo=UTC), ["2026-11-22", "2026-11-21", "2026-11-20"]),
        (DAILY, None, None, 3, None, ["2026-11-22", "2026-11-21", "2026-11-20"]),
    ],
)
def test_history_buckets_stop_at_the_floor(kind, start, end, limit, floor, expected) -> None:
    assert starts(kind, start=start, end=end, limit=limit, floor=floor) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1970-01-01", date(1970, 1, 1)),
        ("9998-12-31", date(9998, 12, 31)),
        ("2026-11-22T23:30:00-05:00", date(2026, 11, 22)),
        ("", None),
    ],
)
def test_dates_in_range(text: str, expected: date | None) -> None:
    assert parse_date(text, "--start", now=NOW) == expected


@pytest.mark.parametrize("text", ["1969-12-31", "0202-01-01", "0001-01-01T00:00:00+05:00", "9999-01-01", "9999-12-31"])
def test_dates_out_of_range(text: str) -> None:
    with pytest.raises(BadInput, match="out of range"):
        parse_date(text, "--since", now=NOW)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(202, 3, 4, 5, 6, 7, 8999, tzinfo=UTC), "0202-03-04T05:06:07.008Z"),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00.000Z"),
        (datetime(2026, 11, 22, 15, 30, tzinfo=UTC), "2026-11-22T15:30:00.000Z"),
        (datetime(2026, 11, 22, 15, 30), "2026-11-22T15:30:00.000Z"),  # naive: already UTC
    ],
)
def test_iso_times_have_four_digit_years(moment: datetime, expected: str) -> None:
    assert iso_millis(moment) == expected
