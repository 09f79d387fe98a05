"""Usage reporting: the current period, history and the per-user breakdown."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from typing import TYPE_CHECKING

from atlas_cli.db import queries
from atlas_cli.db.database import Database
from atlas_cli.domain.dates import day_bounds, zone_buckets
from atlas_cli.domain.periods import PeriodKind, Window, history_buckets, settled
from atlas_cli.errors import BadInput
from atlas_cli.services import Clock, inputs
from atlas_cli.services.models import (
    BreakdownReport,
    EventTotals,
    HistoryReport,
    SummaryRow,
    UserUsage,
    Workspace,
)
from atlas_cli.services.standing import Standing, WatchSnapshot, standing
from atlas_cli.services.workspaces import period_of, resolve, subscriptions

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, RowMapping

    from atlas_cli.db.layout import Billing

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

    def watch(self, workspace: str | None, *, every: bool = False) -> WatchSnapshot:
        """Where the watched workspaces stand now: the one named, or (`every`) each workspace that
        is not deleted, by slug. --all measures every workspace set-based, as `billing check
        --all` does (a few statements per snapshot, not one round per workspace).

        Raises:
            BadInput: -w together with --all.
            NotFound: unknown workspace.
        """
        if every and workspace:
            raise BadInput("give either --workspace/-w or --all, not both")
        now = self._clock()
        with self._db.connect() as conn:
            billing = self._db.billing(conn)
            if every:
                found = _fleet_standings(conn, billing, now)
            else:
                found = [standing(conn, billing, resolve(conn, workspace, billing.layout), now)]
        return WatchSnapshot(now, tuple(sorted(found, key=lambda s: (s.workspace.slug or s.workspace.id).lower())))

    def history(
        self,
        workspace: str | None,
        *,
        period: str = "monthly",
        start: str | None = None,
        end: str | None = None,
        limit: int = 90,
        recompute: bool = False,
        zone: tzinfo = UTC,
    ) -> HistoryReport:
        """Summaries per period, newest first. A closed period whose stored summary is settled
        (computed after it closed, plus a grace, and not marked by a late write of atlas's) is
        read back; every other period (all of them with `recompute`) is recomputed from raw
        events in one statement and stored; where the database refuses writes (a read-only
        role), computed and not stored, with a note. In a time zone other than UTC the periods
        are that zone's days or months: computed from the events and shown, never stored
        (usage_summaries holds UTC periods).

        Raises:
            BadInput: unknown period, malformed or reversed dates, limit out of 1..365.
            NotFound: unknown workspace.
        """
        kind = inputs.choice(PeriodKind, period, "--period")
        now = self._clock()
        first, last = inputs.date_span(start, end, now=now, zone=zone)
        inputs.bounded(limit, "--limit", high=HISTORY_MAX)
        if zone is not UTC:
            return self._zone_history(workspace, kind, first, last, limit, zone)
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

    def _zone_history(
        self, workspace: str | None, kind: PeriodKind, first: date | None, last: date | None, limit: int, zone: tzinfo
    ) -> HistoryReport:
        now = self._clock()
        with self._db.connect() as conn:
            ws = resolve(conn, workspace, self._db.billing(conn).layout)
            floor = queries.usage_begins(conn, ws.id)
            buckets = zone_buckets(kind.value, now=now, zone=zone, start=first, end=last, limit=limit, floor=floor)
            found = queries.summaries_in_windows(conn, ws.id, [(lower, upper) for _day, lower, upper in buckets])
        rows = sorted(
            (
                SummaryRow(r["period_start"], int(r["query_count"]), int(r["token_count"]), int(r["active_users"]))
                for r in found
            ),
            key=lambda row: row.period_start,
            reverse=True,
        )
        return HistoryReport(ws, kind, tuple(rows), zone=zone)

    def breakdown(
        self,
        workspace: str | None,
        *,
        start: str | None = None,
        end: str | None = None,
        limit: int = 100,
        sort: str = "queries",
        zone: tzinfo = UTC,
    ) -> BreakdownReport:
        """Per-user usage in a date range (default: the current billing period); events without a
        user are not a user: they are totalled apart (`no_user`).

        Raises:
            BadInput: malformed or reversed dates, limit out of 1..500, unknown sort.
            NotFound: unknown workspace.
        """
        now = self._clock()
        first, last = inputs.date_span(start, end, now=now, zone=zone)
        inputs.bounded(limit, "--limit", high=BREAKDOWN_MAX)
        if sort not in SORTS:
            raise BadInput(f"--sort: {sort!r} is not one of {', '.join(SORTS)}")
        with self._db.connect() as conn:
            billing = self._db.billing(conn)
            ws = resolve(conn, workspace, billing.layout)
            period = period_of(billing, subscriptions(conn, ws), now)[0]
            lower, upper = day_bounds(first, last, zone)
            window = Window(lower or period.start, upper or period.end)
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
        return BreakdownReport(ws, window, sort, users, no_user, zone=zone)


def _fleet_standings(conn: Connection, billing: Billing, now: datetime) -> list[Standing]:
    """Every live workspace's standing, from the fleet's set-based measurements."""
    from atlas_cli.db import workspace_sets
    from atlas_cli.domain import engine
    from atlas_cli.domain.forecast import forecast
    from atlas_cli.services.fleet import facts_of, measure
    from atlas_cli.services.workspaces import trial_of

    live = workspace_sets.live_workspaces(conn, billing.layout.organization)
    targets = [Workspace.from_row(row, billing.layout) for row in live]
    measured = measure(conn, billing, targets, now, counts_required=True)
    assert measured.counts is not None  # counts_required: unreadable counts raised
    found = []
    for ws in targets:
        plan = billing.catalog.plan(ws.tier_value)
        facts = facts_of(billing, ws, measured, now)
        metrics = engine.measurements(billing.catalog, plan, facts) if plan is not None else ()
        window, source = measured.periods[ws.id]
        decision = engine.decide(billing.catalog, plan, facts)
        counts = measured.counts[ws.id]
        found.append(
            Standing(
                ws,
                billing.catalog,
                plan,
                window,
                source,
                facts,
                metrics,
                counts,
                decision,
                trial_of(ws, now),
                None,
                forecast(billing.catalog, plan, facts, window, now),
            )
        )
    return found


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
