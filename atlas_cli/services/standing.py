"""Where a workspace stands now, in its billing model: the facts the engine decides from, every
metered feature against its limit, the resource counts, the decision, the period and trial."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection

from atlas_cli.db.layout import meter_totals
from atlas_cli.domain import engine
from atlas_cli.domain.forecast import DimensionForecast, forecast
from atlas_cli.domain.periods import Window
from atlas_cli.domain.trial import TrialState
from atlas_cli.services.models import Subscription, Workspace
from atlas_cli.services.workspaces import period_of, shown_subscription, subscriptions, trial_of

if TYPE_CHECKING:
    from atlas_cli.db.layout import Billing
    from atlas_cli.domain.catalog import Catalog, Plan


@dataclass(frozen=True)
class Standing:
    """Where a workspace stands in its billing period: its plan, facts and metrics."""

    workspace: Workspace
    catalog: Catalog
    plan: Plan | None
    period: Window
    period_source: str  # "stripe" (a subscription's period) or "utc-month"
    facts: engine.Facts
    metrics: tuple[engine.MetricCheck, ...]  # every metered feature of the plan, enforced or not
    counts: Mapping[str, int]
    decision: engine.Decision
    trial: TrialState | None
    subscription: Subscription | None
    forecast: tuple[DimensionForecast, ...] = ()  # at the period's rate so far

    @property
    def ceiling(self) -> engine.Ceiling:
        policy = self.catalog.policy.ceiling
        return engine.resolve_ceiling(policy, self.facts.spend_policy, self.facts.abuse_ceiling)

    def usage(self, feature: str) -> Any:
        """The feature's usage this period (0 when unmeasured)."""
        return (self.facts.usage or {}).get(feature, 0)

    @property
    def queries(self) -> Any:
        return self.usage("queries")

    @property
    def tokens(self) -> Any:
        return self.usage("tokens")

    @property
    def active_users(self) -> int:
        return int((self.facts.usage or {}).get("active_users", 0))

    def metric(self, feature: str) -> engine.MetricCheck | None:
        name = self.catalog.features[feature].metric
        return next((m for m in self.metrics if m.metric == name), None)


@dataclass(frozen=True)
class WatchSnapshot:
    """Where each watched workspace stood at `at` (`usage watch`)."""

    at: datetime
    standings: tuple[Standing, ...]


def standing(conn: Connection, billing: Billing, ws: Workspace, now: datetime) -> Standing:
    """Where `ws` stands now. Unlike the check, unreadable usage is an error here, not a warning."""
    plan = billing.catalog.plan(ws.tier_value)
    subs = subscriptions(conn, ws)
    window, source = period_of(billing, subs, now)
    counts = billing.layout.counts(conn, ws.id, now)
    usage = meter_totals(conn, billing.layout, ws.id, window, meters_of(billing.catalog))
    spend_policy, abuse_ceiling = _ceiling_settings(conn, billing, ws)
    trial = trial_of(ws, now)
    facts = engine.Facts(
        byot=ws.byot,
        trial_expired=bool(trial and trial.expired),
        seats=counts["members"],
        usage=usage,
        spend_policy=spend_policy,
        abuse_ceiling=abuse_ceiling,
    )
    metrics = engine.measurements(billing.catalog, plan, facts) if plan is not None else ()
    decision = engine.decide(billing.catalog, plan, facts)
    return Standing(
        ws,
        billing.catalog,
        plan,
        window,
        source,
        facts,
        metrics,
        counts,
        decision,
        trial,
        shown_subscription(subs, now),
        forecast(billing.catalog, plan, facts, window, now),
    )


def meters_of(catalog: Catalog) -> dict[str, Any]:
    return {f.key: f.meter for f in catalog.of_kind("metered") if f.meter is not None}


def measure_facts(
    conn: Connection, billing: Billing, ws: Workspace, plan: Plan | None, now: datetime, *, recompute: bool = False
) -> engine.Facts:
    """What the engine needs to decide for `ws`: trial, seats, usage in the billing period and the
    spend settings. Seats or usage that cannot be read are None (the catalog's order decides).
    The usage's closed days come from the daily rollup where it is fresh, as `billing check --all`
    reads them (`db.usage_days`); `recompute`: all from the raw events."""
    return measure_facts_in_period(conn, billing, ws, plan, now, recompute=recompute)[0]


def measure_facts_in_period(
    conn: Connection,
    billing: Billing,
    ws: Workspace,
    plan: Plan | None,
    now: datetime,
    *,
    usage: bool = True,
    recompute: bool = False,
) -> tuple[engine.Facts, Window | None]:
    """`measure_facts`, and the billing period (None: it could not be read), so a caller that needs
    the period does not read the subscriptions again. `usage=False` leaves the usage unmeasured
    (None): enough for the workspace's own blocks, which never depend on usage."""
    from sqlalchemy.exc import DBAPIError

    trial = trial_of(ws, now)
    seats: int | None
    try:
        with conn.begin_nested():
            seats = billing.layout.counts(conn, ws.id, now)["members"]
    except DBAPIError:
        seats = None
    used: dict[str, Any] | None = None
    window: Window | None = None
    try:
        with conn.begin_nested():
            window, _source = period_of(billing, subscriptions(conn, ws), now)
            if usage:
                from atlas_cli.db.usage_days import meter_sums  # builds the rollup's tables: only when measured

                meters = meters_of(billing.catalog)
                used = meter_sums(conn, billing.layout, {ws.id: window}, meters, now, recompute=recompute)[ws.id]
    except DBAPIError:
        used = None
    spend_policy, abuse_ceiling = _ceiling_settings(conn, billing, ws)
    facts = engine.Facts(
        byot=ws.byot,
        trial_expired=bool(trial and trial.expired),
        seats=seats,
        usage=used,
        spend_policy=spend_policy,
        abuse_ceiling=abuse_ceiling,
    )
    return facts, window


def _ceiling_settings(conn: Connection, billing: Billing, ws: Workspace) -> tuple[str | None, str | None]:
    """The spend policy and abuse ceiling: the workspace's settings row, the platform's, else the
    environment (DESIGN 4b)."""
    keys = ceiling_keys(billing)
    if not keys:
        return None, None
    return ceiling_values(billing, billing.layout.settings(conn, ws.id, keys))


def ceiling_keys(billing: Billing) -> list[str]:
    """The settings the catalog's ceiling policy reads (none without a policy)."""
    policy = billing.catalog.policy.ceiling
    return [] if policy is None else [policy.policy_setting, policy.ceiling_setting]


def ceiling_values(billing: Billing, found: Mapping[str, str | None]) -> tuple[str | None, str | None]:
    """The spend policy and abuse ceiling from the settings rows `found`, else the environment."""
    import os

    keys = ceiling_keys(billing)
    if not keys:
        return None, None
    values = [found.get(key) if found.get(key) is not None else os.environ.get(key) for key in keys]
    return values[0], values[1]
