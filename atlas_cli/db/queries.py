"""The SQL atlas runs. Every statement filters by workspace and is set-based."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from atlas_cli.db import dialect, stale
from atlas_cli.db.engine import refuses_writes
from atlas_cli.db.schema import (
    connections,
    invitations,
    member,
    organization,
    stale_periods,
    subscription,
    usage_events,
    usage_summaries,
    user,
)
from atlas_cli.db.types import UTCDateTime
from atlas_cli.domain.periods import Window

e = usage_events


def workspace_by_key(conn: Connection, key: str, table: sa.Table = organization) -> RowMapping | None:
    """The workspace whose id is `key`, else whose slug is `key` (`table`: the model's organization)."""
    rows = conn.execute(sa.select(table).where(sa.or_(table.c.id == key, table.c.slug == key))).mappings().all()
    for row in rows:
        if row["id"] == key:
            return row
    return rows[0] if rows else None


def first_workspaces(conn: Connection, limit: int, table: sa.Table = organization) -> Sequence[RowMapping]:
    return conn.execute(sa.select(table).order_by(table.c.id).limit(limit)).mappings().all()


def all_workspaces(conn: Connection, table: sa.Table = organization) -> Sequence[RowMapping]:
    return conn.execute(sa.select(table).order_by(table.c.name, table.c.id)).mappings().all()


def count_workspaces(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(organization)).scalar_one())


def subscriptions_for(conn: Connection, workspace_id: str) -> Sequence[RowMapping]:
    """The workspace's subscription rows, the latest period first."""
    period_end = subscription.c.periodEnd
    return (
        conn.execute(
            sa.select(subscription)
            .where(subscription.c.referenceId == workspace_id)
            .order_by(period_end.desc().nulls_last(), subscription.c.id)
        )
        .mappings()
        .all()
    )


def resource_counts(conn: Connection, workspace_id: str) -> RowMapping:
    """Members, pending invitations and connections, in one round trip."""
    members = sa.select(sa.func.count()).select_from(member).where(member.c.organizationId == workspace_id)
    pending = (
        sa.select(sa.func.count())
        .select_from(invitations)
        .where(invitations.c.org_id == workspace_id, invitations.c.status == "pending")
    )
    conns = sa.select(sa.func.count()).select_from(connections).where(connections.c.org_id == workspace_id)
    return (
        conn.execute(
            sa.select(
                members.scalar_subquery().label("members"),
                pending.scalar_subquery().label("pending_invitations"),
                conns.scalar_subquery().label("connections"),
            )
        )
        .mappings()
        .one()
    )


def usage_floor(conn: Connection) -> sa.ColumnElement[Any]:
    """Per `organization` row: when its usage can begin, its creation or its first event if that
    is earlier (events imported from before it existed). One index probe per workspace."""
    first_event = sa.select(sa.func.min(e.c.created_at)).where(e.c.workspace_id == organization.c.id).scalar_subquery()
    created = organization.c.createdAt
    return dialect.earlier(conn, created, sa.func.coalesce(first_event, created))


def usage_begins(conn: Connection, workspace_id: str | None) -> datetime | None:
    """The earliest `usage_floor` of the workspace, or of every workspace when None (None: none)."""
    floor = usage_floor(conn)
    if workspace_id is not None:
        return conn.execute(sa.select(floor).where(organization.c.id == workspace_id)).scalar_one_or_none()
    inner = sa.select(floor.label("floor")).subquery("floors")
    return conn.execute(sa.select(sa.func.min(inner.c.floor, type_=UTCDateTime()))).scalar_one_or_none()


def sum_of(event_type: str) -> sa.ColumnElement[Any]:
    return sa.func.coalesce(sa.func.sum(sa.case((e.c.event_type == event_type, e.c.quantity), else_=0)), 0)


def distinct_logins() -> sa.ColumnElement[Any]:
    return sa.func.count(sa.distinct(sa.case((e.c.event_type == "login", e.c.user_id))))


def _in_window(workspace_id: str, window: Window) -> sa.ColumnElement[bool]:
    return sa.and_(e.c.workspace_id == workspace_id, e.c.created_at >= window.start, e.c.created_at < window.end)


def usage_totals(conn: Connection, workspace_id: str, window: Window) -> RowMapping:
    """Queries, tokens and distinct active users of one workspace in `window`."""
    return (
        conn.execute(
            sa.select(
                sum_of("query").label("queries"),
                sum_of("token").label("tokens"),
                distinct_logins().label("active_users"),
            ).where(_in_window(workspace_id, window))
        )
        .mappings()
        .one()
    )


def _recomputed(conn: Connection, workspace_id: str, period: str, buckets: Sequence[Window], now: datetime) -> Any:
    """The summary rows of `buckets` from raw events, in SUMMARY_COLUMNS order.

    `buckets` are whole UTC days or months of `period` (as `history_buckets` gives them). The
    workspace's events in their span are read by one index range scan and grouped by the start
    of their period; each bucket is then joined to its group. (Joining the buckets to the events
    by range made PostgreSQL re-read the whole span once per bucket.) The bucket starts are one
    bound parameter, so SQLAlchemy compiles the statement once, not on every call.
    Every bucket gets a row, zeros included.
    """
    starts = dialect.moments(conn, [b.start for b in buckets], "bucket_start")
    span = Window(min(b.start for b in buckets), max(b.end for b in buckets))
    key = dialect.period_start(conn, period, e.c.created_at)
    per_period = (
        sa.select(
            key.label("bucket_start"),
            sum_of("query").label("query_count"),
            sum_of("token").label("token_count"),
            distinct_logins().label("active_users"),
        )
        .where(_in_window(workspace_id, span))
        .group_by(key)
        .subquery("per_period")
    )
    zero = sa.literal_column("0", sa.Integer)
    return (
        sa.select(
            dialect.new_uuid(conn).label("id"),
            sa.literal(workspace_id, sa.Text).label("workspace_id"),
            sa.literal(period, sa.Text).label("period"),
            starts.c.bucket_start.label("period_start"),
            sa.func.coalesce(per_period.c.query_count, zero).label("query_count"),
            sa.func.coalesce(per_period.c.token_count, zero).label("token_count"),
            sa.func.coalesce(per_period.c.active_users, zero).label("active_users"),
            sa.literal(0, sa.BigInteger).label("storage_bytes"),
            sa.literal(now, UTCDateTime()).label("updated_at"),
        )
        .select_from(starts.outerjoin(per_period, per_period.c.bucket_start == starts.c.bucket_start))
        .where(sa.true())  # SQLite: without a WHERE, "ON CONFLICT" would parse as the join's ON
    )


def summaries_in_windows(
    conn: Connection, workspace_id: str, spans: Sequence[tuple[datetime, datetime]]
) -> list[RowMapping]:
    """Query, token and distinct active-user counts of one workspace in each [start, end) span,
    from raw events in one statement; for periods that are not UTC days or months (a history in
    another time zone), which usage_summaries cannot hold. Every span gets a row, zeros included.
    Each span reads its own range of the (workspace_id, created_at) index."""
    if not spans:
        return []
    w = dialect.time_windows(conn, spans)
    joined = w.outerjoin(
        e,
        sa.and_(e.c.workspace_id == workspace_id, e.c.created_at >= w.c.window_start, e.c.created_at < w.c.window_end),
    )
    query = (
        sa.select(
            w.c.window_start.label("period_start"),
            sum_of("query").label("query_count"),
            sum_of("token").label("token_count"),
            distinct_logins().label("active_users"),
        )
        .select_from(joined)
        .group_by(w.c.window_start)
    )
    return list(conn.execute(query).mappings().all())


def stored_summaries(
    conn: Connection, workspace_id: str, period: str, buckets: Sequence[Window]
) -> dict[datetime, RowMapping]:
    """The stored summary rows (SHOWN_COLUMNS, and `marked`: whether atlas wrote events into the
    period since it was last recomputed) of `buckets`, by period start. One statement."""
    if not buckets:
        return {}
    s = usage_summaries.c
    first, last = min(b.start for b in buckets), max(b.start for b in buckets)
    columns = [s[name] for name in SHOWN_COLUMNS]
    if stale.available(conn):
        m = stale_periods.c
        on = sa.and_(m.workspace_id == s.workspace_id, m.period == s.period, m.period_start == s.period_start)
        query = sa.select(*columns, m.period_start.is_not(None).label("marked")).select_from(
            usage_summaries.outerjoin(stale_periods, on)
        )
    else:  # no marks kept: every row counts as marked, so every period is recomputed
        query = sa.select(*columns, sa.true().label("marked"))
    query = query.where(s.workspace_id == workspace_id, s.period == period, s.period_start.between(first, last))
    wanted = {b.start for b in buckets}
    return {row["period_start"]: row for row in conn.execute(query).mappings() if row["period_start"] in wanted}


def refresh_summaries(
    conn: Connection,
    workspace_id: str,
    period: str,
    buckets: Sequence[Window],
    now: datetime,
    clear: Sequence[datetime] = (),
) -> list[RowMapping]:
    """Recompute the summaries of `buckets` from raw events and upsert them, in one statement
    (see `_recomputed`). Safe when two processes run it at once: the unique key (workspace_id,
    period, period_start) turns the second insert into an update. Returns the rows as stored
    (SHOWN_COLUMNS: an existing row keeps its id and storage_bytes).

    `clear`: period starts whose stale marks are deleted first, in the same transaction (so a
    writer that marks one again meanwhile keeps its mark: `db.stale`).
    """
    if not buckets:
        return []
    stale.clear_starts(conn, workspace_id, period, clear)
    s = usage_summaries.c
    stmt = upsert_summaries(conn, _recomputed(conn, workspace_id, period, buckets, now))
    return list(conn.execute(stmt.returning(*(s[name] for name in SHOWN_COLUMNS))).mappings().all())


def summaries_stored_if_allowed(
    conn: Connection,
    workspace_id: str,
    period: str,
    buckets: Sequence[Window],
    now: datetime,
    clear: Sequence[datetime] = (),
) -> tuple[list[RowMapping], bool]:
    """`refresh_summaries`, or, where the database refuses writes (a read-only role or
    transaction), the same rows computed and not stored (`id` and `updated_at` None); and
    whether they were stored.
    The attempt runs in a savepoint, so a refusal leaves the caller's transaction usable."""
    if not buckets:
        return [], True
    try:
        with conn.begin_nested():
            return refresh_summaries(conn, workspace_id, period, buckets, now, clear), True
    except sa.exc.DBAPIError as exc:
        if not refuses_writes(exc):
            raise
    # Not stored: no row of the server's holds these counts, so no id and no updated_at; the
    # storage_bytes atlas never computes are the stored row's, where one exists.
    rows = _recomputed(conn, workspace_id, period, buckets, now).subquery("computed")
    s = usage_summaries.c
    stored = sa.and_(s.workspace_id == workspace_id, s.period == period, s.period_start == rows.c.period_start)
    computed = sa.select(
        sa.null().cast(sa.Text).label("id"),
        rows.c.period_start,
        rows.c.query_count,
        rows.c.token_count,
        rows.c.active_users,
        sa.func.coalesce(s.storage_bytes, 0).label("storage_bytes"),
        sa.null().cast(UTCDateTime()).label("updated_at"),
    ).select_from(rows.outerjoin(usage_summaries, stored))
    return list(conn.execute(computed).mappings().all()), False


SUMMARY_COLUMNS = (
    "id",
    "workspace_id",
    "period",
    "period_start",
    "query_count",
    "token_count",
    "active_users",
    "storage_bytes",
    "updated_at",
)
RECOMPUTED = ("query_count", "token_count", "active_users", "updated_at")
# What `usage history` shows of each summary row.
SHOWN_COLUMNS = ("id", "period_start", "query_count", "token_count", "active_users", "storage_bytes", "updated_at")


def upsert_summaries(conn: Connection, rows: sa.Select[Any]) -> Any:
    """INSERT the summary rows selected by `rows` (in SUMMARY_COLUMNS order), updating the
    recomputed columns of a row that exists: the unique key (workspace_id, period,
    period_start) makes two processes doing it at once safe. `storage_bytes` is left alone."""
    s = usage_summaries.c
    stmt = dialect.insert_for(conn, usage_summaries).from_select(list(SUMMARY_COLUMNS), rows)
    return stmt.on_conflict_do_update(
        index_elements=[s.workspace_id, s.period, s.period_start],
        set_={name: stmt.excluded[name] for name in RECOMPUTED},
    )


SORT_COLUMNS = {"queries": "query_count", "tokens": "token_count", "logins": "login_count"}


def user_breakdown(
    conn: Connection, workspace_id: str, window: Window, *, sort: str, limit: int
) -> Sequence[RowMapping]:
    """Per-user totals in `window`, largest first by `sort`, ties by user id, at most `limit`;
    then, last and outside the limit, one row with `user_id` None totalling the events without
    a user, if there are any. One statement: the window's events are grouped once."""
    per_user = (
        sa.select(
            e.c.user_id,
            sum_of("query").label("query_count"),
            sum_of("token").label("token_count"),
            sa.func.count(sa.case((e.c.event_type == "login", 1))).label("login_count"),
        )
        .where(_in_window(workspace_id, window))
        .group_by(e.c.user_id)
        .cte("per_user")
    )
    order = per_user.c[SORT_COLUMNS[sort]]
    top = (
        sa.select(per_user, user.c.email, user.c.name)
        .select_from(per_user.outerjoin(user, user.c.id == per_user.c.user_id))
        .where(per_user.c.user_id.is_not(None))
        .order_by(order.desc(), per_user.c.user_id.asc())
        .limit(limit)
        .subquery("top")
    )
    unknown = sa.null().cast(sa.Text)
    no_user = sa.select(per_user, unknown.label("email"), unknown.label("name")).where(per_user.c.user_id.is_(None))
    both = sa.union_all(sa.select(top), no_user).subquery("both")
    ordered = sa.select(both).order_by(both.c.user_id.is_(None), both.c[order.name].desc(), both.c.user_id.asc())
    return conn.execute(ordered).mappings().all()
