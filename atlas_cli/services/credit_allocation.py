"""`credits allocate`: each plan's allocation, once per workspace, unit and period (DESIGN 4c).

Run from cron as often as wanted: the period's idempotency key makes a second run a no-op. An
allocation is a grant effective from its period's first instant until the next period's (exclusive);
it pays the overage first. Grants whose expiry has passed are expired (an `expire` entry each).
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime
from typing import TYPE_CHECKING, Any

from atlas_cli.db import credits as q
from atlas_cli.domain import credits as dc
from atlas_cli.domain import operator_catalog as oc
from atlas_cli.domain.catalog import CatalogError
from atlas_cli.errors import BadInput, NotConfigured
from atlas_cli.services.credit_book import DEFAULT_PRIORITY, Book, Stamp
from atlas_cli.services.models import Workspace

if TYPE_CHECKING:
    from atlas_cli.db.database import Database
    from atlas_cli.db.layout import Billing
    from atlas_cli.services.credits import AllocateReport, AllocationRow


def allocate(
    db: Database, workspace: str | None, *, every: bool, actor: str | None, at: datetime, now: datetime
) -> AllocateReport:
    if every and workspace:
        raise BadInput("name a workspace with -w or use --all, not both")
    with db.begin() as conn:
        return allocate_in(conn, db.billing(conn), workspace, every=every, actor=actor, at=at, now=now)


def allocate_in(
    conn: Any, billing: Billing, workspace: str | None, *, every: bool, actor: str | None, at: datetime, now: datetime
) -> AllocateReport:
    """`allocate` inside the caller's transaction (the demo loads its allocations with its data).

    Raises:
        NotConfigured: no credit tables. PermissionDenied, NotFound: as `credits allocate`.
    """
    from atlas_cli.db import billing_queries as bq
    from atlas_cli.db import queries
    from atlas_cli.services.admin import audit_row, authorize, find_actor, require_global_admin
    from atlas_cli.services.catalogs import in_force
    from atlas_cli.services.credits import AllocateReport, credit_features
    from atlas_cli.services.workspaces import resolve

    if not q.has_tables(conn):
        raise NotConfigured("this database has no credit tables yet: run `atlas db upgrade`; nothing changed")
    who = find_actor(conn, actor)
    if every:
        require_global_admin(who, "credits allocate --all", billing.catalog.policy)
        rows = queries.all_workspaces(conn, billing.layout.organization)
        targets = [Workspace.from_row(r, billing.layout) for r in rows]
    else:
        ws = resolve(conn, workspace, billing.layout)
        authorize(conn, who, ws, billing.catalog.policy)
        bq.lock_organization(conn, billing.layout.organization, ws.id)
        targets = [ws]
    targets = sorted((w for w in targets if w.status != "deleted"), key=lambda w: w.id)
    catalog = in_force(conn, billing).catalog
    units = credit_features(catalog)
    book = Book(conn, [(w.id, u) for w in targets for u in units], now)
    out: list[AllocationRow] = []
    audits: list[dict[str, Any]] = []
    for ws in targets:
        values = _values(conn, ws, catalog, units, at)
        for unit in sorted(units):
            row = _one(conn, book, ws, unit, values.get(unit), at, who.label)
            out.append(row)
            if row.outcome == "granted" or row.expired:
                after = {"unit": unit, "outcome": row.outcome, "allocation": row.allocation, "expired": row.expired,
                         "paidOverage": row.paid_overage, "balance": row.balance,
                         "periodStart": _iso(row.period_start)}  # fmt: skip
                audits.append(audit_row(ws.id, who.label, "credits.allocate", {"unit": unit}, after, now))
    book.save()
    bq.insert_audit(conn, audits)
    return AllocateReport(billing.model, at, tuple(out))


def _values(
    conn: Any, ws: Workspace, catalog: oc.OperatorCatalog, units: dict[str, Any], at: datetime
) -> dict[str, Any]:
    """Each credit feature's value for the workspace at `at`: an override's, else the plan's."""
    from atlas_cli.db import entitlements as ent_q

    overrides = ent_q.active_overrides(conn, ws.id, at) if ent_q.has_tables(conn) else {}
    values: dict[str, Any] = {}
    for unit, feature in units.items():
        value = catalog.value(ws.tier_value, unit)
        if unit in overrides:
            with suppress(CatalogError):  # the feature changed kind since: the override no longer applies
                value = oc.plan_value(overrides[unit]["value"], feature, "override")
        values[unit] = value
    return values


def _one(conn: Any, book: Book, ws: Workspace, unit: str, value: Any, at: datetime, actor: str) -> AllocationRow:
    from atlas_cli.services.credits import AllocationRow

    pair = (ws.id, unit)
    allocation = oc.allocation_of(value) if oc.entitled(value) else None
    start, end = dc.period_containing(allocation.period if allocation else "month", at)
    outcome, paid = "none", 0
    if allocation is not None:
        key = f"atlas:allocation:{unit}:{_iso(start)}"
        request = {"allocation": allocation.amount, "period": allocation.period, "periodStart": _iso(start)}
        claim = {"workspace_id": ws.id, "key": key, "unit": unit, "command": "allocate", "request": request}
        if q.claim_request(conn, claim | {"actor": actor, "created_at": book.now}):
            paid = min(allocation.amount, max(int(book.accounts[pair]["overage"]), 0))
            book.add(
                pair, allocation.amount, source="allocation", kind="grant", priority=DEFAULT_PRIORITY,
                stamp=Stamp(key, actor, f"allocation for {start.date().isoformat()}"),
                effective_at=start, expires_at=end, period_start=start,
            )  # fmt: skip
            outcome = "granted"
        else:
            outcome = "already"
    expired = book.expire(pair, Stamp(None, actor, "expired"))
    amount = allocation.amount if allocation else 0
    return AllocationRow(ws.id, unit, start, end, amount, outcome, paid, expired, book.balance(pair))


def _iso(moment: datetime) -> str:
    from atlas_cli.domain.periods import iso_millis

    return iso_millis(moment)
