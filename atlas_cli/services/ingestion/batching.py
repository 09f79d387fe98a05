"""The batching and writing core shared by `atlas usage ingest` and the library event logger.

A `Batch` holds events until `flush_at` are waiting or `flush_interval` seconds have passed since
the first arrived, as the Atlas SDK does. A `DatabaseSink` writes one batch in one transaction.
`write_with_retries` retries a failing database with exponential backoff and gives up after a
number of consecutive failures; what the caller does then differs: the logger drops behind a
circuit breaker, ingest spools to a file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from atlas_cli.db.database import Database
from atlas_cli.domain.events import Event
from atlas_cli.errors import AtlasError, DatabaseUnavailable
from atlas_cli.services.ingestion.writer import BackgroundWriter, WriterGone
from atlas_cli.services.ingestion.writer import available as writer_available

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from atlas_cli.db.events import EventRow
    from atlas_cli.services.credit_deduction import Pricing

T = TypeVar("T")


def _utc_now() -> datetime:
    return datetime.now(UTC)


DEFAULT_FLUSH_AT = 1000
DEFAULT_FLUSH_INTERVAL = 1.0  # seconds


class Batch(Generic[T]):
    """Items waiting to be written; `clock` is monotonic seconds (injectable)."""

    def __init__(self, flush_at: int, flush_interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        if flush_at < 1 or flush_interval <= 0:
            raise ValueError("flush_at must be >= 1 and flush_interval > 0")
        self.flush_at = flush_at
        self.flush_interval = flush_interval
        self._clock = clock
        self._items: list[T] = []
        self._first_at = 0.0

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: T) -> bool:
        """Add `item`; whether the batch is now full."""
        items = self._items
        if not items:
            self._first_at = self._clock()
        items.append(item)
        return len(items) >= self.flush_at

    @property
    def full(self) -> bool:
        return len(self._items) >= self.flush_at

    def seconds_left(self) -> float:
        """Time until the interval makes the batch due (the whole interval when empty)."""
        if not self._items:
            return self.flush_interval
        return max(0.0, self.flush_interval - (self._clock() - self._first_at))

    def due(self) -> bool:
        return bool(self._items) and (self.full or self.seconds_left() <= 0)

    def take(self) -> list[T]:
        items, self._items = self._items, []
        return items


@dataclass(frozen=True)
class WriteResult:
    inserted: int
    duplicates: int
    unknown: tuple[int, ...] = ()  # positions of events whose workspace does not exist
    costless: tuple[int, ...] = ()  # positions of events with a cost the database has no column for


class EventSink(Protocol):
    def write(self, events: Sequence[Event]) -> WriteResult: ...


Attempt = Callable[[], WriteResult]  # a write under way: calling it waits for the outcome (or raises)
Launch = Callable[[], Attempt]  # a write prepared: calling it starts it


def prepare_write(sink: EventSink, events: Sequence[Event]) -> Launch:
    """Do what can be done for writing `events` before the previous batch is settled (with a sink
    that can: `prepare`); the returned launch starts the write. Errors come out of the attempt."""
    prepare: Callable[[Sequence[Event]], Launch] | None = getattr(sink, "prepare", None)
    if prepare is None:
        return lambda: write_now(sink, events)
    try:
        return prepare(events)
    except Exception as exc:
        failed = _raiser(exc)
        return lambda: failed


def write_now(sink: EventSink, events: Sequence[Event]) -> Attempt:
    """Write `events` in this process; errors come out of the returned attempt."""
    try:
        result = sink.write(events)
    except Exception as exc:
        return _raiser(exc)
    return lambda: result


def _raiser(exc: Exception) -> Attempt:
    def attempt() -> WriteResult:
        raise exc

    return attempt


class DatabaseSink:
    """Writes a batch in one transaction: resolve workspaces, then one idempotent bulk insert.

    With `background=True` on PostgreSQL (Linux), batches go to a child process (services.writer)
    so the next batch is read and checked while this one is stored: `prepare` resolves the
    workspaces and formats the batch, and its launch hands it over. Workspaces found are then
    remembered for the sink's life; missing ones are asked for again each time.

    Whether the database records event costs (usage_events.gateway_cost_usd) is read once, at the
    first write. Where it does not, an event with a cost is not written (`WriteResult.costless`):
    never stored without the dollars it carries.
    """

    def __init__(self, db: Database, *, background: bool = False, clock: Callable[[], datetime] | None = None) -> None:
        self._db = db
        self._background = background
        self._writer: BackgroundWriter | None = None
        self._workspaces: dict[str, str] = {}
        self._costs: bool | None = None
        self._pricing: Pricing | None = None  # credit prices (services.credit_deduction)
        self._priced_at = 0.0
        self._clock = clock

    def _has_costs(self, conn: Connection) -> bool:
        if self._costs is None:
            from atlas_cli.db import events as sql

            self._costs = sql.has_costs(conn)
        return self._costs

    def _prices(self, conn: Connection) -> Pricing:
        """The credit prices, read again every RELOAD_SECONDS (a long-lived library logger sees a new
        catalog, plan or override within that time)."""
        from atlas_cli.services.credit_deduction import RELOAD_SECONDS, pricing

        if self._pricing is None or time.monotonic() - self._priced_at >= RELOAD_SECONDS:
            self._pricing, self._priced_at = pricing(conn, self._db.billing(conn)), time.monotonic()
        return self._pricing

    def write(self, events: Sequence[Event]) -> WriteResult:
        """Raises: DatabaseUnavailable, NotConfigured."""
        from atlas_cli.db import events as sql

        with self._db.begin() as conn:
            costs = self._has_costs(conn)
            ids = sql.workspace_ids(conn, {event.workspace for event in events}).get
            rows, unknown, costless = _rows(events, ids, costs)
            prices = self._prices(conn)
            collector = prices.collector()
            inserted = sql.insert_events(conn, rows, costs=costs, inserted=collector)
            if collector is not None:
                from atlas_cli.services.credit_deduction import deduct

                deduct(conn, prices, collector.rows, (self._clock or _utc_now)(), collector.report)
        return WriteResult(inserted, len(rows) - inserted, tuple(unknown), tuple(costless))

    def prepare(self, events: Sequence[Event]) -> Launch:
        """Resolve and format `events` for the background writer (without one: write at launch).
        Raises: DatabaseUnavailable (resolving workspaces), NotConfigured."""
        if (self._costs is None or self._pricing is None) and self._background and writer_available(self._db.dialect):
            with self._db.connect() as conn:
                self._has_costs(conn)  # before the writer is forked: it is told
                self._prices(conn)
        writer = self._background_writer()
        if writer is None:
            return lambda: write_now(self, events)
        from atlas_cli.db import events as sql

        known = self._workspaces
        missing = {event.workspace for event in events} - known.keys()
        if missing:
            with self._db.connect() as conn:
                known.update(sql.workspace_ids(conn, missing))
        costs = bool(self._costs)
        rows, unknown, costless = _rows(events, known.get, costs)
        data = sql.copy_text(rows, costs=costs)

        def launch() -> Attempt:
            try:
                writer.submit(data)
            except WriterGone:
                return self._without_writer(events)

            def attempt() -> WriteResult:
                try:
                    inserted = writer.result()
                except WriterGone:
                    return self._without_writer(events)()
                return WriteResult(inserted, len(rows) - inserted, tuple(unknown), tuple(costless))

            return attempt

        return launch

    def _background_writer(self) -> BackgroundWriter | None:
        if self._writer is None and self._background and writer_available(self._db.dialect):
            try:
                prices = self._pricing
                self._writer = BackgroundWriter(
                    self._db.url, costs=bool(self._costs), pricing=prices, clock=self._clock
                )
            except OSError:  # no process to be had (limits, memory): write in this one
                self._background = False
        return self._writer

    def _without_writer(self, events: Sequence[Event]) -> Attempt:
        """The writer process is gone: write in this process from now on."""
        self._background = False
        self._close_writer()
        return write_now(self, events)

    def close(self) -> None:
        """Stop the background writer, if one was started (after the batch it is writing)."""
        self._close_writer()

    def _close_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()


def _rows(
    events: Sequence[Event], ids: Callable[[str], str | None], costs: bool
) -> tuple[list[EventRow], list[int], list[int]]:
    """The rows to insert (workspace keys resolved by `ids`), the positions of events whose
    workspace is unknown and, without `costs`, of those carrying a cost (not written)."""
    rows: list[EventRow] = []
    unknown: list[int] = []
    costless: list[int] = []
    for index, (id_, key, user, kind, qty, meta, at, _generated, cost) in enumerate(events):
        ws = ids(key)
        if ws is None:
            unknown.append(index)
        elif cost is not None and not costs:
            costless.append(index)
        else:
            rows.append((id_, ws, user, kind, qty, meta, at, cost))
    return rows, unknown, costless


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: `first_delay`, doubling, capped; stop after `max_failures` in a row."""

    max_failures: int = 5
    first_delay: float = 0.1
    max_delay: float = 2.0

    def delays(self) -> Iterator[float]:
        delay = self.first_delay
        while True:
            yield delay
            delay = min(delay * 2, self.max_delay)


class GaveUp(Exception):
    """Writing failed `failures` times in a row (or failed in a way retrying cannot fix)."""

    def __init__(self, failures: int, error: AtlasError) -> None:
        super().__init__(error.message)
        self.failures = failures
        self.error = error


def write_with_retries(
    sink: EventSink,
    events: Sequence[Event],
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    first: Attempt | None = None,
) -> WriteResult:
    """Write `events`, retrying an unavailable database; `first` is an attempt already under way
    (`prepare_write`), the retries are `sink.write`. Raises GaveUp."""
    delays = policy.delays()
    failures = 0
    attempt = first or (lambda: sink.write(events))
    while True:
        try:
            return attempt()
        except DatabaseUnavailable as exc:
            failures += 1
            if failures >= policy.max_failures:
                raise GaveUp(failures, exc) from exc
            sleep(next(delays))
        except AtlasError as exc:  # not configured, refused: retrying cannot help
            raise GaveUp(failures + 1, exc) from exc
        attempt = lambda: sink.write(events)  # noqa: E731
