"""Deduction when events are written (DESIGN 4c, Credits): in the transaction that inserts them,
only for the events actually inserted (a duplicate deducts nothing), each event's cost taken from
the grants usable at the event's time, in burn order, serialised per workspace and unit.

`Pricing` is read once per writer (a `usage record`, an ingest run, the background writer) from the
operator catalog in force: which event types cost what in which unit, and which tiers are entitled.
A workspace pays for a unit when its plan (or an override in force) entitles it to the feature.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

from atlas_cli.domain import operator_catalog as oc
from atlas_cli.domain.catalog import CatalogError
from atlas_cli.domain.credits import Cost

if TYPE_CHECKING:
    from atlas_cli.db.events import Inserted, InsertedRow, Report
    from atlas_cli.db.layout import Billing


@dataclass(frozen=True)
class Pricing:
    by_type: Mapping[str, tuple[tuple[str, Cost], ...]] = field(default_factory=dict)  # type -> (unit, cost)
    features: Mapping[str, oc.OperatorFeature] = field(default_factory=dict)
    catalog: oc.OperatorCatalog | None = None
    overrides: bool = False  # whether the database has the entitlement overrides table
    # units each workspace is entitled to, remembered for this pricing's life (a sink reloads it
    # every RELOAD_SECONDS, so a new plan, override or catalog applies within that time)
    entitled: dict[str, frozenset[str]] = field(default_factory=dict, compare=False)

    def collector(self) -> Inserted | None:
        """What an insert must report back; None: no event type costs credits (nothing to do)."""
        if not self.by_type:
            return None
        from atlas_cli.db.credits import Charges
        from atlas_cli.db.events import Inserted

        prices = [
            (kind, unit, cost.credits, cost.per) for kind, priced in self.by_type.items() for unit, cost in priced
        ]
        return Inserted(frozenset(self.by_type), report=Charges(prices))


NO_PRICING = Pricing()
RELOAD_SECONDS = 60.0


def pricing(conn: Connection, billing: Billing) -> Pricing:
    """The credit prices of the operator catalog in force; none without credit tables or features."""
    from atlas_cli.db import credits as q
    from atlas_cli.services.catalogs import in_force

    catalog = in_force(conn, billing).catalog
    features = {k: f for k, f in catalog.features.items() if f.kind == "credit"}
    if not features or not q.has_tables(conn):
        return NO_PRICING
    by_type: dict[str, list[tuple[str, Cost]]] = {}
    for unit, feature in sorted(features.items()):
        for event_type, cost in feature.costs:
            by_type.setdefault(event_type, []).append((unit, cost))
    from atlas_cli.db import entitlements as ent_q

    return Pricing({t: tuple(c) for t, c in by_type.items()}, features, catalog, ent_q.has_tables(conn))


def deduct(
    conn: Connection, prices: Pricing, rows: Sequence[InsertedRow], now: datetime, report: Report | None = None
) -> int:
    """Deduct the cost of the inserted `rows` (in event-time order), or of what the insert's
    statement reported instead (`report`: `Inserted.report`, on PostgreSQL); the ledger entries
    written."""
    if prices.catalog is None:
        return 0
    from atlas_cli.db.credits import Charges
    from atlas_cli.services.credit_book import Book

    charges = report if isinstance(report, Charges) and report.reported else None
    if charges is not None:
        events, sums = charges.events, charges.sums
    else:
        events, sums = _charges(prices, rows), {}
    if not events and not sums:
        return 0
    workspaces = sorted({ws for ws, _unit in (*events, *sums)})
    unknown = [ws for ws in workspaces if ws not in prices.entitled]
    if unknown:
        prices.entitled.update(_entitled(conn, prices, unknown, now))
    events = {pair: items for pair, items in events.items() if pair[1] in prices.entitled[pair[0]]}
    sums = {pair: found for pair, found in sums.items() if pair[1] in prices.entitled[pair[0]]}
    if not events and not sums:
        return 0
    book = Book(conn, [*events, *sums], now, charges.accounts if charges else None, charges.grants if charges else None)
    for pair, items in events.items():
        book.debit_events(pair, sorted(items))
    for pair, (at, cost, count, event_id) in sums.items():
        book.debit_runs(pair, [(at, cost)], count, event_id if count == 1 else None)
    return book.save()


def _charges(prices: Pricing, rows: Sequence[InsertedRow]) -> dict[tuple[str, str], list[tuple[datetime, str, int]]]:
    """Each inserted row's cost per (workspace, unit) it is priced in: (event time, event id, cost)."""
    found: dict[tuple[str, str], list[tuple[datetime, str, int]]] = {}
    for id_, ws, kind, qty, at in rows:
        for unit, cost in prices.by_type.get(kind, ()):
            amount = cost.of(qty)
            if amount > 0:
                found.setdefault((ws, unit), []).append((at, id_, amount))
    return found


def _entitled(conn: Connection, prices: Pricing, workspaces: Sequence[str], now: datetime) -> dict[str, frozenset[str]]:
    from atlas_cli.db import credits as q

    assert prices.catalog is not None
    tiers = q.tiers(conn, workspaces)
    found = q.overrides(conn, workspaces, list(prices.features), now) if prices.overrides else {}
    units: dict[str, frozenset[str]] = {}
    for ws in workspaces:
        mine: set[str] = set()
        for unit, feature in prices.features.items():
            value = prices.catalog.value(tiers.get(ws, ""), unit)
            if (ws, unit) in found:
                with suppress(CatalogError):  # an override that no longer fits the feature does not apply
                    value = oc.plan_value(found[(ws, unit)], feature, "override")
            if oc.entitled(value):
                mine.add(unit)
        units[ws] = frozenset(mine)
    return units
