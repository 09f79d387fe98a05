"""Fire-and-forget usage event logging for Python callers (DESIGN section 4).

    from atlas_cli.logger import log_usage_event, flush
    log_usage_event("acme", "query", user_id="u1")
    flush()  # optional: also done every flush_interval, when flush_at events wait, and at exit

Events are validated at once (a bad argument raises ValueError: that is a bug in the caller) and
written in batches by a background thread, like the Atlas SDK: when `flush_at` events are waiting
or every `flush_interval` seconds. Writes go through a circuit breaker: after 5 consecutive
failures it opens for 60 s, during which batches are dropped without trying the database (and
counted in `dropped`). Logging never raises because the database is down.

Nothing is built at import time: the default logger reads DATABASE_URL (else the embedded
database) on first use; `configure()` sets another one.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from atlas_cli.domain import events as rules
from atlas_cli.domain.circuit import CircuitBreaker
from atlas_cli.services.ingestion.batching import DEFAULT_FLUSH_AT, DEFAULT_FLUSH_INTERVAL, EventSink

log = logging.getLogger("atlas_cli.logger")


def _utc_now() -> datetime:
    from atlas_cli.services import utc_now

    return utc_now()


class EventLogger:
    """Batches events and writes them in the background through a circuit breaker."""

    def __init__(
        self,
        sink: EventSink,
        *,
        flush_at: int = DEFAULT_FLUSH_AT,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        breaker: CircuitBreaker | None = None,
        clock: Callable[[], datetime] = _utc_now,
        background: bool = True,
    ) -> None:
        if flush_at < 1 or flush_interval <= 0:
            raise ValueError("flush_at must be >= 1 and flush_interval > 0")
        self.flush_at, self.flush_interval = flush_at, flush_interval
        self.breaker = breaker or CircuitBreaker()
        self.written = self.duplicates = self.dropped = 0
        self._sink, self._clock, self._background = sink, clock, background
        self._pending: list[rules.Event] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._worker: threading.Thread | None = None

    def log(
        self,
        workspace_id: str,
        event_type: str,
        quantity: int = 1,
        user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        id: str | None = None,
        at: datetime | str | None = None,
        cost_usd: Decimal | int | str | None = None,
    ) -> str:
        """Queue one event; returns its id. Raises ValueError for an invalid event. `cost_usd`:
        the at-cost dollars (a Decimal, int or decimal string: never a float, which is not exact),
        written where the database records event costs; elsewhere the event is dropped with a
        warning, never stored without its cost."""
        fields = {
            "workspace_id": workspace_id,
            "event_type": event_type,
            "quantity": quantity,
            "user_id": user_id,
            "metadata": metadata,
            "id": id,
            "created_at": at.isoformat() if isinstance(at, datetime) else at,
            rules.COST_FIELD: str(cost_usd) if isinstance(cost_usd, Decimal) else cost_usd,
        }
        from atlas_cli.services.ingestion.ingest import new_event_id

        try:
            event = rules.event_from_fields(fields, default_workspace=None, now=self._clock(), new_id=new_event_id)
        except rules.InvalidEvent as exc:
            raise ValueError(exc.reason) from None
        with self._lock:
            if self._closed:
                raise ValueError("this event logger is closed")
            self._pending.append(event)
            full = len(self._pending) >= self.flush_at
        self._start_worker()
        if full:
            self._wake.set()
        return event.id

    def flush(self) -> int:
        """Write what is waiting now, in the caller's thread. Returns the events written."""
        with self._write_lock:
            with self._lock:
                events, self._pending = self._pending, []
            if not events:
                return 0
            return self._write(events)

    def _write(self, events: list[rules.Event]) -> int:
        if not self.breaker.allow():
            self.dropped += len(events)
            log.warning("atlas event logger: circuit open, dropped %d event(s)", len(events))
            return 0
        try:
            result = self._sink.write(events)
        except Exception as exc:
            self.breaker.record_failure()
            self.dropped += len(events)
            log.warning("atlas event logger: write failed (%s), dropped %d event(s)", exc, len(events))
            return 0
        self.breaker.record_success()
        self.written += result.inserted
        self.duplicates += result.duplicates
        if result.unknown:
            self.dropped += len(result.unknown)
            log.warning("atlas event logger: %d event(s) for unknown workspaces dropped", len(result.unknown))
        if result.costless:
            self.dropped += len(result.costless)
            log.warning("atlas event logger: %d event(s) with a cost dropped: %s", len(result.costless), rules.NO_COSTS)
        return result.inserted

    def _start_worker(self) -> None:
        if not self._background or self._worker is not None:
            return
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="atlas-event-logger", daemon=True)
                self._worker.start()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            self.flush()

    def close(self) -> None:
        """Write what is waiting and stop the background thread."""
        with self._lock:
            self._closed = True
        self._wake.set()
        if self._worker is not None:
            self._worker.join(timeout=5)
        self.flush()


_default: EventLogger | None = None
_default_lock = threading.Lock()
_exit_hook: list[bool] = []


def database_logger(database_url: str, **options: Any) -> EventLogger:
    """An EventLogger writing to the database at `database_url`."""
    from atlas_cli.db.database import Database
    from atlas_cli.services.ingestion.batching import DatabaseSink

    return EventLogger(DatabaseSink(Database(database_url)), **options)


def configure(database_url: str | None = None, **options: Any) -> EventLogger:
    """Replace the default logger (closing the previous one); options as for EventLogger."""
    global _default
    url = database_url or _configured_url()
    with _default_lock:
        previous, _default = _default, database_logger(url, **options)
    if previous is not None:
        previous.close()
    if not _exit_hook:
        _exit_hook.append(True)
        atexit.register(_close_default)
    return _default


def _configured_url() -> str:
    from atlas_cli.config import embedded_database_url, load_settings

    settings = load_settings()
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return embedded_database_url(settings)


def default_logger() -> EventLogger:
    with _default_lock:
        current = _default
    return current if current is not None else configure()


def _close_default() -> None:
    if _default is not None:
        _default.close()


def log_usage_event(
    workspace_id: str,
    event_type: str,
    quantity: int = 1,
    user_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    *,
    id: str | None = None,
    at: datetime | str | None = None,
    cost_usd: Decimal | int | str | None = None,
) -> str:
    """Queue one usage event on the default logger; returns its id. Raises ValueError if invalid."""
    return default_logger().log(workspace_id, event_type, quantity, user_id, metadata, id=id, at=at, cost_usd=cost_usd)


def flush() -> int:
    """Write the default logger's waiting events now."""
    return default_logger().flush() if _default is not None else 0
