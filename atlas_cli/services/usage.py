"""Usage reporting: the current period, history and the per-user breakdown."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from atlas_cli.db import queries
from atlas_cli.db.database import Database
from atlas_cli.domain.periods import PeriodKind, Window, date_range, history_buckets, settled
from atlas_cli.errors import BadInput
from atlas_cli.services import Clock, inputs
from atlas_cli.services.models import (
    BreakdownReport,
    EventTotals,
    HistoryReport,
    SummaryRow,
    UserUsage,
)
from atlas_cli.services.standing import Standing, standing
from atlas_cli.services.workspaces import period_of, resolve, subscriptions

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, RowMapping

HISTORY_MAX = 365
BREAKDOWN_MAX = 500
SORTS = ("queries", "tokens", "logins")
NOT_STORED = (
    "Note: this database connection may not write usage_summaries (a read-only role?): "
    "the summaries were computed from the events and shown, not stored."
)


class UsageService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def current(self, workspace: str | None) -> Standing:
        """The current billing period's usage against the plan's limits, in the database's model.

        Raises:
            NotFound: unknown workspace.
        """
        now = self._clock()
        with self._db.connect() as conn:
            billing = self._db.billing(conn)
            return standing(conn, billing, resolve(conn, workspace, billing.layout), now)

    def history(
        self,
        workspace: str | None,
        *,
        period: str = "monthly",
        start: str | None = None,
        end: str | None = None,
        limit: int = 90,
        recompute: bool = False,
    ) -> HistoryReport:
        """Summaries per period, newest first. A closed period whose stored summary is settled
        (computed after it closed, plus a grace, and not marked by a late write of atlas's) is
        read back; every other period (all of them with `recompute`) is recomputed from raw
        events in one statement and stored; where the database refuses writes (a read-only
        role), computed and not stored, with a note.

        Raises:
            BadInput: unknown period, malformed or reversed dates, limit out of 1..365.
            NotFound: unknown workspace.
        """
        kind = inputs.choice(PeriodKind, period, "--period")
        now = self._clock()
        first, last = inputs.date_span(start, end, now=now)
        inputs.bounded(limit, "--limit", high=HISTORY_MAX)
        with self._db.begin() as conn:
            ws = resolve(conn, workspace, self._db.billing(conn).layout)
            floor = queries.usage_begins(conn, ws.id)
            buckets = history_buckets(kind, now=now, start=first, end=last, limit=limit, floor=floor)
            found, stored = _served_and_recomputed(conn, ws.id, kind.value, buckets, now, recompute)
        rows = sorted(
            (
                SummaryRow(
                    r["period_start"],
                    int(r["query_count"]),
                    int(r["token_count"]),
                    int(r["active_users"]),
                    id=None if r["id"] is None else str(r["id"]),
                    storage_bytes=int(r["storage_bytes"]),
                    updated_at=r["updated_at"],
                )
                for r in found
            ),
            key=lambda row: row.period_start,
            reverse=True,
        )
        note = None if stored else NOT_STORED
        return HistoryReport(ws, kind, tuple(rows), note=note)

    def breakdown(
        self,
        workspace: str | None,
        *,
        start: str | None = None,
        end: str | None = None,
        limit: int = 100,
        sort: str = "queries",
    ) -> BreakdownReport:
        """Per-user usage in a date range (default: the current billing period); events without a
        user are not a user: they are totalled apart (`no_user`).

        Raises:
            BadInput: malformed or reversed dates, limit out of 1..500, unknown sort.
            NotFound: unknown workspace.
        """
        now = self._clock()
        first, last = inputs.date_span(start, end, now=now)
        inputs.bounded(limit, "--limit", high=BREAKDOWN_MAX)
        if sort not in SORTS:
            raise BadInput(f"--sort: {sort!r} is not one of {', '.join(SORTS)}")
        with self._db.connect() as conn:
            billing = self._db.billing(conn)
            ws = resolve(conn, workspace, billing.layout)
            window = date_range(first, last, period_of(billing, subscriptions(conn, ws), now)[0])
            rows = queries.user_breakdown(conn, ws.id, window, sort=sort, limit=limit)
        users = tuple(
            UserUsage(
                r["user_id"], r["email"], r["name"], int(r["query_count"]), int(r["token_count"]), int(r["login_count"])
            )
            for r in rows
            if r["user_id"] is not None
        )
        no_user = next(
            (
                EventTotals(int(r["query_count"]), int(r["token_count"]), int(r["login_count"]))
                for r in rows
                if r["user_id"] is None
            ),
            EventTotals(),
        )
        return BreakdownReport(ws, window, sort, users, no_user)


def _served_and_recomputed(
    conn: Connection, workspace_id: str, period: str, buckets: list[Window], now: datetime, recompute: bool
) -> tuple[list[RowMapping], bool]:
    """The settled stored rows of `buckets`, and the others recomputed (and stored if allowed)."""
    if recompute:
        starts = [b.start for b in buckets]
        return queries.summaries_stored_if_allowed(conn, workspace_id, period, buckets, now, clear=starts)
    stored = queries.stored_summaries(conn, workspace_id, period, buckets)
    served: list[RowMapping] = []
    fresh: list[Window] = []
    for bucket in buckets:
        row = stored.get(bucket.start)
        if row is not None and settled(bucket, row["updated_at"], now, marked=bool(row["marked"])):
            served.append(row)
        else:
            fresh.append(bucket)
    marked = [b.start for b in fresh if b.start in stored and stored[b.start]["marked"]]
    found, kept = queries.summaries_stored_if_allowed(conn, workspace_id, period, fresh, now, clear=marked)
    return served + found, kept
