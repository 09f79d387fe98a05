"""atlas for Python applications: entitlement checks and usage tracking (DESIGN 4c, 4d).

    from atlas_cli import Atlas

    with Atlas("postgresql://atlas@db/atlas", counters={"projects": count_projects}) as atlas:
        decision = atlas.check("acme", "projects")      # the same decision as `atlas entitlements check`
        if decision.allowed:
            create_project()
            atlas.track("acme", "query", user_id="u1")  # batched; written like `atlas usage ingest`

`check` decides with the same service as the CLI; `track` writes through the same sink as
`usage ingest` (idempotent by event id), batched like the Atlas SDK and behind its circuit breaker
(services.ingestion.tracking says exactly what happens to events that cannot be written).
docs/library.md is the guide.
"""

from __future__ import annotations

import atexit
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from atlas_cli.errors import BadInput

if TYPE_CHECKING:
    from atlas_cli.db.database import Database
    from atlas_cli.domain.circuit import CircuitBreaker
    from atlas_cli.domain.entitlements import Decision
    from atlas_cli.services.ingestion.tracking import Tracker, TrackStats

Counter = Callable[[str], int]  # a workspace id -> the current count of a limit feature
_COUNTABLE = ("no_counter", "ok", "limit_reached")  # the reasons of a limit checked without a count


class Atlas:
    """One database, opened once: `check` features and `track` usage events. Close it (or use it
    as a context manager); it is also closed at interpreter exit, flushing what waits."""

    def __init__(
        self,
        database_url: str | None = None,
        *,
        counters: Mapping[str, Counter] | None = None,
        billing_model: str | None = None,
        flush_at: int = 20,
        flush_interval: float = 3.0,
        spool: str | Path | None = None,
        max_kept: int = 10_000,
        background: bool = True,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        """Args:
            database_url: the Atlas internal database (`postgres://`, `postgresql://`, `sqlite:///`);
                None: DATABASE_URL (environment, then `.env`), else the embedded database of `atlas demo`.
            counters: a callable per limit feature, `fn(workspace_id) -> int`, used by `check` when
                the feature has no counter of its own and no `count` is given.
            billing_model: `classic` or `per-seat`, overriding detection (as ATLAS_BILLING_MODEL).
            flush_at, flush_interval: a batch of tracked events is written at `flush_at` events or
                `flush_interval` seconds after its first event.
            spool: a file that receives, at close, the events that could not be written (JSON
                lines that `atlas usage ingest` takes again).
            max_kept: at most this many unwritten events are kept in memory (the oldest go first).
            background: write batches from a background thread (else from `track` and `flush`).
            clock, monotonic, breaker: injectable time (for tests) and circuit breaker.

        Raises:
            BadInput: a URL atlas cannot use (never echoed), bad batching settings.
        """
        import time

        from atlas_cli.db.database import Database
        from atlas_cli.services import utc_now
        from atlas_cli.services.ingestion.batching import DatabaseSink
        from atlas_cli.services.ingestion.tracking import Tracker

        self._clock = clock or utc_now
        url = database_url if database_url is not None else _configured_url()
        self._db: Database = Database(url, billing_model=billing_model)
        self._counters: dict[str, Counter] = dict(counters or {})
        self._tracker: Tracker = Tracker(
            DatabaseSink(self._db),
            flush_at=flush_at,
            flush_interval=flush_interval,
            breaker=breaker,
            clock=self._clock,
            monotonic=monotonic or time.monotonic,
            background=background,
            max_kept=max_kept,
            spool=Path(spool) if spool is not None else None,
        )
        self._closed = False
        atexit.register(self.close)

    # --- entitlements ---------------------------------------------------------------------

    def check(self, workspace: str, feature: str, quantity: int = 1, count: int | None = None) -> Decision:
        """Whether `workspace` (id or slug) may use `quantity` more of `feature` now: the decision
        of `atlas entitlements check` (`decision_json` gives its JSON), reason included.

        `count` is the current count of a limit feature; without it, the feature's counter counts,
        else the callable registered for the feature, else the answer is `no_counter`.

        Raises:
            NotFound: unknown workspace or feature. BadInput: a quantity below 1, a negative count
            (or a callable returning one), a count for a feature that is not a limit.
            DatabaseUnavailable, NotConfigured: the database cannot be read.
        """
        from atlas_cli.services.entitlements import check

        decision = check(self._db, workspace, feature, quantity, count, now=self._clock())
        counter = self._counters.get(feature)
        # Nothing counted it (no_counter, or a feature that allows checks without a count): ask the callable.
        uncounted = decision.kind == "limit" and decision.used is None
        if count is None and counter is not None and uncounted and decision.reason in _COUNTABLE:
            counted = counter(decision.workspace_id)
            if isinstance(counted, bool) or not isinstance(counted, int):
                raise BadInput(f"the counter of {feature!r} returned {counted!r}, not an integer")
            decision = check(self._db, decision.workspace_id, feature, quantity, counted, now=self._clock())
        return decision

    def counter(self, feature: str) -> Callable[[Counter], Counter]:
        """Register the decorated `fn(workspace_id) -> int` as the counter of `feature`."""

        def register(fn: Counter) -> Counter:
            self._counters[feature] = fn
            return fn

        return register

    # --- usage events ---------------------------------------------------------------------

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
    ) -> str:
        """Queue one usage event of `workspace` (id or slug); returns its id. Never waits for the
        database and never raises because it is down (see `stats` and docs/library.md).

        `cost_usd` (per-seat databases): the at-cost dollars, a Decimal, int or decimal string.
        `event_id`: a UUID of your own, so a retry never counts twice.

        Raises:
            BadInput: an invalid event. Conflict: this Atlas is closed.
        """
        return self._tracker.track(
            workspace, event_type, quantity, user_id=user_id, metadata=metadata, cost_usd=cost_usd, event_id=event_id
        )

    def flush(self) -> int:
        """Write what waits now (one attempt, unless the breaker is open); the events inserted."""
        return self._tracker.flush()

    @property
    def stats(self) -> TrackStats:
        """Counts of tracked events: written, duplicates, rejected, waiting, kept, dropped, spooled,
        and the breaker's state."""
        return self._tracker.stats

    def unsent(self) -> tuple[dict[str, Any], ...]:
        """The events kept after failed or skipped writes, as `atlas usage ingest` lines."""
        from atlas_cli.domain.events import event_record

        return tuple(event_record(event) for event in self._tracker.unsent())

    # --- lifetime -------------------------------------------------------------------------

    def close(self) -> TrackStats:
        """Flush, stop the background thread, spool what cannot be written, release the database."""
        stats = self._tracker.close()
        if not self._closed:
            self._closed = True
            atexit.unregister(self.close)
            self._db.dispose()
        return stats

    def __enter__(self) -> Atlas:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _configured_url() -> str:
    from atlas_cli.config import embedded_database_url, load_settings

    settings = load_settings()
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return embedded_database_url(settings)


def decision_json(decision: Decision) -> dict[str, Any]:
    """A decision as `atlas entitlements check --json` prints it."""
    from atlas_cli.render.entitlements import decision_json as shape

    return shape(decision)
