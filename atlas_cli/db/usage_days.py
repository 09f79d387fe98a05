"""The daily rollup of usage_events that `billing check` reads closed days from (DESIGN 8).

`atlas_usage_days` holds, per workspace, UTC day and event type, the summed quantity, the summed
cost in whole micro-dollars (each event's cost rounded as the meters round it, so sums are exact)
and the number of events; `atlas_usage_days_computed` one row per workspace and day computed,
events or not. `usage aggregate` writes both, set-based, for the closed days it recomputes: only
days that closed at least SUMMARY_GRACE before its clock, so a computed row is never older than
its day plus the grace.

A workspace's meters over its billing window [start, end) are then:

- served from the rollup: the full UTC days from the first midnight >= start, up to the last day
  that closed SUMMARY_GRACE before now (and ended by `end`), as long as each is computed and not
  marked stale (`db.stale`: atlas's writers mark the days they write late events into), counted
  contiguously from the first such day;
- read from the raw events: everything else of the window (the partial first day, the days from
  the first one not served, today, events after now).

Two statements per batch of workspaces whatever their number and their windows' length (the
fresh days with the rollup's sums over them, then the raw rest; four when a stale or missing day
breaks the served days of some workspace), and exactly the raw computation's numbers. A
database without the tables (atlas's migrations not run yet) or without the stale marks is read
raw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from atlas_cli.db import dialect, stale
from atlas_cli.db.layout import Layout, as_totals, batches, cost_micros, meter_columns, raw_meter_sums
from atlas_cli.db.schema import organization, stale_periods, usage_days, usage_days_computed
from atlas_cli.db.types import UTCDateTime
from atlas_cli.domain.periods import SUMMARY_GRACE, PeriodKind, Window, bucket_start

if TYPE_CHECKING:
    from atlas_cli.domain.catalog import Meter

d = usage_days.c
c = usage_days_computed.c
DAY = timedelta(days=1)
# Workspaces per statement when reading the rollup: the spans are bound as one parameter whatever
# their number (`dialect.windows`), so a batch is limited only to bound the rows of one result;
# each statement reads the rollup's days of the batch in one pass, so fewer batches read less.
SPANS = 5_000
_PRESENT = "atlas_usage_days_present"


def available(conn: Connection) -> bool:
    """Whether the rollup (and the stale marks that guard it) exist. Remembered per database
    connection once true; asked again while missing."""
    info = conn.connection.info
    if info.get(_PRESENT):
        return True
    inspector = sa.inspect(conn)
    present = all(inspector.has_table(t.name) for t in (usage_days, usage_days_computed)) and stale.available(conn)
    if present:
        info[_PRESENT] = True
    return present


def invalidate(
    conn: Connection, workspace_id: str | None, first: datetime, last: datetime, days: Sequence[datetime] | None = None
) -> None:
    """Forget that the days starting in [first, last] (only those of `days`, when given) were
    computed, of one workspace or all: they are read from the raw events until `usage aggregate`
    computes them again."""
    if not available(conn):
        return
    where = [c.day >= first, c.day <= last]
    if workspace_id is not None:
        where.append(c.workspace_id == workspace_id)
    if days is not None:
        listed = dialect.moments(conn, list(days), "forgotten_day")
        where.append(c.day.in_(sa.select(listed.c.forgotten_day)))
    conn.execute(sa.delete(usage_days_computed).where(*where))


def settled_days(days: Sequence[Window], now: datetime) -> list[Window]:
    """The days of `days` that closed at least SUMMARY_GRACE before `now`."""
    return [day for day in days if day.end + SUMMARY_GRACE <= now]


def refresh(conn: Connection, days: Sequence[Window], workspace_id: str | None, now: datetime) -> int:
    """Recompute the rollup of the settled days among `days` (consecutive UTC days, oldest first)
    from the raw events, for one workspace or all, and mark every workspace's day computed at
    `now`. Called after the days' stale marks were deleted, in the same transaction (`db.stale`
    says why no late write is missed). Returns the number of days computed."""
    settled = settled_days(days, now)
    if not settled or not available(conn):
        return 0
    first, end = settled[0].start, settled[-1].end
    scope_days = [d.day >= first, d.day < end]
    scope_computed = [c.day >= first, c.day < end]
    if workspace_id is not None:
        scope_days.append(d.workspace_id == workspace_id)
        scope_computed.append(c.workspace_id == workspace_id)
    conn.execute(sa.delete(usage_days).where(*scope_days))
    conn.execute(sa.delete(usage_days_computed).where(*scope_computed))

    e = _events(conn)
    in_span = [e.c.created_at >= first, e.c.created_at < end, e.c.workspace_id.is_not(None)]
    if workspace_id is not None:
        in_span.append(e.c.workspace_id == workspace_id)
    day = dialect.period_start(conn, "daily", e.c.created_at)
    cost = cost_micros(e.c) if "gateway_cost_usd" in e.c else sa.literal(0, sa.BigInteger)
    sums = (
        sa.select(
            e.c.workspace_id,
            day,
            e.c.event_type,
            sa.func.coalesce(sa.func.sum(e.c.quantity), 0),
            sa.func.coalesce(sa.func.sum(cost), 0),
            sa.func.count(),
        )
        .where(*in_span)
        .group_by(e.c.workspace_id, day, e.c.event_type)
    )
    columns = ["workspace_id", "day", "event_type", "quantity", "cost_micros", "events"]
    conn.execute(_upsert(conn, usage_days, columns, sums))

    starts = dialect.moments(conn, [s.start for s in settled], "rollup_day")
    workspaces = sa.select(organization.c.id).where(sa.true())
    if workspace_id is not None:
        workspaces = workspaces.where(organization.c.id == workspace_id)
    ws = workspaces.subquery("workspaces")
    computed = (
        sa.select(ws.c.id, starts.c.rollup_day, sa.literal(now, UTCDateTime()))
        .select_from(ws.join(starts, sa.true()))
        .where(sa.true())  # SQLite: without a WHERE, "ON CONFLICT" would parse as a join's ON
    )
    conn.execute(_upsert(conn, usage_days_computed, ["workspace_id", "day", "computed_at"], computed))
    return len(settled)


def _upsert(conn: Connection, table: sa.Table, columns: list[str], rows: Any) -> Any:
    """INSERT `rows` into `table`; a row already there (another `aggregate` running at the same
    time committed it first) takes the new values."""
    stmt = dialect.insert_for(conn, table).from_select(columns, rows)
    keys = [col.name for col in table.primary_key.columns]
    return stmt.on_conflict_do_update(
        index_elements=keys, set_={name: stmt.excluded[name] for name in columns if name not in keys}
    )


def _events(conn: Connection) -> Any:
    """usage_events with the columns the rollup sums (the cost where the database records one)."""
    from atlas_cli.db.events import has_costs

    columns: list[sa.ColumnClause[Any]] = [
        sa.column("workspace_id", sa.Text),
        sa.column("event_type", sa.Text),
        sa.column("quantity", sa.BigInteger),
        sa.column("created_at", UTCDateTime()),
    ]
    if has_costs(conn):
        columns.append(sa.column("gateway_cost_usd", sa.Numeric(12, 6)))
    return sa.table("usage_events", *columns)


# -- reading --------------------------------------------------------------------------------------


def _ceil_day(moment: datetime) -> datetime:
    start = bucket_start(PeriodKind.DAILY, moment)
    return start if start == moment else start + DAY


def meter_sums(
    conn: Connection,
    layout: Layout,
    windows: Mapping[str, Window],
    meters: Mapping[str, Meter],
    now: datetime,
    *,
    recompute: bool = False,
) -> dict[str, dict[str, Any]]:
    """Every meter's total for each workspace over its own window, served from the rollup where it
    can be (see the module docstring) and from the raw events elsewhere; `recompute`: all raw.
    Every workspace gets each total (0 without events); costs are exact Decimal dollars, exactly
    as `layout.meters_by_workspace` computes them from the raw events alone."""
    if not meters:
        return {ws_id: {} for ws_id in windows}
    meter_columns(layout.usage_events.c, meters)  # a cost meter on a database without costs: BadInput
    served, rolled = ({}, {}) if recompute else _served_sums(conn, windows, now, meters)
    totals: dict[str, dict[str, int]] = {ws_id: dict.fromkeys(meters, 0) for ws_id in windows}
    raw: list[tuple[str, datetime, datetime]] = []
    for ws_id, window in windows.items():
        if ws_id in served:
            first, split = served[ws_id]
            raw += [(ws_id, lo, hi) for lo, hi in ((window.start, first), (split, window.end)) if lo < hi]
        else:
            raw.append((ws_id, window.start, window.end))
    for found in (rolled, raw_meter_sums(conn, layout, raw, meters)):
        for ws_id, sums in found.items():
            for key, value in sums.items():
                totals[ws_id][key] += value
    return {ws_id: as_totals(sums, meters) for ws_id, sums in totals.items()}


def served_days(conn: Connection, windows: Mapping[str, Window], now: datetime) -> dict[str, tuple[datetime, datetime]]:
    """The days [first, split) of each workspace's window that are read from the rollup (see the
    module docstring); a workspace with none is absent, and so is every one without the rollup."""
    return _served_sums(conn, windows, now, {})[0]


def _served_sums(
    conn: Connection, windows: Mapping[str, Window], now: datetime, meters: Mapping[str, Meter]
) -> tuple[dict[str, tuple[datetime, datetime]], dict[str, dict[str, int]]]:
    """The days served from the rollup (as `served_days`) and each meter's integer sum over them
    (micro-dollars for costs), of every workspace that has some."""
    if not available(conn):
        return {}, {}
    horizon = bucket_start(PeriodKind.DAILY, now - SUMMARY_GRACE)  # days ending by then can be served
    candidates = {}
    for ws_id, window in windows.items():
        first, limit = _ceil_day(window.start), min(bucket_start(PeriodKind.DAILY, window.end), horizon)
        if first < limit:
            candidates[ws_id] = (first, limit)
    return _servable(conn, candidates, meters)


def _fresh(spans: Any) -> tuple[Any, Any]:
    """The computed days inside each span's [period_start, period_end) that no daily stale mark
    holds: a FROM clause and its extra condition."""
    m = stale_periods.c
    inside = sa.and_(c.workspace_id == spans.c.workspace_id, c.day >= spans.c.period_start, c.day < spans.c.period_end)
    marked = sa.and_(m.workspace_id == c.workspace_id, m.period == "daily", m.period_start == c.day)
    return spans.join(usage_days_computed, inside).outerjoin(stale_periods, marked), m.period_start.is_(None)


def _servable(
    conn: Connection, candidates: Mapping[str, tuple[datetime, datetime]], meters: Mapping[str, Meter]
) -> tuple[dict[str, tuple[datetime, datetime]], dict[str, dict[str, int]]]:
    """For each workspace, the days [first, split) served from the rollup: from its candidate span's
    first day, as many consecutive fresh days as there are (workspaces with none are absent); and
    each meter's sum over them.

    One statement per batch finds each workspace's fresh days (their number, the first and the
    last) and sums the rollup from the first fresh day to the last: when they are consecutive from
    the span's first day, as almost always, those are the served days and their sums. Workspaces
    whose fresh days have a gap take two more statements: their days, then the sums up to the gap."""
    served: dict[str, tuple[datetime, datetime]] = {}
    sums: dict[str, dict[str, int]] = {}
    for batch in batches(list(candidates.items()), SPANS):
        spans = dialect.windows(conn, [(ws_id, first, limit) for ws_id, (first, limit) in batch], "rollup_spans")
        joined, fresh = _fresh(spans)
        found = (
            sa.select(
                c.workspace_id.label("workspace_id"),
                sa.func.count().label("days"),
                sa.func.min(c.day).label("lowest"),
                sa.func.max(c.day).label("highest"),
            )
            .select_from(joined)
            .where(fresh)
            .group_by(c.workspace_id)
            .subquery("fresh_days")
        )
        keys = [found.c.workspace_id, found.c.days, found.c.lowest, found.c.highest]
        if meters:
            spanned = sa.and_(d.workspace_id == found.c.workspace_id, d.day >= found.c.lowest, d.day <= found.c.highest)
            stmt = sa.select(*keys, *_sum_columns(meters)).select_from(found.outerjoin(usage_days, spanned))
            stmt = stmt.group_by(*keys)
        else:
            stmt = sa.select(*keys)
        broken: dict[str, datetime] = {}
        for row in conn.execute(stmt):
            ws_id, count, lowest, highest = row[:4]
            first = candidates[ws_id][0]
            if lowest != first:
                continue  # the first day itself is not fresh: nothing served
            if highest == first + (count - 1) * DAY:
                served[ws_id] = (first, highest + DAY)
                sums[ws_id] = {key: int(value) for key, value in zip(meters, row[4:], strict=True)}
            else:
                broken[ws_id] = first
        if broken:  # a stale or uncomputed day inside: serve up to it
            spans = dialect.windows(conn, [(w, f, candidates[w][1]) for w, f in broken.items()], "rollup_spans")
            joined, fresh = _fresh(spans)
            days: dict[str, list[datetime]] = {ws_id: [] for ws_id in broken}
            for ws_id, day in conn.execute(
                sa.select(c.workspace_id, c.day).select_from(joined).where(fresh).order_by(c.workspace_id, c.day)
            ):
                days[ws_id].append(day)
            for ws_id, listed in days.items():
                split = broken[ws_id]
                for day in listed:
                    if day != split:
                        break
                    split = day + DAY
                served[ws_id] = (broken[ws_id], split)
            if meters:
                sums |= _rollup_sums(conn, {ws_id: served[ws_id] for ws_id in broken}, meters)
    return served, sums


def _sum_columns(meters: Mapping[str, Meter]) -> list[Any]:
    """Each meter's integer sum over the joined rollup rows (micro-dollars for costs), labelled by its key."""
    return [
        sa.func.coalesce(
            sa.func.sum(
                sa.case(
                    (d.event_type.in_(meter.event_types), d.cost_micros if meter.sum == "cost" else d.quantity),
                    else_=0,
                )
            ),
            0,
        ).label(key)
        for key, meter in meters.items()
    ]


def _rollup_sums(
    conn: Connection, served: Mapping[str, tuple[datetime, datetime]], meters: Mapping[str, Meter]
) -> dict[str, dict[str, int]]:
    """Each meter's integer sum (micro-dollars for costs) over the rollup's days [first, split) of
    each workspace in `served`, in one statement per batch."""
    found: dict[str, dict[str, int]] = {}
    for batch in batches(list(served.items()), SPANS):
        spans = dialect.windows(conn, [(ws_id, first, split) for ws_id, (first, split) in batch], "served")
        inside = sa.and_(
            d.workspace_id == spans.c.workspace_id, d.day >= spans.c.period_start, d.day < spans.c.period_end
        )
        rows = conn.execute(
            sa.select(spans.c.workspace_id.label("_workspace"), *_sum_columns(meters))
            .select_from(spans.join(usage_days, inside))
            .group_by(spans.c.workspace_id)
        ).mappings()
        for row in rows:
            found[row["_workspace"]] = {key: int(row[key]) for key in meters}
    return found
