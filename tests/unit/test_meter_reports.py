"""The pure rules of billing in arrears: `--period`, the previous period, event timestamps,
Stripe's 35-day window, what to do with a row, and deterministic identifiers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from atlas_cli.domain import meter_reports as rules
from atlas_cli.domain.periods import Window

NOW = datetime(2026, 11, 22, 15, 30, 12, 345678, tzinfo=UTC)
NOV = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
OCT = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, rules.PeriodChoice()),
        ("current", rules.PeriodChoice(current_only=True)),
        (" Current ", rules.PeriodChoice(current_only=True)),
        ("2026-10-15", rules.PeriodChoice(day=date(2026, 10, 15))),
    ],
)
def test_period_choices(text, expected):
    assert rules.parse_period(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1m", date(2026, 10, 22)),
        ("yesterday", date(2026, 11, 21)),
        ("2026-10-15", date(2026, 10, 15)),
        ("current", None),
    ],
)
def test_period_days_may_be_relative(text, expected):
    choice = rules.parse_period(text, now=datetime(2026, 11, 22, 15, 30, tzinfo=UTC))
    assert choice.day == expected and choice.current_only is (expected is None)


@pytest.mark.parametrize("text", ["", "previous", "2026-13-01", "15/10/2026", "7x"])
def test_other_periods_are_refused(text):
    with pytest.raises(ValueError, match="neither 'current' nor a date"):
        rules.parse_period(text)


def test_only_no_option_is_the_default():
    assert rules.PeriodChoice().default
    assert not rules.PeriodChoice(current_only=True).default and not rules.PeriodChoice(day=date(2026, 1, 1)).default


def test_the_previous_period_is_cut_at_the_current_start():
    current = Window(datetime(2026, 11, 10, tzinfo=UTC), datetime(2026, 12, 10, tzinfo=UTC))
    assert rules.previous_window(current, NOV) == Window(NOV.start, current.start)
    assert rules.previous_window(NOV, OCT) == OCT  # adjacent: kept whole
    starting_together = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 5, tzinfo=UTC))
    assert rules.previous_window(starting_together, NOV) is None  # nothing before the current start


def test_an_open_period_is_stamped_now_to_the_second_and_a_closed_one_at_its_last_second():
    assert rules.event_timestamp(NOV, NOW) == datetime(2026, 11, 22, 15, 30, 12, tzinfo=UTC)
    assert rules.event_timestamp(OCT, NOW) == datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC)
    assert rules.event_timestamp(NOV, NOV.start) == NOV.start  # the period's first instant is inside it


def test_stripe_takes_timestamps_up_to_35_days_old():
    assert rules.sendable(NOW - timedelta(days=35), NOW)
    assert not rules.sendable(NOW - timedelta(days=35, microseconds=1), NOW)


@pytest.mark.parametrize(
    ("usage", "sent", "age_days", "expected"),
    [
        (10, 10, 0, rules.UNCHANGED),
        (0, 0, 400, rules.UNCHANGED),  # nothing to send is never too old
        (11, 10, 0, rules.SEND),
        (9, 10, 0, rules.OVER_REPORTED),
        (11, 10, 35, rules.SEND),
        (11, 10, 36, rules.TOO_OLD),
    ],
)
def test_outcome(usage, sent, age_days, expected):
    assert rules.outcome(usage, sent, NOW - timedelta(days=age_days), NOW) == expected


def test_identifiers_are_deterministic_distinct_and_short_enough_for_stripe():
    one = rules.identifier("acme", "reports", "atlas_reports", NOV.start, 12)
    assert one == rules.identifier("acme", "reports", "atlas_reports", NOV.start, 12)
    assert one.startswith("atlas_") and len(one) <= 100
    others = {
        rules.identifier("acme", "reports", "atlas_reports", NOV.start, 13),
        rules.identifier("globex", "reports", "atlas_reports", NOV.start, 12),
        rules.identifier("acme", "exports", "atlas_reports", NOV.start, 12),
        rules.identifier("acme", "reports", "atlas_other", NOV.start, 12),
        rules.identifier("acme", "reports", "atlas_reports", OCT.start, 12),
    }
    assert one not in others and len(others) == 5
    # the same instant in another zone is the same period start
    assert rules.identifier("a", "f", "m", NOV.start.astimezone(), 1) == rules.identifier("a", "f", "m", NOV.start, 1)
