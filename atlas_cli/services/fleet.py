"""Every workspace at once: `billing check --all` (DESIGN 5, commands over many workspaces).

Each workspace is decided exactly as the single check decides it (the same engine, the same
facts); only the measuring is set-based: workspaces, subscriptions, resource counts, settings and
the usage of every meter are each read in a fixed number of statements per batch of workspaces,
never one per workspace. The meters' closed days come from the daily rollup where it is fresh
(`db.usage_days`), the rest of each window from the raw events, with the same numbers as the
single check, which reads them the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from atlas_cli.db import workspace_sets
from atlas_cli.db.database import Database
from atlas_cli.db.usage_days import meter_sums
from atlas_cli.domain import engine
from atlas_cli.domain.enforcement import FailOn
from atlas_cli.domain.forecast import DimensionForecast, forecast
from atlas_cli.domain.periods import Window
from atlas_cli.errors import ExitCode
from atlas_cli.services import Clock, inputs
from atlas_cli.services.models import CheckReport, Subscription, Workspace
from atlas_cli.services.standing import ceiling_keys, ceiling_values, meters_of
from atlas_cli.services.workspaces import period_of, trial_of

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from atlas_cli.db.layout import Billing

# The worst workspace's exit code is the fleet's: a hard limit first, then a required
# subscription, an expired trial, a failed check, a soft limit (or metered) and a warning.
SEVERITY_ORDER = (
    ExitCode.CHECK_HARD_LIMIT,
    ExitCode.CHECK_SUBSCRIPTION_REQUIRED,
    ExitCode.CHECK_TRIAL_EXPIRED,
    ExitCode.CHECK_FAILED,
    ExitCode.CHECK_SOFT_LIMIT,
    ExitCode.CHECK_WARNING,
    ExitCode.OK,
)


def fleet_exit_code(codes: list[int]) -> int:
    """The code of the worst workspace in SEVERITY_ORDER (0 for none)."""
    rank = min((SEVERITY_ORDER.index(ExitCode(code)) for code in codes), default=len(SEVERITY_ORDER) - 1)
    return int(SEVERITY_ORDER[rank])


def worst_percent(decision: engine.Decision) -> int | None:
    """The highest usage percent among the enforced metrics of a decision (None: none has a limit)."""
    return max((m.usage_percent for m in decision.metrics if m.enforced and m.usage_percent is not None), default=None)


@dataclass(frozen=True)
class FleetRow:
    """One workspace's check, with the period it was measured over."""

    report: CheckReport
    period: Window
    period_source: str
    forecast: tuple[DimensionForecast, ...] = ()  # at the period's rate so far


@dataclass(frozen=True)
class FleetReport:
    billing_model: str
    rows: tuple[FleetRow, ...]
    exit_code: int
    resource: str | None = None


@dataclass(frozen=True)
class Measured:
    """What was measured of every workspace, keyed by workspace id."""

    periods: Mapping[str, tuple[Window, str]]
    counts: Mapping[str, Mapping[str, int]] | None  # None: the counters could not be read
    usage: Mapping[str, Mapping[str, Any]] | None  # None: the usage could not be read
    settings: Mapping[str, Mapping[str, str | None]]


class FleetService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def check_all(
        self, *, fail_on: str | None = None, resource: str | None = None, recompute: bool = False
    ) -> FleetReport:
        """The single check of every workspace that is not deleted, by id, and the worst exit code.
        `recompute`: every meter from the raw events, none of the rollup.

        Raises:
            BadInput: unknown --fail-on or --resource value (for this billing model).
        """
        from atlas_cli.services.billing import resource_feature

        threshold = inputs.choice(FailOn, fail_on, "--fail-on").value if fail_on else None
        now = self._clock()
        with self._db.connect() as conn:
            billing = self._db.billing(conn)
            feature_key = resource_feature(billing, resource).key if resource is not None else None
            live = workspace_sets.live_workspaces(conn, billing.layout.organization)
            targets = [Workspace.from_row(row, billing.layout) for row in live]
            measured = measure(conn, billing, targets, now, counts_required=resource is not None, recompute=recompute)
        catalog = billing.catalog  # built once: the layout builds it on every access
        plans = {tier: catalog.plan(tier) for tier in {ws.tier_value for ws in targets}}
        facts = [facts_of(billing, ws, measured, now) for ws in targets]
        if resource is not None and feature_key is not None:
            decisions = decide_resources(billing, targets, facts, measured, resource, feature_key)
        else:
            decisions = [engine.decide(catalog, plans[ws.tier_value], f) for ws, f in zip(targets, facts, strict=True)]
        rows = []
        for ws, fact, d in zip(targets, facts, decisions, strict=True):
            window, source = measured.periods[ws.id]
            predicted = () if measured.usage is None else forecast(catalog, plans[ws.tier_value], fact, window, now)
            report = CheckReport(ws, d, engine.exit_code(d, threshold), resource)
            rows.append(FleetRow(report, window, source, predicted))
        code = fleet_exit_code([row.report.exit_code for row in rows])
        return FleetReport(billing.model, tuple(rows), code, resource)


def decide_resources(
    billing: Billing,
    targets: list[Workspace],
    facts: list[engine.Facts],
    measured: Measured,
    resource: str,
    resource_key: str,
) -> list[engine.Decision]:
    """The single check's `--resource` decision of each target (whether one more of `resource`,
    the catalog feature `resource_key`, may be added), from the fleet's measurements."""
    from atlas_cli.services.billing import RESOURCES

    assert measured.counts is not None  # counts_required: an unreadable count raised
    catalog = billing.catalog
    return [
        engine.decide_resource(
            catalog,
            catalog.plan(ws.tier_value),
            engine.Facts(byot=fact.byot, trial_expired=fact.trial_expired),
            resource_key,
            measured.counts[ws.id][RESOURCES[resource]],
        )
        for ws, fact in zip(targets, facts, strict=True)
    ]


def measure(
    conn: Connection,
    billing: Billing,
    targets: list[Workspace],
    now: datetime,
    *,
    counts_required: bool = False,
    recompute: bool = False,
) -> Measured:
    """Periods, resource counts, spend settings and usage of every target, each in a fixed number
    of statements per batch (usage: closed days from the rollup, the rest raw; `recompute`: all
    raw). As in the single check, counts (unless `counts_required`) or usage that cannot be
    read are None, for all, and the catalog's order decides; a period without readable
    subscriptions is the UTC month."""
    from sqlalchemy.exc import DBAPIError

    ids = [ws.id for ws in targets]
    if counts_required:
        counts: dict[str, dict[str, int]] | None = billing.layout.counts_many(conn, ids, now)
    else:
        try:
            with conn.begin_nested():
                counts = billing.layout.counts_many(conn, ids, now)
        except DBAPIError:
            counts = None
    usage: dict[str, dict[str, Any]] | None
    try:
        with conn.begin_nested():
            subs = workspace_sets.subscriptions_by_workspace(conn, ids)
            month = period_of(billing, [], now)  # every workspace without a subscription row: the same
            periods = {
                ws_id: period_of(billing, [Subscription.from_row(r) for r in rows], now) if rows else month
                for ws_id, rows in subs.items()
            }
            windows = {ws_id: window for ws_id, (window, _source) in periods.items()}
            usage = meter_sums(conn, billing.layout, windows, meters_of(billing.catalog), now, recompute=recompute)
    except DBAPIError:
        periods = {ws_id: period_of(billing, [], now) for ws_id in ids}
        usage = None
    keys = ceiling_keys(billing)
    settings = billing.layout.settings_many(conn, ids, keys) if keys else {ws_id: {} for ws_id in ids}
    return Measured(periods, counts, usage, settings)


def facts_of(billing: Billing, ws: Workspace, measured: Measured, now: datetime) -> engine.Facts:
    """The engine's facts for one workspace, from the fleet's measurements (as `measure_facts`)."""
    trial = trial_of(ws, now)
    spend_policy, abuse_ceiling = ceiling_values(billing, measured.settings[ws.id])
    return engine.Facts(
        byot=ws.byot,
        trial_expired=bool(trial and trial.expired),
        seats=measured.counts[ws.id]["members"] if measured.counts is not None else None,
        usage=measured.usage[ws.id] if measured.usage is not None else None,
        spend_policy=spend_policy,
        abuse_ceiling=abuse_ceiling,
    )
