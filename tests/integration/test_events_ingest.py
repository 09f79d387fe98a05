"""Ingestion on real SQLite and PostgreSQL: idempotency, rejections, failures, spool, logger."""

from __future__ import annotations

import io
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql

from atlas_cli.db.database import Database
from atlas_cli.domain.events import Event
from atlas_cli.errors import DatabaseUnavailable
from atlas_cli.logger import database_logger
from atlas_cli.services.ingestion.batching import DatabaseSink, WriteResult
from atlas_cli.services.ingestion.events import EventService
from atlas_cli.services.ingestion.ingest import IngestOptions, IngestReport, IngestService
from tests.events_fixtures import event_count, event_ids, events_db, line, new_id, prepare, totals

__all__ = ["events_db"]

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


def ingest(db: Database, text: str, sink: Any = None, **options: Any) -> IngestReport:
    opts = IngestOptions(**{"flush_at": 1000, **options})
    stream = io.BytesIO(text.encode())
    if sink is None:
        return EventService(db, lambda: NOW, sleep=lambda _s: None).ingest(stream, opts)
    return IngestService(sink, lambda: NOW, sleep=lambda _s: None).ingest(stream, opts)


def jsonl(lines: Sequence[str]) -> str:
    return "\n".join(lines) + "\n"


def test_duplicates_within_a_file_and_across_runs_count_once(events_db: tuple[str, Database]) -> None:
    _url, db = events_db
    text = jsonl(
        [
            line(id=new_id(1), quantity=2),
            line(id=new_id(2), quantity=3),
            line(id=new_id(1), quantity=2),
            line("token", id=new_id(3), quantity=50),
            line(id=new_id(2), quantity=3),
            line("token", id=new_id(3), quantity=50),
        ]
    )
    first = ingest(db, text, flush_at=4)  # one duplicate in the first batch, two across batches
    assert (first.lines, first.accepted, first.duplicates, first.rejected, first.exit_code) == (6, 3, 3, 0, 0)
    again = ingest(db, text, flush_at=2)
    assert (again.accepted, again.duplicates) == (0, 6)
    assert totals(db) == {("ws_acme", "query"): 5, ("ws_acme", "token"): 50}


def test_events_without_id_get_new_ones_and_are_counted(events_db: tuple[str, Database]) -> None:
    _url, db = events_db
    text = jsonl([line(), line(), line(id=new_id(1))])
    report = ingest(db, text)
    assert (report.accepted, report.generated_ids) == (3, 2)
    assert ingest(db, text).accepted == 2  # without an id an event cannot be recognised again


BAD_LINES = [
    ('{"event_type": "click", "workspace_id": "ws_acme"}', "unknown event_type 'click'"),
    ('{"event_type": "query", "workspace_id": "ws_acme", "quantity": 0}', "quantity must be a positive integer"),
    ('{"event_type": "query", "workspace_id": "ws_acme", "quantity": "many"}', "quantity must be a positive"),
    ('{"event_type": "query", "workspace_id": "ws_acme", "created_at": "31/01/2026"}', "bad created_at"),
    ('{"event_type": "query", "workspace_id": "ws_acme", "id": "42"}', "bad id '42': not a UUID"),
    ('{"event_type": "query", "workspace_id": "ws_nowhere"}', "unknown workspace 'ws_nowhere'"),
    ('{"event_type": "query", "workspace_id": "ws_acme", "metadata": "x"}', "bad metadata 'x': not JSON"),
    ('{"event_type": "query", "workspace_id": "ws_acme", "metadata": [1]}', "bad metadata [1]: must be a JSON"),
    ('{"event_type": "query", "workspace_id": "ws_acme"', "bad JSON"),
]


def test_each_bad_line_is_rejected_with_its_number_and_the_good_ones_are_written(
    events_db: tuple[str, Database], tmp_path: Path
) -> None:
    _url, db = events_db
    good = [line(id=new_id(i), quantity=i) for i in range(1, 4)]
    text = jsonl([good[0], *(bad for bad, _ in BAD_LINES), "", "# a comment", good[1], good[2]])
    report = ingest(db, text, rejects=tmp_path / "rejects.jsonl", flush_at=3)
    assert (report.accepted, report.rejected, report.exit_code) == (3, len(BAD_LINES), 2)
    found = {r.line: r.reason for r in report.rejections}
    for number, (_bad, reason) in enumerate(BAD_LINES, start=2):
        assert reason in found[number], (number, found)
    assert totals(db) == {("ws_acme", "query"): 6}
    kept = (tmp_path / "rejects.jsonl").read_text().splitlines()
    # verbatim, each after its '# line N: reason' (unknown workspaces are known when the batch is written)
    assert sorted(kept[1::2]) == sorted(bad for bad, _ in BAD_LINES)
    assert kept[0].startswith("# line 2: unknown event_type") and all(c.startswith("# line ") for c in kept[::2])


def test_a_fixed_rejects_file_ingests_as_is(events_db: tuple[str, Database], tmp_path: Path) -> None:
    _url, db = events_db
    rejects = tmp_path / "rejects.jsonl"
    ingest(db, jsonl([line(quantity=0, id=new_id(1)), line("click", id=new_id(2))]), rejects=rejects)
    fixed = rejects.read_text().replace('"quantity": 0', '"quantity": 4').replace('"click"', '"token"')
    rejects.write_text(fixed)
    report = ingest(db, rejects.read_text())
    assert (report.accepted, report.rejected) == (2, 0)
    assert totals(db) == {("ws_acme", "query"): 4, ("ws_acme", "token"): 1}


def test_csv_with_a_header_and_the_default_workspace_by_slug(events_db: tuple[str, Database]) -> None:
    _url, db = events_db
    text = (
        "id,user_id,event_type,quantity,metadata,created_at\n"
        f'{new_id(1)},u1,token,1200,"{{""model"": ""m""}}",2026-03-01T00:00:00Z\n'
        "# a comment\n"
        ",u2,query,,,\n"
        f"{new_id(3)},u1,login,1,,2026-03-02T08:00:00+01:00\n"
        "bad,row\n"
    )
    report = ingest(db, text, input_format="csv", workspace="ws_globex")
    assert (report.accepted, report.rejected, report.generated_ids) == (3, 1, 1)
    assert report.rejections[0].line == 6 and "expected 6 fields" in report.rejections[0].reason
    assert totals(db) == {("ws_globex", "token"): 1200, ("ws_globex", "query"): 1, ("ws_globex", "login"): 1}


class FailingAfter:
    """The real database sink, until call `fail_from`: then the write commits but the client
    sees the connection drop (the worst case for double counting), and every later call fails."""

    def __init__(self, db: Database, fail_from: int) -> None:
        self.real = DatabaseSink(db)
        self.fail_from = fail_from
        self.calls = 0

    def write(self, events: Sequence[Event]) -> WriteResult:
        self.calls += 1
        if self.calls < self.fail_from:
            return self.real.write(events)
        if self.calls == self.fail_from:
            self.real.write(events)
        raise DatabaseUnavailable("database unavailable at test: server closed the connection unexpectedly")


def test_a_database_failing_mid_ingest_spools_the_rest_and_nothing_is_doubled(
    events_db: tuple[str, Database], tmp_path: Path
) -> None:
    _url, db = events_db
    lines = [line("token" if i % 3 else "query", id=new_id(i) if i % 4 else None, quantity=i) for i in range(1, 26)]
    spool = tmp_path / "events.spool.jsonl"
    report = ingest(db, jsonl(lines), sink=FailingAfter(db, fail_from=3), flush_at=5, spool=spool)
    assert (report.accepted, report.spooled, report.exit_code) == (10, 15, 7)
    assert report.spool_file == spool and "5 attempt(s)" in (report.failure or "")
    assert event_count(db) == 15  # the third batch was committed although the client saw a failure
    again = ingest(db, spool.read_text(), flush_at=4)
    assert (again.accepted, again.duplicates, again.rejected) == (10, 5, 0)
    expected = {
        ("ws_acme", "query"): sum(i for i in range(1, 26) if i % 3 == 0),
        ("ws_acme", "token"): sum(i for i in range(1, 26) if i % 3),
    }
    assert totals(db) == expected
    assert ingest(db, spool.read_text()).duplicates == 15


def _chunks(lines: Sequence[str], on_line: Callable[[int], None]) -> Iterator[bytes]:
    for number, text in enumerate(lines, start=1):
        on_line(number)
        yield (text + "\n").encode()


class CallbackStream(io.RawIOBase):
    """An input stream that runs `on_line(n)` before handing out line n: lets a test break the
    database while the ingestion is reading."""

    def __init__(self, lines: Sequence[str], on_line: Callable[[int], None]) -> None:
        self._chunks = _chunks(lines, on_line)

    def readable(self) -> bool:
        return True

    def read1(self, _size: int = -1) -> bytes:
        return next(self._chunks, b"")


@pytest.mark.postgres
def test_a_postgres_database_going_away_mid_stream_loses_nothing(pg_cluster: Any, pg_url: str, tmp_path: Path) -> None:
    db = prepare(pg_url)
    name = pg_url.rsplit("/", 1)[1].split("?", 1)[0]
    ident = sql.Identifier(name)

    def break_database(number: int) -> None:
        if number == 8:  # two batches of three were handed to the writer by now: let them land
            deadline = time.monotonic() + 30
            while event_count(db) < 6 and time.monotonic() < deadline:
                time.sleep(0.01)
            pg_cluster.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(ident))
            pg_cluster.terminate_connections(name)

    lines = [line(id=new_id(i), quantity=i) for i in range(1, 13)]
    spool = tmp_path / "spool.jsonl"
    opts = IngestOptions(flush_at=3, spool=spool)
    stream = CallbackStream(lines, break_database)
    report = EventService(db, lambda: NOW, sleep=lambda _s: None).ingest(stream, opts)  # type: ignore[arg-type]
    assert (report.accepted, report.spooled, report.exit_code) == (6, 6, 7)
    pg_cluster.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(ident))
    db.dispose()
    again = EventService(Database(pg_url), lambda: NOW).ingest(io.BytesIO(spool.read_bytes()), IngestOptions())
    assert (again.accepted, again.duplicates) == (6, 0)
    assert event_ids(db) == {new_id(i) for i in range(1, 13)} and totals(db) == {("ws_acme", "query"): 78}


@pytest.mark.postgres
def test_the_writers_connection_replacing_a_lost_one_has_its_staging_tables(pg_cluster: Any, pg_url: str) -> None:
    """The writer process creates its staging tables once per connection, not in every batch: the
    batches written after its connection was cut (on the one replacing it) find them too."""
    db = prepare(pg_url)
    name = pg_url.rsplit("/", 1)[1].split("?", 1)[0]
    cut: list[int] = []

    def cut_connections(number: int) -> None:
        if number == 8:  # two batches of three were handed to the writer by now: let them land
            deadline = time.monotonic() + 30
            while event_count(db) < 6 and time.monotonic() < deadline:
                time.sleep(0.01)
            pg_cluster.terminate_connections(name)
            cut.append(number)

    lines = [line(id=new_id(i), quantity=i) for i in range(1, 19)]
    stream = CallbackStream(lines, cut_connections)
    service = EventService(db, lambda: NOW, sleep=lambda _s: None)
    report = service.ingest(stream, IngestOptions(flush_at=3))  # type: ignore[arg-type]
    assert cut == [8]
    assert (report.accepted, report.duplicates, report.spooled, report.exit_code) == (18, 0, 0, 0)
    assert event_ids(db) == {new_id(i) for i in range(1, 19)} and totals(db) == {("ws_acme", "query"): 171}


@pytest.mark.postgres
def test_postgres_marks_the_periods_of_the_rows_the_insert_inserted(pg_url: str) -> None:
    """The stale marks are written by the insert's own statement, for the rows it inserted: a
    duplicate, whose event is stored already, marks nothing."""
    import sqlalchemy as sa

    from atlas_cli.db import events as sql
    from atlas_cli.db import schema

    db = prepare(pg_url)
    late_january, february = datetime(2026, 1, 31, 23, 30, tzinfo=UTC), datetime(2026, 2, 1, 0, 30, tzinfo=UTC)

    def row(n: int, at: datetime, ws: str = "ws_acme") -> Any:
        return (new_id(n), ws, None, "query", 1, None, at, None)

    with db.begin() as conn:
        assert sql.insert_events(conn, [row(1, late_january)]) == 1
        conn.execute(sa.delete(schema.stale_periods))  # as a recomputation of those periods does
    with db.begin() as conn:
        batch = [row(1, late_january), row(2, february), row(3, february), row(4, february, "ws_globex")]
        assert sql.insert_events(conn, batch) == 3
    m = schema.stale_periods.c
    with db.connect() as conn:
        marks = {tuple(r) for r in conn.execute(sa.select(m.workspace_id, m.period, m.period_start))}
    assert marks == {
        (ws, period, datetime(2026, 2, 1, tzinfo=UTC))
        for ws in ("ws_acme", "ws_globex")
        for period in ("daily", "monthly")
    }


@pytest.mark.postgres
def test_a_background_writer_that_dies_is_replaced_by_writing_in_process(pg_url: str) -> None:
    import multiprocessing

    db = prepare(pg_url)
    killed: list[int] = []

    def kill_writer(number: int) -> None:
        if number == 8:  # two batches of three were handed to the writer: let them land, then kill it
            deadline = time.monotonic() + 30
            while event_count(db) < 6 and time.monotonic() < deadline:
                time.sleep(0.01)
            for child in multiprocessing.active_children():
                if child.name == "atlas-writer" and child.pid is not None:
                    os.kill(child.pid, signal.SIGKILL)
                    child.join(10)
                    killed.append(child.pid)

    lines = [line(id=new_id(i), quantity=i) for i in range(1, 13)]
    stream = CallbackStream(lines, kill_writer)
    report = EventService(db, lambda: NOW).ingest(stream, IngestOptions(flush_at=3))  # type: ignore[arg-type]
    assert len(killed) == 1
    assert (report.accepted, report.duplicates, report.spooled, report.exit_code) == (12, 0, 0, 0)
    assert event_ids(db) == {new_id(i) for i in range(1, 13)} and totals(db) == {("ws_acme", "query"): 78}
    assert not [c for c in multiprocessing.active_children() if c.name == "atlas-writer"]


@pytest.mark.postgres
def test_when_no_writer_process_can_be_started_the_reader_writes(pg_url: str, monkeypatch: Any) -> None:
    db = prepare(pg_url)

    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    report = ingest(db, jsonl([line(id=new_id(i), quantity=i) for i in range(1, 8)]), flush_at=3)
    assert (report.accepted, report.exit_code) == (7, 0) and totals(db) == {("ws_acme", "query"): 28}


@pytest.mark.postgres
def test_the_background_sink_remembers_workspaces_found_but_not_those_missing(pg_url: str) -> None:
    """A long stream must see a workspace created while it runs."""
    import sqlalchemy as sa

    from atlas_cli.db import schema
    from atlas_cli.services.ingestion.batching import prepare_write

    db = prepare(pg_url)
    sink = DatabaseSink(db, background=True)
    try:
        first = prepare_write(
            sink,
            [
                Event(new_id(1), "ws_acme", None, "query", 1, None, NOW),
                Event(new_id(2), "initech", None, "query", 1, None, NOW),
            ],
        )()()
        assert (first.inserted, first.unknown) == (1, (1,))
        with db.begin() as conn:
            conn.execute(
                sa.insert(schema.organization).values(id="ws_initech", name="Initech", slug="initech", createdAt=NOW)
            )
        second = prepare_write(sink, [Event(new_id(2), "initech", None, "query", 1, None, NOW)])()()
        assert (second.inserted, second.unknown) == (1, ())
    finally:
        sink.close()
    assert event_ids(db) == {new_id(1), new_id(2)}


def test_the_library_logger_writes_batches_and_drops_unknown_workspaces(events_db: tuple[str, Database]) -> None:
    url, db = events_db
    logger = database_logger(url, flush_at=1000, background=False)
    ids = [
        logger.log("ws_acme", "query", user_id="u1"),
        logger.log("acme", "token", 99, metadata={"m": "x"}),
        logger.log("ws_nowhere", "query"),
    ]
    same = logger.log("ws_acme", "query", id=ids[0])
    assert same == ids[0] and logger.flush() == 2
    assert (logger.written, logger.duplicates, logger.dropped) == (2, 1, 1)
    assert event_ids(db) == set(ids[:2]) and totals(db) == {("ws_acme", "query"): 1, ("ws_acme", "token"): 99}
    logger.close()


def test_lines_the_database_cannot_store_are_rejected_and_the_rest_written(events_db: tuple[str, Database]) -> None:
    """A NUL, a lone surrogate or NaN used to fail the whole batch at COPY time."""
    _url, db = events_db
    bad = [
        '{"event_type": "query", "workspace_id": "ws_acme", "user_id": "a\\u0000b"}',
        '{"event_type": "query", "workspace_id": "ws_acme", "metadata": {"x": NaN}}',
        '{"event_type": "query", "workspace_id": "ws_acme", "metadata": {"x": "\\ud800"}}',
    ]
    good = [
        line(id=new_id(1), metadata={"q": "back\\slash\nnew line"}),
        line(id=new_id(2), user_id="tab\there\\", metadata={"é": "\t"}),
    ]
    report = ingest(db, jsonl([good[0], *bad, good[1]]))
    assert (report.accepted, report.rejected, [r.line for r in report.rejections]) == (2, 3, [2, 3, 4])
    import sqlalchemy as sa

    from atlas_cli.db.schema import usage_events

    with db.connect() as conn:
        stored = dict(
            conn.execute(sa.select(usage_events.c.user_id, usage_events.c.metadata).order_by(usage_events.c.id)).all()
        )
    assert stored == {None: {"q": "back\\slash\nnew line"}, "tab\there\\": {"é": "\t"}}


@pytest.mark.postgres
def test_a_copy_that_fails_in_the_driver_is_a_database_error_and_retried(pg_url: str, monkeypatch: Any) -> None:
    """COPY runs on psycopg's own cursor: its errors must reach translate_errors like any other."""
    import psycopg

    db = prepare(pg_url)

    def broken_copy(*_args: Any, **_kwargs: Any) -> Any:
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(psycopg.Cursor, "copy", broken_copy)
    with pytest.raises(DatabaseUnavailable, match="server closed the connection"):
        DatabaseSink(db).write([Event(new_id(1), "ws_acme", None, "query", 1, None, NOW)])
    db.dispose()
