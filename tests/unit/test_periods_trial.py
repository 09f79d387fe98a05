from datetime import UTC, date, datetime, timedelta

import pytest

from atlas_cli.domain.periods import (
    PeriodKind,
    SubscriptionPeriod,
    Window,
    billing_period,
    calendar_month,
    date_range,
    history_buckets,
)
from atlas_cli.domain.trial import trial_state

NOW = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)


def test_calendar_month_is_half_open_and_wraps_the_year():
    assert calendar_month(NOW) == Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    dec = calendar_month(datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC))
    assert dec.end == datetime(2027, 1, 1, tzinfo=UTC)
    assert calendar_month(datetime(2026, 12, 1, tzinfo=UTC)).start == datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "start", "end", "expected_start"),
    [
        (
            "active",
            datetime(2026, 11, 5, tzinfo=UTC),
            datetime(2026, 12, 5, tzinfo=UTC),
            datetime(2026, 11, 5, tzinfo=UTC),
        ),
        (
            "trialing",
            datetime(2026, 11, 5, tzinfo=UTC),
            datetime(2026, 12, 5, tzinfo=UTC),
            datetime(2026, 11, 5, tzinfo=UTC),
        ),
        (
            "canceled",
            datetime(2026, 11, 5, tzinfo=UTC),
            datetime(2026, 12, 5, tzinfo=UTC),
            datetime(2026, 11, 1, tzinfo=UTC),
        ),
        (
            "active",
            datetime(2026, 10, 5, tzinfo=UTC),
            datetime(2026, 11, 22, 15, 30, tzinfo=UTC),
            datetime(2026, 11, 1, tzinfo=UTC),
        ),
        ("active", NOW, NOW + timedelta(days=30), NOW),
        ("active", None, None, datetime(2026, 11, 1, tzinfo=UTC)),
    ],
)
def test_billing_period_uses_a_subscription_that_holds_now(status, start, end, expected_start):
    assert billing_period(NOW, SubscriptionPeriod(status, start, end)).start == expected_start


def test_history_buckets_newest_first_and_limited():
    daily = history_buckets(PeriodKind.DAILY, now=NOW, start=None, end=None, limit=3)
    assert [b.start.day for b in daily] == [22, 21, 20]
    monthly = history_buckets(PeriodKind.MONTHLY, now=NOW, start=date(2026, 1, 15), end=None, limit=90)
    assert len(monthly) == 11 and monthly[-1].start == datetime(2026, 1, 1, tzinfo=UTC)
    ranged = history_buckets(PeriodKind.DAILY, now=NOW, start=date(2026, 2, 27), end=date(2026, 3, 1), limit=90)
    assert [b.start.date() for b in ranged] == [date(2026, 3, 1), date(2026, 2, 28), date(2026, 2, 27)]


def test_date_range_includes_the_end_day():
    window = date_range(date(2026, 11, 1), date(2026, 11, 1), calendar_month(NOW))
    assert window.end - window.start == timedelta(days=1)


@pytest.mark.parametrize(
    ("created_ago", "ends_in", "expired", "days_left"),
    [
        (timedelta(days=14), None, False, 0),  # exactly 14 days: not yet expired
        (timedelta(days=14, microseconds=1), None, True, 0),
        (timedelta(days=13, hours=23), None, False, 1),
        (timedelta(days=1), None, False, 13),
        (timedelta(days=100), timedelta(days=3), False, 3),  # trial_ends_at wins over createdAt
        (timedelta(days=1), timedelta(seconds=-1), True, 0),
        (timedelta(days=1), timedelta(0), False, 0),  # ends now: not yet past
    ],
)
def test_trial_expiry_boundaries(created_ago, ends_in, expired, days_left):
    ends_at = NOW + ends_in if ends_in is not None else None
    state = trial_state(NOW, ends_at, NOW - created_ago)
    assert (state.expired, state.days_left) == (expired, days_left)
