"""Summaries of many workspaces at once: set-based recomputation and verification.

Both build the same grid: every (workspace, period) pair of the requested buckets that does not
precede the workspace's usage (its creation, or its first event if earlier), joined to
the raw events of that period, grouped. `aggregate` upserts the grid into usage_summaries in one
statement per period kind (and, for days, refreshes the daily rollup of `db.usage_days` in a few
more); `mismatches` compares it with what is stored, reading only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from atlas_cli.db import dialect, stale, usage_days
from atlas_cli.db.queries import distinct_logins, sum_of, upsert_summaries, usage_floor
from atlas_cli.db.schema import organization, usage_events, usage_summaries
from atlas_cli.db.types import UTCDateTime
from atlas_cli.domain.periods import Window

e = usage_events
s = usage_summaries.c


def _grid(conn: Connection, period: str, buckets: Sequence[Window], workspace_id: str | None) -> sa.Subquery:
    """Per workspace and bucket: query_count, token_count, active_users from raw events.

    As in `queries.refresh_summaries`: the span's events are grouped once by workspace and the
    start of their period, then every (workspace, bucket) pair is left-joined to its group, so
    pairs without events get zeros. The bucket starts are one bound parameter (cacheable).
    """
    starts = dialect.moments(conn, [b.start for b in buckets], "bucket_start")
    workspaces = sa.select(organization.c.id.label("workspace_id"), usage_floor(conn).label("floor"))
    in_span = [e.c.created_at >= min(b.start for b in buckets), e.c.created_at < max(b.end for b in buckets)]
    if workspace_id is not None:
        workspaces = workspaces.where(organization.c.id == workspace_id)
        in_span.append(e.c.workspace_id == workspace_id)
    ws = workspaces.subquery("workspaces")
    key = dialect.period_start(conn, period, e.c.created_at)
    per_period = (
        sa.select(
            e.c.workspace_id,
            key.label("bucket_start"),
            sum_of("query").label("query_count"),
            sum_of("token").label("token_count"),
            distinct_logins().label("active_users"),
        )
        .where(*in_span)
        .group_by(e.c.workspace_id, key)
        .subquery("per_period")
    )
    zero = sa.literal_column("0", sa.Integer)
    begun = starts.c.bucket_start >= dialect.period_start(conn, period, ws.c.floor)  # not before its usage can begin
    matched = sa.and_(
        per_period.c.workspace_id == ws.c.workspace_id, per_period.c.bucket_start == starts.c.bucket_start
    )
    return (
        sa.select(
            ws.c.workspace_id,
            starts.c.bucket_start.label("period_start"),
            sa.func.coalesce(per_period.c.query_count, zero).label("query_count"),
            sa.func.coalesce(per_period.c.token_count, zero).label("token_count"),
            sa.func.coalesce(per_period.c.active_users, zero).label("active_users"),
        )
        .select_from(starts.join(ws, begun).outerjoin(per_period, matched))
        .subquery("actual")
    )


def aggregate(conn: Connection, period: str, buckets: Sequence[Window], workspace_id: str | None, now: datetime) -> int:
    """Recompute and upsert the summaries of every workspace (or one) for `buckets`, in one
    statement. Every pair gets a row, zeros included. Returns the rows upserted.

    The stale marks of those periods are deleted first, in the same transaction (`db.stale`).
    Daily: the rollup of the days among `buckets` that have settled is recomputed too, after the
    marks were deleted (`db.usage_days.refresh`)."""
    if not buckets:
        return 0
    stale.clear(conn, period, min(b.start for b in buckets), max(b.start for b in buckets), workspace_id)
    actual = _grid(conn, period, buckets, workspace_id)
    rows = sa.select(
        dialect.new_uuid(conn),
        actual.c.workspace_id,
        sa.literal(period, sa.Text),
        actual.c.period_start,
        actual.c.query_count,
        actual.c.token_count,
        actual.c.active_users,
        sa.literal(0, sa.BigInteger),
        sa.literal(now, UTCDateTime()),
    ).where(sa.true())  # SQLite: without a WHERE, "ON CONFLICT" would parse as a join's ON
    stmt = upsert_summaries(conn, rows)
    upserted = int(conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount)
    if period == "daily":
        usage_days.refresh(conn, buckets, workspace_id, now)
    return upserted


def mismatches(
    conn: Connection, period: str, buckets: Sequence[Window], workspace_id: str | None
) -> Sequence[RowMapping]:
    """Stored summaries that differ from the raw events, and periods with events but no row.

    A missing row for a period without events is not a mismatch (history creates it on read).
    """
    if not buckets:
        return []
    actual = _grid(conn, period, buckets, workspace_id)
    on = sa.and_(s.workspace_id == actual.c.workspace_id, s.period == period, s.period_start == actual.c.period_start)
    has_events = sa.or_(actual.c.query_count != 0, actual.c.token_count != 0, actual.c.active_users != 0)
    differs = sa.or_(
        s.query_count != actual.c.query_count,
        s.token_count != actual.c.token_count,
        s.active_users != actual.c.active_users,
    )
    query = (
        sa.select(
            actual.c.workspace_id,
            actual.c.period_start,
            s.query_count.label("stored_query_count"),
            s.token_count.label("stored_token_count"),
            s.active_users.label("stored_active_users"),
            actual.c.query_count,
            actual.c.token_count,
            actual.c.active_users,
        )
        .select_from(actual.outerjoin(usage_summaries, on))
        .where(sa.or_(sa.and_(s.id.is_(None), has_events), sa.and_(s.id.is_not(None), differs)))
        .order_by(actual.c.workspace_id, actual.c.period_start)
    )
    return conn.execute(query).mappings().all()
