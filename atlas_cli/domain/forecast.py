"""When each metered dimension reaches its bands, at the current period's rate. Pure: no I/O.

The rate is the usage so far over the time elapsed since the period began. A band is reached
when the rounded percent reaches it (as the engine decides: 79.5 % is 80 %), so the amount that
reaches a band of `p` % is `limit x (2p - 1) / 200`. Each moment is the first whole second at
which that amount is used, at the rate; None when the band is already reached, the rate is zero,
or the period ends first. The bands come from the catalog: `warning`; the limit (the band of the
catalog's limit status: soft_limit, metered, ...); `hard_limit` (a fixed percent, or the ceiling
the spend policy resolves, or none).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from atlas_cli.domain import engine
from atlas_cli.domain.catalog import Catalog, Feature, Plan
from atlas_cli.domain.periods import Window, utc

# Which forecast each band status feeds; any other status is the limit itself.
ROLES = {"warning": "warning", "hard_limit": "hard_limit"}
ROLE_ORDER = ("warning", "limit", "hard_limit")


@dataclass(frozen=True)
class Crossing:
    """When a metered feature's usage reaches one of its bands at the current rate."""

    role: str  # warning, limit or hard_limit
    percent: int  # the band's threshold
    at: datetime | None  # when it is reached at the current rate (None: see the module)
    reached: bool  # already reached now


@dataclass(frozen=True)
class DimensionForecast:
    """A metered feature's usage, rate and band crossings this period."""

    metric: str
    current_usage: int | Decimal
    limit: int | Decimal
    rate_per_day: Decimal  # usage per day so far this period
    crossings: tuple[Crossing, ...]  # in ROLE_ORDER, only the bands the feature has

    def at(self, role: str) -> datetime | None:
        return next((c.at for c in self.crossings if c.role == role), None)


def forecast(
    catalog: Catalog, plan: Plan | None, facts: engine.Facts, period: Window, now: datetime
) -> tuple[DimensionForecast, ...]:
    """The forecast of every enforced metered dimension of the plan with a positive limit."""
    if plan is None or not plan.enforced:
        return ()
    ceiling = engine.resolve_ceiling(catalog.policy.ceiling, facts.spend_policy, facts.abuse_ceiling)
    features = [f for f in catalog.of_kind("metered") if f.key in plan.values]
    found = []
    for feature, metric in zip(features, engine.measurements(catalog, plan, facts), strict=True):
        if not metric.enforced or metric.limit is None or metric.limit <= 0:
            continue
        found.append(_dimension(feature, metric, ceiling, period, now))
    return tuple(found)


def _dimension(
    feature: Feature, metric: engine.MetricCheck, ceiling: engine.Ceiling, period: Window, now: datetime
) -> DimensionForecast:
    assert metric.limit is not None
    usage, limit = Decimal(metric.current_usage), Decimal(metric.limit)
    now, start, end = utc(now), utc(period.start), utc(period.end)
    elapsed = Decimal(max(0, math.floor((now - start).total_seconds())))
    step = Decimal("0.000001") if feature.unit == "usd" else Decimal("0.01")
    rate_per_day = (usage * 86_400 / elapsed).quantize(step, ROUND_HALF_UP) if elapsed > 0 else Decimal(0)
    crossings = []
    for role, percent in _bands(feature, ceiling):
        target = limit * (2 * percent - 1) / 200
        reached = usage >= target
        at = None
        if not reached and usage > 0 and elapsed > 0:
            seconds = math.ceil(elapsed * (target - usage) / usage)
            if seconds < (end - now).total_seconds():
                at = now + timedelta(seconds=seconds)
        crossings.append(Crossing(role, percent, at, reached))
    return DimensionForecast(metric.metric, metric.current_usage, metric.limit, rate_per_day, tuple(crossings))


def _bands(feature: Feature, ceiling: engine.Ceiling) -> list[tuple[str, int]]:
    """(role, percent) of each band the feature has, in ROLE_ORDER; a ceiling band without a ceiling has none."""
    found: dict[str, int] = {}
    for band in feature.bands:
        percent = band.percent if band.percent is not None else ceiling.percent
        if percent is None or percent <= 0:
            continue
        found.setdefault(ROLES.get(band.status, "limit"), percent)
    return [(role, found[role]) for role in ROLE_ORDER if role in found]
