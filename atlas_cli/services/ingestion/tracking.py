"""The library's `track`: events batched like the Atlas SDK, written through `usage ingest`'s sink,
behind the circuit breaker of DESIGN 4d, never silently lost.

Batches: written when `flush_at` events wait (default 20) or `flush_interval` seconds (default 3)
after the first one arrived, by a background thread (or, without one, by the `track` call that
finds the batch due); `flush()` writes at once; `close()` flushes and stops.

Failures: a batch whose write fails (the database is down, refuses, ...) is kept in memory, in
order, and retried with the next flush. After 5 consecutive failures the breaker opens for 60 s:
flushes then attempt no write and keep what waits; after the cool-down one write is tried (a
success closes the breaker, a failure opens it again). At most `max_kept` events are kept; beyond
that the oldest are dropped, counted in `dropped` and logged: memory stays bounded. At `close()`
what still cannot be written is appended to the `spool` file as JSON lines (the format `atlas usage
ingest` reads back, ids included, so nothing is counted twice), or, without one, logged with its
count and left in `unsent()`. Events the database answers for but cannot store (unknown workspace,
a cost where no cost column exists) are counted in `rejected` and logged: retrying cannot help.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from atlas_cli.domain import events as rules
from atlas_cli.domain.circuit import CircuitBreaker
from atlas_cli.errors import BadInput, Conflict
from atlas_cli.services.ingestion.batching import Batch, EventSink

log = logging.getLogger("atlas_cli.track")

FLUSH_AT = 20  # the Atlas SDK's defaults
FLUSH_INTERVAL = 3.0  # seconds
MAX_KEPT = 10_000


@dataclass(frozen=True)
class TrackStats:
    """What a tracker has done so far."""

    written: int  # events inserted
    duplicates: int  # events whose id was already stored: not written twice
    rejected: int  # events the database cannot store (unknown workspace, a cost without a cost column)
    waiting: int  # events in the current batch
    kept: int  # events whose write failed or was not attempted (breaker open): retried next flush
    dropped: int  # kept events beyond max_kept, oldest first
    spooled: int  # events appended to the spool file at close
    failures: int  # consecutive failed writes (the breaker opens at 5)
    breaker: str  # closed, open or half_open
    last_error: str | None


class Tracker:
    """Queues events and writes them in batches through `sink`; thread-safe."""

    def __init__(
        self,
        sink: EventSink,
        *,
        flush_at: int = FLUSH_AT,
        flush_interval: float = FLUSH_INTERVAL,
        breaker: CircuitBreaker | None = None,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float] = time.monotonic,
        background: bool = True,
        max_kept: int = MAX_KEPT,
        spool: Path | None = None,
    ) -> None:
        if flush_at < 1 or flush_interval <= 0 or max_kept < 1:
            raise BadInput("flush_at and max_kept must be 1 or more, and flush_interval above 0")
        self.breaker = breaker or CircuitBreaker(clock=monotonic)
        self._sink, self._clock, self._background, self._spool = sink, clock, background, spool
        self._batch: Batch[rules.Event] = Batch(flush_at, flush_interval, monotonic)
        self._kept: list[rules.Event] = []
        self._max_kept = max_kept
        self._written = self._duplicates = self._rejected = self._dropped = self._spooled = 0
        self._last_error: str | None = None
        self._lock = threading.Lock()  # the batch, the kept events and the counters
        self._write_lock = threading.Lock()  # one write at a time, in order
        self._wake = threading.Event()
        self._closed = False
        self._worker: threading.Thread | None = None

    def track(
        self,
        workspace: str,
        event_type: str,
        quantity: int = 1,
        *,
        user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        cost_usd: Decimal | int | str | None = None,
        event_id: str | None = None,
        at: datetime | None = None,
    ) -> str:
        """Queue one event; returns its id (the one given, or a new time-ordered UUID).

        Raises:
            BadInput: an invalid event (unknown type, a quantity below 1, a float cost, ...).
            Conflict: the tracker is closed.
        """
        if isinstance(cost_usd, float):
            raise BadInput("cost_usd must be a Decimal, an int or a decimal string, not a float (not exact)")
        fields = {
            "workspace_id": workspace,
            "event_type": event_type,
            "quantity": quantity,
            "user_id": user_id,
            "metadata": metadata,
            "id": event_id,
            "created_at": at.isoformat() if at is not None else None,
            rules.COST_FIELD: str(cost_usd) if isinstance(cost_usd, Decimal) else cost_usd,
        }
        from atlas_cli.services.ingestion.ingest import new_event_id

        try:
            event = rules.event_from_fields(fields, default_workspace=None, now=self._clock(), new_id=new_event_id)
        except rules.InvalidEvent as exc:
            raise BadInput(f"track: {exc.reason}") from None
        with self._lock:
            if self._closed:
                raise Conflict("track: this Atlas is closed")
            self._batch.add(event)
            due = self._batch.due()
        if self._background:
            self._start_worker()
            if due:
                self._wake.set()
        elif due:
            self.flush()
        return event.id

    def flush(self) -> int:
        """Write the kept events and the waiting batch now, in the caller's thread (one attempt,
        unless the breaker is open). Returns the events inserted."""
        with self._write_lock:
            with self._lock:
                events = self._kept + self._batch.take()
                self._kept = []
            if not events:
                return 0
            return self._write(events)

    def _write(self, events: list[rules.Event]) -> int:
        if not self.breaker.allow():
            self._keep(events)
            return 0
        try:
            result = self._sink.write(events)
        except Exception as exc:  # fire-and-forget: any failure keeps the events
            self.breaker.record_failure()
            self._last_error = getattr(exc, "message", None) or repr(exc)
            log.warning("atlas track: write failed (%s); %d event(s) kept", self._last_error, len(events))
            self._keep(events)
            return 0
        self.breaker.record_success()
        with self._lock:
            self._written += result.inserted
            self._duplicates += result.duplicates
            self._rejected += len(result.unknown) + len(result.costless)
        if result.unknown:
            log.warning("atlas track: %d event(s) for unknown workspaces not written", len(result.unknown))
        if result.costless:
            log.warning("atlas track: %d event(s) with a cost not written: %s", len(result.costless), rules.NO_COSTS)
        return result.inserted

    def _keep(self, events: list[rules.Event]) -> None:
        """Put unwritten events back in front of what arrived since, within max_kept."""
        with self._lock:
            kept = events + self._kept
            over = len(kept) - self._max_kept
            if over > 0:
                self._dropped += over
                kept = kept[over:]
                log.warning("atlas track: more than %d events kept; dropped the %d oldest", self._max_kept, over)
            self._kept = kept

    def unsent(self) -> tuple[rules.Event, ...]:
        """The events kept after failed or skipped writes, oldest first."""
        with self._lock:
            return tuple(self._kept)

    @property
    def stats(self) -> TrackStats:
        with self._lock:
            return TrackStats(
                self._written,
                self._duplicates,
                self._rejected,
                len(self._batch),
                len(self._kept),
                self._dropped,
                self._spooled,
                self.breaker.failures,
                str(self.breaker.state),
                self._last_error,
            )

    def _start_worker(self) -> None:
        with self._lock:
            if self._worker is None and not self._closed:
                self._worker = threading.Thread(target=self._run, name="atlas-track", daemon=True)
                self._worker.start()

    def _run(self) -> None:
        while not self._closed:
            with self._lock:
                timeout = self._batch.seconds_left()
            self._wake.wait(timeout)
            self._wake.clear()
            if self._closed:
                break
            with self._lock:
                due = self._batch.due() or (bool(self._kept) and not len(self._batch))
            if due:
                self.flush()

    def close(self) -> TrackStats:
        """Flush, stop the background thread, and keep what could not be written (the spool file,
        else a warning and `unsent()`). Closing twice does nothing more."""
        with self._lock:
            already, self._closed = self._closed, True
        if already:
            return self.stats
        self._wake.set()
        if self._worker is not None:
            self._worker.join(timeout=30)
        self.flush()
        unsent = self.unsent()
        if unsent and self._spool is not None:
            self._write_spool(self._spool, unsent)
        elif unsent:
            log.warning("atlas track: %d event(s) could not be written and were not spooled", len(unsent))
        return self.stats

    def _write_spool(self, path: Path, events: tuple[rules.Event, ...]) -> None:
        lines = "".join(json.dumps(rules.event_record(e), ensure_ascii=False) + "\n" for e in events)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(lines)
        except OSError as exc:
            log.warning("atlas track: cannot write the spool file %s (%s); %d event(s) unsent", path, exc, len(events))
            return
        with self._lock:
            self._spooled += len(events)
            self._kept = []
        log.warning("atlas track: %d event(s) could not be written; kept in %s", len(events), path)
