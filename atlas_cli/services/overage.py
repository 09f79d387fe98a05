"""`billing overage`: the metered overage each workspace owes this billing period, beside what the
server's overage ledger says it has reported to Stripe (DESIGN 4b, Stripe; 4c, billing in arrears).

Read only: atlas never reports overage (the server does, and must never do it twice). The credit
and the meter come from the catalog: the metered feature whose limit is a dollar credit per seat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from atlas_cli.db import workspace_sets
from atlas_cli.db.database import Database
from atlas_cli.db.layout import meter_totals_by_workspace
from atlas_cli.domain import engine
from atlas_cli.domain.catalog import Catalog, Feature, Plan
from atlas_cli.domain.periods import Window
from atlas_cli.errors import BadInput, NotConfigured
from atlas_cli.services import Clock
from atlas_cli.services.models import Subscription, Workspace
from atlas_cli.services.workspaces import period_of, resolve

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from atlas_cli.db.layout import Billing


@dataclass(frozen=True)
class OverageRow:
    """One workspace's overage this period. `billed` False: nothing is owed whatever the cost (a
    tier without the credit, or usage that the catalog's order leaves unbilled, such as BYOT)."""

    workspace: Workspace
    seats: int
    cost_usd: Decimal | int
    credit_usd: Decimal | int
    overage_cents: int
    reported_cents: int
    period: Window
    period_source: str
    billed: bool

    @property
    def unreported_cents(self) -> int:
        """Owed minus reported: what the server has yet to send (negative: reported beyond it)."""
        return self.overage_cents - self.reported_cents


@dataclass(frozen=True)
class OverageReport:
    billing_model: str
    feature: str  # the catalog's credit feature
    rows: tuple[OverageRow, ...]


def credit_feature(catalog: Catalog) -> Feature | None:
    """The catalog's metered feature whose limit is a credit in dollars per seat, if it has one."""
    return next(
        (f for f in catalog.of_kind("metered") if f.per_seat and f.meter is not None and f.meter.sum == "cost"),
        None,
    )


def has_credit(plan: Plan | None, feature: Feature) -> bool:
    """Whether the plan gives the credit: a positive amount (unlimited or zero is no credit)."""
    if plan is None or not plan.enforced or feature.key not in plan.values:
        return False
    value = plan.value(feature.key)
    return not isinstance(value, bool) and value is not None and value > 0


class OverageService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def overage(self, workspace: str | None, *, all_workspaces: bool = False) -> OverageReport:
        """Per workspace: cost this period, the credit, the overage owed in cents, the cents the
        server's ledger reports for this period, and the difference.

        With `all_workspaces`, every workspace on a tier whose plan has the credit; a single
        workspace is shown whatever its tier (with zeros when it has no credit).

        Raises:
            BadInput: both a workspace and `all_workspaces`.
            NotConfigured: the database's billing model has no per-seat credit (no metered overage).
            NotFound: unknown workspace.
        """
        if all_workspaces and workspace:
            raise BadInput("give either --workspace or --all, not both")
        now = self._clock()
        with self._db.connect() as conn:
            billing = self._db.billing(conn)
            feature = credit_feature(billing.catalog)
            if feature is None:
                raise NotConfigured(
                    f"the {billing.model} billing model has no metered overage "
                    "(its catalog has no usage credit per seat); `billing overage` needs a per-seat database"
                )
            if all_workspaces:
                tiers = [tier for tier, plan in billing.catalog.plans.items() if has_credit(plan, feature)]
                rows = workspace_sets.workspaces_on_tiers(conn, billing.layout.organization, tiers)
                targets = [Workspace.from_row(row, billing.layout) for row in rows]
            else:
                targets = [resolve(conn, workspace, billing.layout)]
            rows_out = _measure(conn, billing, feature, targets, now)
        return OverageReport(billing.model, feature.key, tuple(rows_out))


def _measure(
    conn: Connection, billing: Billing, feature: Feature, targets: list[Workspace], now: datetime
) -> list[OverageRow]:
    """Seats, periods, costs and the ledger of every target: one statement each, not one per workspace."""
    ids = [ws.id for ws in targets]
    seats = workspace_sets.member_counts(conn, ids)
    subs = workspace_sets.subscriptions_by_workspace(conn, ids)
    periods = {ws_id: period_of(billing, [Subscription.from_row(r) for r in subs[ws_id]], now) for ws_id in ids}
    assert feature.meter is not None
    costs = meter_totals_by_workspace(
        conn, billing.layout, {ws_id: window for ws_id, (window, _) in periods.items()}, feature.key, feature.meter
    )
    reported = billing.layout.overage_reported(conn, {ws_id: window.start for ws_id, (window, _) in periods.items()})
    return [
        _row(billing.catalog, feature, ws, seats[ws.id], costs[ws.id], reported.get(ws.id, 0), *periods[ws.id])
        for ws in targets
    ]


def _row(
    catalog: Catalog,
    feature: Feature,
    ws: Workspace,
    seats: int,
    cost: Any,
    reported: int,
    window: Window,
    source: str,
) -> OverageRow:
    plan = catalog.plan(ws.tier_value)
    credit: Decimal | int = 0
    billed = has_credit(plan, feature) and not _unbilled(catalog, feature, ws)
    if plan is not None and has_credit(plan, feature):
        limit = engine.limit_of(catalog, plan, feature, seats)
        credit = limit if limit is not None else 0
    cents = engine.overage_cents(cost, credit) if billed else 0
    return OverageRow(ws, seats, cost, credit, cents, reported, window, source, billed)


def _unbilled(catalog: Catalog, feature: Feature, ws: Workspace) -> bool:
    """Usage the catalog does not bill: a BYOT workspace's, where the order lets BYOT through
    before usage is decided, or where the feature itself exempts BYOT."""
    if not ws.byot:
        return False
    order = catalog.policy.order
    byot_first = "byot" in order and "usage" in order and order.index("byot") < order.index("usage")
    return byot_first or feature.byot_exempt
