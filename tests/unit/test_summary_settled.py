"""When a stored summary is served as it is (DESIGN 4a, History): the boundaries of `settled`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from atlas_cli.domain.periods import SUMMARY_GRACE, Window, settled

DAY = Window(datetime(2026, 11, 10, tzinfo=UTC), datetime(2026, 11, 11, tzinfo=UTC))
LATER = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)
us = timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("computed_at", "now", "marked", "expected"),
    [
        (DAY.end + SUMMARY_GRACE, LATER, False, True),  # exactly the grace after the close
        (DAY.end + SUMMARY_GRACE - us, LATER, False, False),  # just inside the grace
        (DAY.end - us, LATER, False, False),  # computed before the period closed
        (LATER, LATER, False, True),
        (LATER, LATER, True, False),  # atlas wrote a late event into it since
        (None, LATER, False, False),  # never computed (or not stored)
        (DAY.end + SUMMARY_GRACE, DAY.end - us, False, False),  # the period is current for this reader
        (datetime(2026, 11, 11, 3, tzinfo=timezone(timedelta(hours=2))), LATER, False, True),  # 01:00 UTC
        (datetime(2026, 11, 11, 2, 59, tzinfo=timezone(timedelta(hours=2))), LATER, False, False),
    ],
)
def test_settled(computed_at: datetime | None, now: datetime, marked: bool, expected: bool) -> None:
    assert settled(DAY, computed_at, now, marked=marked) is expected


def test_the_grace_is_one_hour() -> None:
    assert timedelta(hours=1) == SUMMARY_GRACE
