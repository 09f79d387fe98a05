"""The demo's credits (DESIGN 4c, Credits): its history replayed as a running Atlas would have written it.

`atlas demo` inserts its events in bulk, so their credits are replayed in event-time order, in the
demo's transaction: at the first instant of each allocation period the history touches, the code of
`credits allocate --all` (as the demo's admin, with that instant as its clock), then the events of
that period deducted by the code the event writers call. Balances, overage and grants are what the
ledger makes of that; none is written by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from atlas_cli.domain import credits as dc
from atlas_cli.domain import operator_catalog as oc

if TYPE_CHECKING:
    from atlas_cli.db.events import InsertedRow


def replay(conn: Any, model: str, rows: Sequence[InsertedRow], now: datetime, actor: str) -> int:
    """Allocate and deduct for the inserted event `rows` up to `now`; the ledger entries written."""
    from atlas_cli.db.layout import billing_for
    from atlas_cli.services.credit_allocation import allocate_in
    from atlas_cli.services.credit_deduction import deduct, pricing

    billing = billing_for(conn, model)
    prices = pricing(conn, billing)
    if prices.catalog is None:  # no credit feature in the catalog (or no credit tables)
        return 0
    ordered = sorted((r for r in rows if r[2] in prices.by_type), key=lambda r: (r[4], r[0]))
    starts = period_starts(prices.catalog, ordered[0][4] if ordered else now, now)
    entries, index = 0, 0
    for n, start in enumerate(starts):
        allocate_in(conn, billing, None, every=True, actor=actor, at=start, now=start)
        end = starts[n + 1] if n + 1 < len(starts) else None
        first = index
        while index < len(ordered) and (end is None or ordered[index][4] < end):
            index += 1
        if index > first:
            entries += deduct(conn, prices, ordered[first:index], ordered[index - 1][4])
    return entries


def period_starts(catalog: oc.OperatorCatalog, since: datetime, until: datetime) -> list[datetime]:
    """The first instants of every allocation period (of any plan's credit allocation) that holds
    a moment of [since, until], in order."""
    periods = {
        allocation.period
        for plan in catalog.plans.values()
        for key, value in plan.items()
        if catalog.features.get(key) is not None
        and catalog.features[key].kind == "credit"
        and (allocation := oc.allocation_of(value)) is not None
    }
    starts: set[datetime] = set()
    for period in periods:
        start, end = dc.period_containing(period, since)
        starts.add(start)
        while end <= until:
            starts.add(end)
            end = dc.period_containing(period, end)[1]
    return sorted(starts)
