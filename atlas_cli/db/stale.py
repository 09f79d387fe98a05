"""Stale period marks: which stored summaries may be older than their events (DESIGN 4a, History).

Every write of events by atlas (record, ingest, the library, and whatever writes through
`db.events`) marks the daily and the monthly period of each workspace it inserted into, in the
same transaction as the events. No clock is read: a period of today is marked too, which costs
nothing, since the current period is recomputed anyway. History and `aggregate` delete the marks
of the periods they recompute, then recompute them, in one transaction.

Why no late event is missed on PostgreSQL: a mark is written with `ON CONFLICT DO UPDATE ...
WHERE false`, which writes nothing but locks an existing mark until the writer commits. A
recomputation deletes the marks first (waiting for such a lock), and its next statement sees
every event committed before the delete did. A writer that commits later keeps (or writes again)
its mark. SQLite serialises writers.

A database without the table (atlas's migrations not run yet) keeps no marks: history then
recomputes every period, as a database it knows nothing about deserves.

The same daily marks guard the daily rollup (`db.usage_days`): a marked day is read from the raw
events, and deleting a daily mark deletes the day's computed row in the same statement pass, so a
day whose mark is cleared (history recomputing its summary) is not served from the rollup until
`usage aggregate` has computed it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from atlas_cli.db import dialect
from atlas_cli.db.schema import stale_periods

m = stale_periods.c
PERIODS = ("daily", "monthly")
_PRESENT = "atlas_stale_periods_present"


def available(conn: Connection) -> bool:
    """Whether the database has the marks table. Remembered per database connection once true
    (a table atlas creates is not dropped under it); asked again while it is missing."""
    info = conn.connection.info
    if info.get(_PRESENT):
        return True
    present = sa.inspect(conn).has_table(stale_periods.name)
    if present:
        info[_PRESENT] = True
    return present


def _locking(stmt: Any) -> Any:
    """`stmt` (an INSERT into the marks) that, on a mark already there, updates nothing but locks
    it until the transaction ends (see the module docstring)."""
    return stmt.on_conflict_do_update(
        index_elements=[m.workspace_id, m.period, m.period_start],
        set_={"period": stmt.excluded.period},
        where=sa.false(),
    )


def _starts(moment: datetime) -> tuple[datetime, datetime]:
    """The start of the UTC day and of the UTC month holding `moment`."""
    utc = moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    day = utc.replace(hour=0, minute=0, second=0, microsecond=0)
    return day, day.replace(day=1)


def mark_rows(conn: Connection, rows: Iterable[tuple[Any, ...]]) -> None:
    """Mark the periods of event rows (`db.events.EventRow`: workspace second, time seventh)."""
    if not available(conn):
        return
    marks: set[tuple[str, str, datetime]] = set()
    for row in rows:
        workspace_id, created_at = row[1], row[6]
        if workspace_id is None:
            continue
        day, month = _starts(created_at)
        marks.add((workspace_id, "daily", day))
        marks.add((workspace_id, "monthly", month))
    if not marks:
        return
    conn.execute(
        _locking(dialect.insert_for(conn, stale_periods)),
        [{"workspace_id": w, "period": p, "period_start": s} for w, p, s in sorted(marks)],
    )


def marks_cte(conn: Connection, source: str) -> str | None:
    """PostgreSQL: the CTEs `marks_days AS (...), marks AS (...)`, the second data-modifying,
    marking the periods of the rows of `source` (with workspace_id and created_at: an earlier CTE
    of the same statement, the rows an insert returned, so the events and their marks are written
    by one statement; or a table). The marks are locked in key order (two writers never wait on each
    other in opposite orders). None without the marks table."""
    if not available(conn):
        return None
    return _MARKS_CTE.format(source=source)


# The day and month starts are dialect.period_start's expressions (UTC wall time truncated, back to
# timestamptz), the month taken from the distinct days: a batch's rows fall on a few days.
_MARKS_CTE = (
    "marks_days AS (SELECT DISTINCT workspace_id, date_trunc('day', timezone('UTC', created_at)) AS day "
    "FROM {source} WHERE workspace_id IS NOT NULL), "
    f"marks AS (INSERT INTO {stale_periods.name} (workspace_id, period, period_start) "
    "SELECT DISTINCT workspace_id, p.period, timezone('UTC', date_trunc(p.unit, day)) "
    "FROM marks_days CROSS JOIN (VALUES ('daily', 'day'), ('monthly', 'month')) AS p(period, unit) "
    "ORDER BY 1, 2, 3 "
    "ON CONFLICT (workspace_id, period, period_start) DO UPDATE SET period = excluded.period WHERE false)"
)


def marked(conn: Connection, workspace_id: str, period: str, starts: Sequence[datetime]) -> set[datetime]:
    """Which of `starts` are marked for the workspace's `period`."""
    if not starts or not available(conn):
        return set()
    query = sa.select(m.period_start).where(
        m.workspace_id == workspace_id, m.period == period, m.period_start >= min(starts), m.period_start <= max(starts)
    )
    return set(conn.execute(query).scalars()) & set(starts)


def clear(conn: Connection, period: str, first: datetime, last: datetime, workspace_id: str | None) -> None:
    """Delete the marks of `period` starting in [first, last], of one workspace or of all."""
    if not available(conn):
        return
    where = [m.period == period, m.period_start >= first, m.period_start <= last]
    if workspace_id is not None:
        where.append(m.workspace_id == workspace_id)
    conn.execute(sa.delete(stale_periods).where(*where))
    if period == "daily":
        from atlas_cli.db import usage_days

        usage_days.invalidate(conn, workspace_id, first, last)


def clear_starts(conn: Connection, workspace_id: str, period: str, starts: Sequence[datetime]) -> None:
    """Delete the workspace's marks of `period` at exactly `starts`."""
    if not starts or not available(conn):
        return
    bucket = dialect.moments(conn, list(starts), "mark_start")
    conn.execute(
        sa.delete(stale_periods).where(
            m.workspace_id == workspace_id, m.period == period, m.period_start.in_(sa.select(bucket.c.mark_start))
        )
    )
    if period == "daily":
        from atlas_cli.db import usage_days

        usage_days.invalidate(conn, workspace_id, min(starts), max(starts), starts)
