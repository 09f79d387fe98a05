"""Summaries of many workspaces at once: set-based recomputation and verification.

Both build the same grid: every (workspace, period) pair of the requested buckets, joined to
the raw events of that period, grouped. `aggregate` upserts the grid into usage_summaries in one
statement per period kind; `mismatches` compares it with what is stored, reading only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from atlas_cli.db import dialect
from atlas_cli.db.schema import organization, usage_events, usage_summaries
from atlas_cli.db.types import UTCDateTime
from atlas_cli.domain.periods import Window

e = usage_events
s = usage_summaries.c


def _sum_of(event_type: str) -> sa.ColumnElement[Any]:
    return sa.func.coalesce(sa.func.sum(sa.case((e.c.event_type == event_type, e.c.quantity), else_=0)), 0)


def _distinct_logins() -> sa.ColumnElement[Any]:
    return sa.func.count(sa.distinct(sa.case((e.c.event_type == "login", e.c.user_id))))


def _grid(buckets: Sequence[Window], workspace_id: str | None) -> sa.Subquery:
    """Per workspace and bucket: query_count, token_count, active_users from raw events."""
    bounds = (
        sa.values(sa.column("bucket_start", UTCDateTime()), sa.column("bucket_end", UTCDateTime()), name="buckets")
        .data([(b.start, b.end) for b in buckets])
        .cte("buckets", nesting=True)
    )
    workspaces = sa.select(organization.c.id.label("workspace_id"))
    if workspace_id is not None:
        workspaces = workspaces.where(organization.c.id == workspace_id)
    ws = workspaces.cte("workspaces", nesting=True)
    span = Window(min(b.start for b in buckets), max(b.end for b in buckets))
    joined = bounds.join(ws, sa.true()).outerjoin(
        e,
        sa.and_(
            e.c.workspace_id == ws.c.workspace_id,
            e.c.created_at >= span.start,
            e.c.created_at < span.end,
            e.c.created_at >= bounds.c.bucket_start,
            e.c.created_at < bounds.c.bucket_end,
        ),
    )
    return (
        sa.select(
            ws.c.workspace_id,
            bounds.c.bucket_start.label("period_start"),
            _sum_of("query").label("query_count"),
            _sum_of("token").label("token_count"),
            _distinct_logins().label("active_users"),
        )
        .select_from(joined)
        .group_by(ws.c.workspace_id, bounds.c.bucket_start)
        .subquery("actual")
    )


def aggregate(
    conn: Connection, period: str, buckets: Sequence[Window], workspace_id: str | None, now: datetime
) -> int:
    """Recompute and upsert the summaries of every workspace (or one) for `buckets`, in one
    statement. Every pair gets a row, zeros included. Returns the rows upserted."""
    if not buckets:
        return 0
    actual = _grid(buckets, workspace_id)
    rows = sa.select(
        dialect.new_uuid(conn), actual.c.workspace_id, sa.literal(period, sa.Text), actual.c.period_start,
        actual.c.query_count, actual.c.token_count, actual.c.active_users,
        sa.literal(0, sa.BigInteger), sa.literal(now, UTCDateTime()),
    ).where(sa.true())  # SQLite: without a WHERE, "ON CONFLICT" would parse as a join's ON
    stmt = dialect.insert_for(conn, usage_summaries).from_select(
        ["id", "workspace_id", "period", "period_start", "query_count", "token_count", "active_users",
         "storage_bytes", "updated_at"],
        rows,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[s.workspace_id, s.period, s.period_start],
        set_={name: stmt.excluded[name] for name in ("query_count", "token_count", "active_users", "updated_at")},
    )
    return int(conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount)


def mismatches(
    conn: Connection, period: str, buckets: Sequence[Window], workspace_id: str | None
) -> Sequence[RowMapping]:
    """Stored summaries that differ from the raw events, and periods with events but no row.

    A missing row for a period without events is not a mismatch (history creates it on read).
    """
    if not buckets:
        return []
    actual = _grid(buckets, workspace_id)
    on = sa.and_(s.workspace_id == actual.c.workspace_id, s.period == period, s.period_start == actual.c.period_start)
    has_events = sa.or_(actual.c.query_count != 0, actual.c.token_count != 0, actual.c.active_users != 0)
    differs = sa.or_(
        s.query_count != actual.c.query_count, s.token_count != actual.c.token_count,
        s.active_users != actual.c.active_users,
    )
    query = (
        sa.select(
            actual.c.workspace_id, actual.c.period_start,
            s.query_count.label("stored_query_count"), s.token_count.label("stored_token_count"),
            s.active_users.label("stored_active_users"),
            actual.c.query_count, actual.c.token_count, actual.c.active_users,
        )
        .select_from(actual.outerjoin(usage_summaries, on))
        .where(sa.or_(sa.and_(s.id.is_(None), has_events), sa.and_(s.id.is_not(None), differs)))
        .order_by(actual.c.workspace_id, actual.c.period_start)
    )
    return conn.execute(query).mappings().all()
