"""Credits arithmetic at every boundary (DESIGN 4c, Credits)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from atlas_cli.domain.credits import (
    Allocation,
    Cost,
    CreditError,
    Draw,
    Grant,
    available,
    burn_order,
    credit,
    deduct,
    parse_allocation,
    parse_cost,
    period_containing,
    void,
)

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def grant(
    gid: str,
    remaining: int,
    *,
    priority: int = 10,
    effective: datetime = T0 - timedelta(days=1),
    expires: datetime | None = None,
    created: datetime = T0 - timedelta(days=1),
    amount: int | None = None,
) -> Grant:
    return Grant(gid, remaining if amount is None else amount, remaining, priority, effective, expires, created)


@pytest.mark.parametrize(
    ("quantity", "cost", "expected"),
    [
        (1, Cost(1), 1),
        (5, Cost(3), 15),
        (1, Cost(1, 1000), 1),  # ceil(0.001)
        (1000, Cost(1, 1000), 1),
        (1001, Cost(1, 1000), 2),
        (2000, Cost(1, 1000), 2),
        (999, Cost(2, 1000), 2),
        (0, Cost(5), 0),
        (-3, Cost(5), 0),
        (3, Cost(0), 0),
        (10**12, Cost(7, 3), 2333333333334),  # no float anywhere
    ],
)
def test_cost_is_the_ceiling_in_integers(quantity: int, cost: Cost, expected: int) -> None:
    assert cost.of(quantity) == expected


def test_parse_cost_accepts_a_number_or_a_rate_and_refuses_the_rest() -> None:
    assert parse_cost(2, "x") == Cost(2)
    assert parse_cost({"credits": 1, "per": 1000}, "x") == Cost(1, 1000)
    assert parse_cost({"credits": 3}, "x") == Cost(3)
    for bad in (-1, 1.5, True, "1", {"credits": 1, "per": 0}, {"per": 2}, {"credits": 1, "each": 2}):
        with pytest.raises(CreditError):
            parse_cost(bad, "costs.token")


def test_parse_allocation() -> None:
    assert parse_allocation({"allocation": 1000}, "x") == Allocation(1000, "month")
    assert parse_allocation({"allocation": 0, "period": "week"}, "x") == Allocation(0, "week")
    for bad in (
        {"allocation": -1},
        {"period": "month"},
        {"allocation": 5, "period": "fortnight"},
        5,
        {"allocation": 1.0},
    ):
        with pytest.raises(CreditError):
            parse_allocation(bad, "plans.team.ai")


@pytest.mark.parametrize(
    ("period", "moment", "start", "end"),
    [
        ("month", datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
        (
            "month",
            datetime(2026, 2, 28, 23, 59, 59, 999999, tzinfo=UTC),
            datetime(2026, 2, 1, tzinfo=UTC),
            datetime(2026, 3, 1, tzinfo=UTC),
        ),
        (
            "month",
            datetime(2026, 12, 31, 23, tzinfo=UTC),
            datetime(2026, 12, 1, tzinfo=UTC),
            datetime(2027, 1, 1, tzinfo=UTC),
        ),
        (
            "day",
            datetime(2026, 3, 10, tzinfo=UTC),
            datetime(2026, 3, 10, tzinfo=UTC),
            datetime(2026, 3, 11, tzinfo=UTC),
        ),
        ("week", datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 16, tzinfo=UTC)),
        (
            "week",
            datetime(2026, 3, 15, 23, tzinfo=UTC),
            datetime(2026, 3, 9, tzinfo=UTC),
            datetime(2026, 3, 16, tzinfo=UTC),
        ),
        ("year", datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)),
    ],
)
def test_the_first_instant_belongs_to_the_new_period(
    period: str, moment: datetime, start: datetime, end: datetime
) -> None:
    assert period_containing(period, moment) == (start, end)


def test_a_period_in_another_zone_is_the_utc_one() -> None:
    from datetime import timezone

    local = datetime(2026, 3, 1, 0, 30, tzinfo=timezone(timedelta(hours=2)))  # 2026-02-28 22:30 UTC
    assert period_containing("month", local)[0] == datetime(2026, 2, 1, tzinfo=UTC)
    with pytest.raises(CreditError):
        period_containing("quarter", T0)


def test_burn_order_priority_then_earliest_expiry_then_none_last_then_oldest() -> None:
    soon, later = T0 + timedelta(days=1), T0 + timedelta(days=5)
    grants = [
        grant("no-expiry-old", 1, created=T0 - timedelta(days=9)),
        grant("later", 1, expires=later),
        grant("soon", 1, expires=soon),
        grant("priority-1", 1, priority=1),
        grant("no-expiry-new", 1, created=T0 - timedelta(days=2)),
        grant("soon-older", 1, expires=soon, created=T0 - timedelta(days=3)),
    ]
    assert [g.id for g in burn_order(grants)] == [
        "priority-1",
        "soon-older",
        "soon",
        "later",
        "no-expiry-old",
        "no-expiry-new",
    ]


def test_deduct_spreads_in_burn_order_and_never_makes_a_grant_negative() -> None:
    grants = [grant("b", 5, priority=2), grant("a", 3, priority=1)]
    result = deduct(grants, 6, T0)
    assert result.draws == (Draw("a", 3), Draw("b", 3))
    assert {g.id: g.remaining for g in result.grants} == {"b": 2, "a": 0}
    assert result.shortfall == 0


def test_the_shortfall_is_overage() -> None:
    result = deduct([grant("a", 3)], 10, T0)
    assert result.draws == (Draw("a", 3), Draw(None, 7))
    assert result.grants[0].remaining == 0
    assert result.shortfall == 7


def test_no_grant_means_all_overage_and_zero_cost_draws_nothing() -> None:
    assert deduct([], 4, T0).draws == (Draw(None, 4),)
    assert deduct([grant("a", 3)], 0, T0).draws == ()


def test_effective_is_inclusive_relative_to_the_event_time() -> None:
    g = grant("a", 5, effective=T0)
    assert deduct([g], 1, T0).draws == (Draw("a", 1),)
    assert deduct([g], 1, T0 - timedelta(microseconds=1)).draws == (Draw(None, 1),)


def test_expiry_is_exclusive_relative_to_the_event_time() -> None:
    g = grant("a", 5, expires=T0)
    assert deduct([g], 1, T0 - timedelta(microseconds=1)).draws == (Draw("a", 1),)
    assert deduct([g], 1, T0).draws == (Draw(None, 1),)
    assert g.expired_at(T0) and not g.expired_at(T0 - timedelta(microseconds=1))


def test_an_event_draws_on_a_grant_that_has_expired_since_it_happened() -> None:
    late_event = T0 - timedelta(hours=1)
    g = grant("a", 5, expires=T0)
    assert deduct([g], 2, late_event).draws == (Draw("a", 2),)


@pytest.mark.parametrize(
    ("amount", "overage", "paid", "kept"),
    [(1000, 0, 0, 1000), (1000, 300, 300, 700), (1000, 1000, 1000, 0), (1000, 1500, 1000, 0), (0, 5, 0, 0)],
)
def test_an_allocation_pays_overage_first(amount: int, overage: int, paid: int, kept: int) -> None:
    result = credit(amount, overage)
    assert (result.pays_overage, result.kept) == (paid, kept)


def test_void_removes_only_the_remaining() -> None:
    assert void(grant("a", 40, amount=100)) == 40
    assert void(grant("a", 0, amount=100)) == 0


def test_available_counts_grants_usable_now_minus_overage() -> None:
    grants = [grant("a", 5), grant("future", 7, effective=T0 + timedelta(seconds=1)), grant("gone", 9, expires=T0)]
    assert available(grants, 0, T0) == 5
    assert available(grants, 8, T0) == -3


def _draw_all(grants: list[Grant], charges: list[tuple[datetime, int]]) -> dict[str | None, int]:
    """Each charge in turn through the domain's `deduct`, grants' remaining updated between them."""
    left = {g.id: g.remaining for g in grants}
    drawn: dict[str | None, int] = {}
    for at, cost in charges:
        current = [
            Grant(g.id, g.amount, left[g.id], g.priority, g.effective_at, g.expires_at, g.created_at) for g in grants
        ]
        current = [g for g in current if g.remaining]
        for draw in deduct(current, cost, at).draws:
            drawn[draw.grant_id] = drawn.get(draw.grant_id, 0) + draw.amount
            if draw.grant_id is not None:
                left[draw.grant_id] -= draw.amount
    return drawn


def test_charges_summed_per_interval_draw_what_each_charge_in_turn_draws() -> None:
    from atlas_cli.services.credit_book import _by_interval

    us = timedelta(microseconds=1)
    grants = [
        grant("early", 7, priority=1, expires=T0 + timedelta(hours=1)),
        grant("later", 9, priority=2, effective=T0 + timedelta(minutes=30)),
        grant("base", 4, priority=3),
    ]
    edges = [T0 + timedelta(minutes=30), T0 + timedelta(hours=1)]
    times = sorted({T0, *(e + d for e in edges for d in (-us, timedelta(0), us)), T0 + timedelta(hours=2)})
    charges = [(at, f"e{n}", 1 + n % 3) for n, at in enumerate(times)]
    merged = _by_interval(burn_order(grants), charges)
    # an event at an effective instant or an expiry starts a new interval; one before stays in the old
    assert [at for at, _cost in merged] == [T0, edges[0], edges[1]]
    assert sum(cost for _at, cost in merged) == sum(cost for _at, _e, cost in charges)
    assert _draw_all(grants, merged) == _draw_all(grants, [(at, cost) for at, _e, cost in charges])
