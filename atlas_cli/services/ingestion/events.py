"""Usage events in and out: record one, ingest many, aggregate, verify, export."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, BinaryIO

from atlas_cli.db.database import Database
from atlas_cli.domain import events as rules
from atlas_cli.domain.dates import day_bounds
from atlas_cli.domain.events import InvalidEvent
from atlas_cli.domain.periods import (
    PeriodKind,
    Window,
    add_months,
    bucket_start,
    day_start,
    month_start,
    next_bucket,
)
from atlas_cli.errors import BadInput
from atlas_cli.services import Clock, inputs
from atlas_cli.services.ingestion.batching import DatabaseSink
from atlas_cli.services.ingestion.ingest import (
    IngestOptions,
    IngestReport,
    IngestService,
    Progress,
    Rejection,
    StopRequest,
    new_event_id,
    resolve_default_workspace,
)
from atlas_cli.services.workspaces import resolve

PERIOD_CHOICES = ("daily", "monthly", "both")
EXPORT_FETCH = 2000


@dataclass(frozen=True)
class RecordResult:
    id: str
    workspace_id: str
    event_type: str
    quantity: int
    user_id: str | None
    created_at: datetime
    generated_id: bool
    duplicate: bool
    cost_usd: Decimal | None = None
    costs: bool = False  # the database records event costs (then the cost is shown, null or not)


@dataclass(frozen=True)
class PeriodCount:
    period: str
    periods: int
    rows: int


@dataclass(frozen=True)
class AggregateReport:
    workspace_id: str | None  # None: every workspace
    since: datetime
    until: datetime
    kinds: tuple[PeriodCount, ...]

    @property
    def rows(self) -> int:
        return sum(k.rows for k in self.kinds)


@dataclass(frozen=True)
class Mismatch:
    workspace_id: str
    period: str
    period_start: datetime
    stored: tuple[int, int, int] | None  # query_count, token_count, active_users; None: no row
    actual: tuple[int, int, int]


@dataclass(frozen=True)
class VerifyReport:
    workspace_id: str | None
    since: datetime
    until: datetime
    periods: tuple[str, ...]
    mismatches: tuple[Mismatch, ...]


def buckets_since(kind: PeriodKind, since: datetime, now: datetime) -> list[Window]:
    """Every period from the one holding `since` to the one holding `now`, oldest first."""
    buckets: list[Window] = []
    cursor = bucket_start(kind, since)
    while cursor <= now:
        end = next_bucket(kind, cursor)
        buckets.append(Window(cursor, end))
        cursor = end
    return buckets


def _kinds(period: str) -> tuple[PeriodKind, ...]:
    chosen = period.strip().lower()
    if chosen not in PERIOD_CHOICES:
        raise BadInput(f"--period: {period!r} is not one of {', '.join(PERIOD_CHOICES)}")
    return (PeriodKind.DAILY, PeriodKind.MONTHLY) if chosen == "both" else (PeriodKind(chosen),)


def _since(value: str | None, now: datetime) -> datetime:
    """--since as a UTC midnight; default: the start of the previous calendar month."""
    day = inputs.parse_date(value, "--since", now=now)
    if day is None:
        return add_months(month_start(now), -1)
    since = day_start(day)
    if since > now:
        raise BadInput(f"--since {day.isoformat()} is in the future")
    return since


def _span(since: str | None, end: str | None, now: datetime) -> tuple[datetime, datetime]:
    start, until = _since(since, now), _until(end, now)
    if until < start:
        raise BadInput(f"--end {end} is before --start {start.date().isoformat()}")
    return start, until


def _until(value: str | None, now: datetime) -> datetime:
    """The last instant of --end's day (UTC), but not after now; default: now."""
    day = inputs.parse_date(value, "--end", now=now)
    if day is None:
        return now
    return min(now, day_start(day) + timedelta(days=1) - timedelta(microseconds=1))


def _floored(conn: Any, since: datetime, workspace_id: str | None) -> tuple[datetime, bool]:
    """`since`, but not before the usage of the workspace (of any, for --all) can begin; and
    whether there is a workspace at all."""
    from atlas_cli.db import queries

    floor = queries.usage_begins(conn, workspace_id)
    return (since if floor is None else max(since, floor)), floor is not None


class EventService:
    def __init__(self, db: Database, clock: Clock, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._db = db
        self._clock = clock
        self._sleep = sleep

    def record(
        self,
        workspace: str | None,
        *,
        event_type: str,
        quantity: int = 1,
        user_id: str | None = None,
        metadata: str | None = None,
        event_id: str | None = None,
        at: str | None = None,
        cost_usd: str | None = None,
    ) -> RecordResult:
        """Insert one event; the same id again is reported as a duplicate and not counted.

        Raises:
            BadInput: unknown type, quantity < 1, bad metadata, id, time or cost, or a cost on a
                database that does not record costs.
            NotFound: unknown workspace.
        """
        fields = {
            "event_type": event_type,
            "quantity": quantity,
            "user_id": user_id,
            "metadata": metadata,
            "id": event_id,
            "created_at": at,
            rules.COST_FIELD: cost_usd,
        }
        try:  # the workspace is resolved below, in the transaction that inserts
            event = rules.event_from_fields(fields, default_workspace="-", now=self._clock(), new_id=new_event_id)
        except InvalidEvent as exc:
            raise BadInput(exc.reason) from None
        from atlas_cli.db import events as sql
        from atlas_cli.services.credit_deduction import deduct as deduct_credits
        from atlas_cli.services.credit_deduction import pricing as credit_pricing

        with self._db.begin() as conn:
            ws = resolve(conn, workspace)
            costs = sql.has_costs(conn)
            if event.cost_usd is not None and not costs:
                raise BadInput(f"--cost-usd: {rules.NO_COSTS}")
            row = (event.id, ws.id, event.user_id, event.event_type, event.quantity, event.metadata, event.created_at)
            prices = credit_pricing(conn, self._db.billing(conn))
            collector = prices.collector()
            inserted = sql.insert_events(conn, [(*row, event.cost_usd)], costs=costs, inserted=collector)
            if collector is not None:
                deduct_credits(conn, prices, collector.rows, self._clock(), collector.report)
        return RecordResult(
            event.id,
            ws.id,
            event.event_type,
            event.quantity,
            event.user_id,
            event.created_at,
            event.generated_id,
            duplicate=inserted == 0,
            cost_usd=event.cost_usd,
            costs=costs,
        )

    def ingest(
        self,
        stream: BinaryIO,
        opts: IngestOptions,
        *,
        stop: StopRequest | None = None,
        on_reject: Callable[[Rejection], None] | None = None,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Ingest event lines from `stream` (see services.ingest).

        Raises:
            BadInput: bad options or CSV header. NotFound: unknown -w workspace.
            DatabaseUnavailable: the database is down before anything was read.
        """
        opts = replace(opts, workspace=resolve_default_workspace(self._db, opts.workspace))
        if opts.event_costs is None:
            opts = replace(opts, event_costs=self._records_costs())
        sink = DatabaseSink(self._db, background=True, clock=self._clock)
        try:
            service = IngestService(sink, self._clock, sleep=self._sleep)
            return service.ingest(stream, opts, stop=stop, on_reject=on_reject, progress=progress)
        finally:
            sink.close()

    def _records_costs(self) -> bool | None:
        """Whether the database has usage_events.gateway_cost_usd; None when it cannot be asked
        now (unavailable: ingest retries and spools, and the sink asks again when writing)."""
        from atlas_cli.db import events as sql
        from atlas_cli.errors import DatabaseUnavailable

        try:
            with self._db.connect() as conn:
                return sql.has_costs(conn)
        except DatabaseUnavailable:
            return None

    def _scope(self, conn: Any, workspace: str | None, every: bool) -> str | None:
        """The workspace id to work on, or None for --all. Raises BadInput, NotFound."""
        if every:
            if workspace:
                raise BadInput("give either --workspace/-w or --all, not both")
            return None
        return resolve(conn, workspace).id

    def aggregate(
        self,
        workspace: str | None,
        *,
        every: bool = False,
        since: str | None = None,
        period: str = "both",
        end: str | None = None,
    ) -> AggregateReport:
        """Recompute usage_summaries from raw events for every period since `since`, set-based:
        one statement per period kind, for one workspace or all of them.

        Raises:
            BadInput: bad period or date, -w with --all, several workspaces and none named.
            NotFound: unknown workspace.
        """
        from atlas_cli.db import summaries

        kinds, now = _kinds(period), self._clock()
        start, until = _span(since, end, now)
        counts: list[PeriodCount] = []
        with self._db.begin() as conn:
            scope = self._scope(conn, workspace, every)
            start, begun = _floored(conn, start, scope)
            for kind in kinds:
                buckets = buckets_since(kind, start, until) if begun else []
                counts.append(
                    PeriodCount(kind.value, len(buckets), summaries.aggregate(conn, kind.value, buckets, scope, now))
                )
        return AggregateReport(scope, start, until, tuple(counts))

    def verify(
        self,
        workspace: str | None,
        *,
        every: bool = False,
        since: str | None = None,
        period: str = "both",
        end: str | None = None,
    ) -> VerifyReport:
        """Compare stored usage_summaries with a fresh computation from raw events; reads only.

        Raises:
            BadInput: bad period or date, -w with --all. NotFound: unknown workspace.
        """
        from atlas_cli.db import summaries

        kinds, now = _kinds(period), self._clock()
        start, until = _span(since, end, now)
        found: list[Mismatch] = []
        with self._db.connect() as conn:
            scope = self._scope(conn, workspace, every)
            start, begun = _floored(conn, start, scope)
            for kind in kinds:
                buckets = buckets_since(kind, start, until) if begun else []
                for r in summaries.mismatches(conn, kind.value, buckets, scope):
                    stored = (
                        None
                        if r["stored_query_count"] is None
                        else (int(r["stored_query_count"]), int(r["stored_token_count"]), int(r["stored_active_users"]))
                    )
                    actual = (int(r["query_count"]), int(r["token_count"]), int(r["active_users"]))
                    found.append(Mismatch(r["workspace_id"], kind.value, r["period_start"], stored, actual))
        return VerifyReport(scope, start, until, tuple(k.value for k in kinds), tuple(found))

    def export(
        self,
        workspace: str | None,
        *,
        start: str | None,
        end: str | None,
        emit: Callable[[Sequence[Any]], None],
        fetch: int = EXPORT_FETCH,
        fields: Callable[[tuple[str, ...]], None] | None = None,
        zone: tzinfo = UTC,
        lines: tuple[str, Callable[[bytes], None]] | None = None,
    ) -> int:
        """Stream raw events ordered by (created_at, id) to `emit`, `fetch` rows per round trip:
        each a row of `rules.FIELDS` in order (also by name: `row.created_at`), then `cost_usd`
        (an exact Decimal, or None) where the database records event costs. `fields` is told the
        field names once, before the first row. Without a workspace, every workspace's. Returns
        how many were emitted. `lines`: (format, write), the output's format (csv or ndjson) and where
        its UTF-8 lines may go in blocks: on PostgreSQL the database then makes the lines itself
        (`COPY ... TO STDOUT`), and only the rows it cannot format exactly reach `emit`.

        Raises:
            BadInput: malformed or reversed dates. NotFound: unknown workspace.
        """
        from atlas_cli.db import events as sql

        first, last = inputs.date_span(start, end, now=self._clock(), zone=zone)
        lower, upper = day_bounds(first, last, zone)
        count = 0
        with self._db.connect() as conn:
            scope = resolve(conn, workspace).id if workspace else None
            costs = sql.has_costs(conn)
            if fields is not None:
                fields(rules.ALL_FIELDS if costs else rules.FIELDS)
            if lines is not None and conn.dialect.name == "postgresql":
                from atlas_cli.db.export import copy_events

                fmt, write = lines
                return copy_events(
                    conn, fmt=fmt, workspace_id=scope, start=lower, end=upper, costs=costs, write=write, fallback=emit
                )
            rows = sql.stream_events(conn, workspace_id=scope, start=lower, end=upper, yield_per=fetch, costs=costs)
            for row in rows:
                emit(row)
                count += 1
        return count
