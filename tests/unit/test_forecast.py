"""The forecast on fixed clocks: when each metered dimension reaches warning, its limit and the
hard limit at the period's rate so far; none when the rate is zero or the period ends first."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from atlas_cli.catalogs import builtin
from atlas_cli.domain.engine import Facts
from atlas_cli.domain.forecast import forecast
from atlas_cli.domain.periods import Window

PERIOD = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
TEN_DAYS_IN = datetime(2026, 11, 11, tzinfo=UTC)


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def classic(usage: dict, now: datetime = TEN_DAYS_IN, *, tier: str = "team", byot: bool = False):
    catalog = builtin("classic")
    return forecast(catalog, catalog.plan(tier), Facts(byot=byot, usage=usage), PERIOD, now)


def by_role(dimension) -> dict:
    return {c.role: (c.percent, c.at, c.reached) for c in dimension.crossings}


def test_each_band_at_the_rate_so_far():
    queries, tokens = classic({"queries": 4_000, "tokens": 0})
    assert (queries.metric, queries.rate_per_day) == ("queries", Decimal("400.00"))
    # 7,950 rounds to 80 %: 3,950 more at 400 a day is 9.875 days
    assert by_role(queries) == {
        "warning": (80, at(20, 21), False),
        "limit": (100, at(25, 21), False),
        "hard_limit": (110, at(28, 9), False),
    }
    assert tokens.rate_per_day == 0 and {c.at for c in tokens.crossings} == {None}  # no rate: no forecast


def test_bands_already_reached_have_no_moment():
    (queries, _tokens) = classic({"queries": 8_000, "tokens": 0})
    assert by_role(queries) == {
        "warning": (80, None, True),
        "limit": (100, at(13, 10, 30), False),
        "hard_limit": (110, at(14, 16, 30), False),
    }


def test_the_period_ending_first_means_none():
    (queries, _tokens) = classic({"queries": 2_000, "tokens": 0})  # 200 a day: 7,950 only on Dec 10
    assert [c.at for c in queries.crossings] == [None, None, None]
    assert not any(c.reached for c in queries.crossings)


def test_the_first_instant_of_the_period_has_no_rate():
    (queries, _tokens) = classic({"queries": 50, "tokens": 0}, now=PERIOD.start)
    assert queries.rate_per_day == 0 and [c.at for c in queries.crossings] == [None, None, None]


def test_unlimited_unenforced_and_blocked_plans():
    assert classic({"queries": 9_000, "tokens": 9_000_000}, tier="enterprise") == ()
    assert classic({"queries": 9_000, "tokens": 9_000_000}, tier="free") == ()
    assert [d.metric for d in classic({"queries": 1, "tokens": 1}, byot=True)] == ["queries"]  # tokens not enforced
    assert classic({"queries": 1, "tokens": 1}, tier="locked") == ()  # a limit of 0: nothing to reach


@pytest.mark.parametrize(
    ("policy", "ceiling", "hard"),
    [
        (None, None, None),  # default ceiling 500 %: $199.80 only after the period
        ("cutoff", None, (100, at(20, 21, 36), False)),  # the ceiling is the credit
        (None, "0", "absent"),  # no ceiling: never hard
        (None, "120", (120, at(24, 21, 36), False)),  # $47.80
    ],
)
def test_per_seat_credit_and_ceiling(policy, ceiling, hard):
    catalog = builtin("per-seat")
    facts = Facts(seats=2, usage={"usd": Decimal("20"), "tokens": 5, "queries": 1}, spend_policy=policy,
                  abuse_ceiling=ceiling)  # fmt: skip
    (usd,) = forecast(catalog, catalog.plan("pro"), facts, PERIOD, TEN_DAYS_IN)  # tokens, queries: shown only
    assert (usd.metric, usd.limit, usd.rate_per_day) == ("usd", 40, Decimal("2.000000"))
    found = by_role(usd)
    assert found["warning"] == (80, at(16, 21, 36), False)  # $31.80 rounds to 80 % of $40
    assert found["limit"] == (100, at(20, 21, 36), False)  # $39.80
    if hard == "absent":
        assert "hard_limit" not in found
    else:
        expected = hard or (500, None, False)
        assert found["hard_limit"] == expected
