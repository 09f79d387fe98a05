"""Retry/backoff, spooling and the library logger, with a writer that fails at the boundary.

(End-to-end failures on real databases are in tests/integration/test_events_ingest.py.)
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from atlas_cli.domain.circuit import CircuitBreaker
from atlas_cli.domain.events import Event
from atlas_cli.errors import DatabaseUnavailable, NotConfigured
from atlas_cli.logger import EventLogger
from atlas_cli.services.ingestion.batching import GaveUp, RetryPolicy, WriteResult, write_with_retries
from atlas_cli.services.ingestion.ingest import IngestOptions, IngestService

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


class FlakySink:
    """Fails with `error` on the calls listed in `failing` (1-based), else stores the events."""

    def __init__(self, failing: set[int] | None = None, error: Exception | None = None) -> None:
        self.failing = failing or set()
        self.error = error or DatabaseUnavailable("database unavailable at test: connection refused")
        self.calls = 0
        self.stored: dict[str, Event] = {}

    def write(self, events: Sequence[Event]) -> WriteResult:
        self.calls += 1
        if self.calls in self.failing:
            raise self.error
        before = len(self.stored)
        for ev in events:
            self.stored.setdefault(ev.id, ev)
        inserted = len(self.stored) - before
        return WriteResult(inserted, len(events) - inserted)


def events(n: int) -> list[Event]:
    return [Event(f"00000000-0000-4000-8000-{i:012d}", "acme", None, "query", 1, None, NOW) for i in range(n)]


def test_retries_back_off_doubling_and_a_success_ends_them() -> None:
    sleeps: list[float] = []
    sink = FlakySink({1, 2, 3})
    result = write_with_retries(sink, events(2), RetryPolicy(first_delay=0.1, max_delay=0.3), sleeps.append)
    assert result.inserted == 2 and sleeps == [0.1, 0.2, 0.3]


def test_five_consecutive_failures_give_up() -> None:
    sleeps: list[float] = []
    with pytest.raises(GaveUp) as exc:
        write_with_retries(FlakySink(set(range(1, 10))), events(1), RetryPolicy(), sleeps.append)
    assert exc.value.failures == 5 and sleeps == [0.1, 0.2, 0.4, 0.8]


def test_an_error_retrying_cannot_fix_gives_up_at_once() -> None:
    sink = FlakySink({1}, NotConfigured("no Atlas tables"))
    with pytest.raises(GaveUp) as exc:
        write_with_retries(sink, events(1), RetryPolicy(), lambda _s: pytest.fail("no sleep"))
    assert exc.value.failures == 1 and sink.calls == 1


def ingest_lines(sink: FlakySink, lines: list[str], tmp_path: Path, flush_at: int = 2) -> object:
    service = IngestService(sink, lambda: NOW, sleep=lambda _s: None)
    stream = io.BytesIO(("\n".join(lines) + "\n").encode())
    opts = IngestOptions(workspace="acme", flush_at=flush_at, spool=tmp_path / "spool.jsonl")
    return service.ingest(stream, opts)


def test_after_giving_up_every_unwritten_event_is_spooled_with_its_id(tmp_path: Path) -> None:
    lines = [json.dumps({"event_type": "query", "quantity": i + 1}) for i in range(7)]
    sink = FlakySink(set(range(2, 20)))  # the first batch is written, then the database is gone
    report = ingest_lines(sink, lines, tmp_path)
    spooled = [json.loads(x) for x in (tmp_path / "spool.jsonl").read_text().splitlines()]
    assert (report.accepted, report.spooled, report.exit_code) == (2, 5, 7)  # type: ignore[attr-defined]
    assert [s["quantity"] for s in spooled] == [3, 4, 5, 6, 7]
    assert all(s["id"] and s["workspace_id"] == "acme" for s in spooled)
    assert sink.calls == 6  # one success, then five failures for the second batch, no more attempts
    assert not set(sink.stored) & {s["id"] for s in spooled}


def test_the_logger_drops_while_the_breaker_is_open_and_writes_again_after_it() -> None:
    now = [0.0]
    sink = FlakySink(set(range(1, 6)))
    logger = EventLogger(
        sink, flush_at=1000, breaker=CircuitBreaker(clock=lambda: now[0]), background=False, clock=lambda: NOW
    )
    for _ in range(5):  # five failing flushes open the breaker
        logger.log("acme", "query")
        assert logger.flush() == 0
    logger.log("acme", "query")
    logger.flush()
    assert sink.calls == 5 and logger.dropped == 6  # the sixth batch was not even attempted
    now[0] = 61.0
    logger.log("acme", "token", 10, user_id="u1")
    assert logger.flush() == 1 and sink.calls == 6 and logger.written == 1


def test_the_logger_rejects_bad_arguments_at_once() -> None:
    logger = EventLogger(FlakySink(), background=False)
    with pytest.raises(ValueError, match="unknown event_type"):
        logger.log("acme", "click")
    with pytest.raises(ValueError, match="positive integer"):
        logger.log("acme", "query", 0)


def test_the_logger_flushes_when_flush_at_events_wait() -> None:
    sink = FlakySink()
    logger = EventLogger(sink, flush_at=3, flush_interval=60.0)
    ids = [logger.log("acme", "query") for _ in range(3)]
    deadline = time.monotonic() + 5
    while len(sink.stored) < 3 and time.monotonic() < deadline:  # the background thread writes it
        time.sleep(0.01)
    assert set(sink.stored) == set(ids) and logger.written == 3
    logger.close()


class BackgroundSink(FlakySink):
    """Writes at launch like a background writer would; records when each write is settled."""

    def __init__(self) -> None:
        super().__init__()
        self.settled = threading.Event()

    def prepare(self, batch: Sequence[Event]) -> Callable[[], Callable[[], WriteResult]]:
        def launch() -> Callable[[], WriteResult]:
            def attempt() -> WriteResult:
                self.settled.set()
                return self.write(batch)

            return attempt

        return launch


def test_a_quiet_stream_settles_the_batch_being_written_without_waiting_for_more_input() -> None:
    """Otherwise a failing batch would not be retried (nor spooled) until the next line came."""
    sink = BackgroundSink()
    read_end, write_end = os.pipe()
    seen_while_open: list[bool] = []

    def producer() -> None:
        os.write(write_end, b'{"event_type": "query", "workspace_id": "acme"}\n' * 2)
        seen_while_open.append(sink.settled.wait(10))
        os.close(write_end)

    thread = threading.Thread(target=producer)
    thread.start()
    with os.fdopen(read_end, "rb") as stream:
        report = IngestService(sink, lambda: NOW).ingest(stream, IngestOptions(flush_interval=0.05))
    thread.join()
    assert seen_while_open == [True] and report.accepted == 2
