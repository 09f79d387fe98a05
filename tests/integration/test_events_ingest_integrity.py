"""Ingestion keeps exactly what the input says, on real SQLite and PostgreSQL: an unterminated
line at a stop, values no database can store, BOMs, duplicate keys, long lines, unwritable outputs."""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from atlas_cli.db.database import Database
from atlas_cli.errors import BadInput
from atlas_cli.services.ingestion.events import EventService
from atlas_cli.services.ingestion.ingest import IngestOptions, IngestReport, StopRequest
from tests.events_fixtures import event_count, event_ids, events_db, line, new_id, totals

__all__ = ["events_db"]

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


class Chunks(io.RawIOBase):
    """Hands out `chunks` one read at a time; `on_read(n)` runs before chunk n (from 0) is given."""

    def __init__(self, chunks: Sequence[bytes], on_read: Callable[[int], None] = lambda _n: None) -> None:
        self._chunks = list(chunks)
        self._on_read = on_read
        self.given = 0

    def readable(self) -> bool:
        return True

    def read1(self, _size: int = -1) -> bytes:
        if self.given >= len(self._chunks):
            return b""
        self._on_read(self.given)
        self.given += 1
        return self._chunks[self.given - 1]


def run(db: Database, stream: Any, stop: StopRequest | None = None, **options: Any) -> IngestReport:
    opts = IngestOptions(**{"flush_at": 1000, **options})
    return EventService(db, lambda: NOW, sleep=lambda _s: None).ingest(stream, opts, stop=stop)


def stop_at(chunk: int, stop: StopRequest) -> Callable[[int], None]:
    def on_read(n: int) -> None:
        if n == chunk:
            stop.set(15)

    return on_read


# --- 1. an unterminated line at a stop is never an event nor a rejection --------------------


def test_a_stop_leaves_a_csv_line_cut_short_to_the_next_run(events_db: tuple[str, Database]) -> None:
    """A CSV line cut after 12345 of 1234567 used to be stored as 12345, and then a duplicate forever."""
    _url, db = events_db
    text = f"id,workspace_id,event_type,quantity\n{new_id(1)},ws_acme,query,5\n{new_id(2)},ws_acme,token,1234567\n"
    cut = text.index("67\n")
    stop = StopRequest()
    report = run(db, Chunks([text[:cut].encode(), text[cut:].encode()], stop_at(0, stop)), stop, input_format="csv")
    assert (report.lines, report.accepted, report.rejected, report.signal) == (1, 1, 0, 15)
    assert report.incomplete is not None and (report.incomplete.line, report.incomplete.kept_in) == (3, None)
    assert report.incomplete.size == len(f"{new_id(2)},ws_acme,token,12345")
    assert totals(db) == {("ws_acme", "query"): 5}
    again = run(db, io.BytesIO(text.encode()), input_format="csv")
    assert (again.accepted, again.duplicates, again.rejected) == (1, 1, 0)
    assert totals(db) == {("ws_acme", "query"): 5, ("ws_acme", "token"): 1234567}


def test_a_stop_keeps_a_streams_unterminated_line_raw_in_the_spool(
    events_db: tuple[str, Database], tmp_path: Path
) -> None:
    _url, db = events_db
    fields = {"id": new_id(2), "event_type": "query", "workspace_id": "ws_acme", "metadata": {"é": 1}}
    whole = json.dumps(fields, ensure_ascii=False).encode()
    cut = whole.index("é".encode()) + 1  # in the middle of a two-byte character
    first = (line(id=new_id(1)) + "\n").encode() + whole[:cut]
    stop, spool = StopRequest(), tmp_path / "stdin.spool.jsonl"
    report = run(db, Chunks([first, whole[cut:] + b"\n"], stop_at(0, stop)), stop, spool=spool, keep_incomplete=True)
    assert (report.lines, report.accepted, report.rejected, report.spooled) == (1, 1, 0, 0)
    assert report.incomplete is not None and report.incomplete.kept_in == spool and report.spool_file == spool
    assert spool.read_bytes() == f"# line 2: incomplete when stopped ({cut} bytes), kept as read\n".encode() + (
        whole[:cut] + b"\n"
    )
    assert event_ids(db) == {new_id(1)}


def test_at_the_end_of_input_a_last_line_without_newline_is_a_line(events_db: tuple[str, Database]) -> None:
    _url, db = events_db
    report = run(db, io.BytesIO((line(id=new_id(1)) + "\n" + line(id=new_id(2), quantity=3)).encode()))
    assert (report.accepted, report.incomplete) == (2, None) and totals(db) == {("ws_acme", "query"): 4}


# --- 2. values that cannot be stored are rejections, never the end of the run ----------------


def test_values_no_engine_can_store_are_rejected_and_the_lines_around_them_written(
    events_db: tuple[str, Database],
) -> None:
    _url, db = events_db
    deep = '{"a": ' * 4999 + "{}" + "}" * 4999
    bad = [
        line(user_id=os.urandom(4500).hex()),  # incompressible: over PostgreSQL's index entry limit
        line(created_at="0001-01-01T00:00:00+05:00"),
        line(created_at="9999-12-31T23:00:00-05:00"),
        '{"event_type": "query", "workspace_id": "ws_acme", "metadata": ' + deep + "}",
    ]
    edges = [
        line(id=new_id(2), created_at="0001-01-01T00:00:00Z"),
        line(id=new_id(3), created_at="9999-12-31T23:59:59.999999Z"),
        line(id=new_id(4), metadata=json.loads('{"a": ' * 63 + "{}" + "}" * 63)),
    ]
    text = "\n".join([line(id=new_id(1)), *bad, *edges, line(id=new_id(5))]) + "\n"
    report = run(db, io.BytesIO(text.encode()), flush_at=2)
    assert (report.accepted, report.rejected, report.spooled, report.exit_code) == (5, 4, 0, 2)
    reasons = {r.line: r.reason for r in report.rejections}
    assert "longer than 1,024 bytes" in reasons[2] and "nested more than 64" in reasons[5]
    assert "out of range" in reasons[3] and "out of range" in reasons[4]
    assert event_ids(db) == {new_id(i) for i in range(1, 6)}


# --- 3, 4. BOM, CSV headers, duplicate keys --------------------------------------------------


def test_a_csv_with_a_byte_order_mark_keeps_its_id_column(events_db: tuple[str, Database]) -> None:
    _url, db = events_db
    text = f"\ufeffid,workspace_id,event_type,quantity\n{new_id(1)},ws_acme,query,3\n".encode()
    assert run(db, io.BytesIO(text), input_format="csv").accepted == 1
    assert event_ids(db) == {new_id(1)}
    assert run(db, io.BytesIO(text), input_format="csv").duplicates == 1  # the id makes a re-run harmless


def test_a_jsonl_with_a_byte_order_mark_reads_its_first_line(events_db: tuple[str, Database]) -> None:
    _url, db = events_db
    report = run(db, io.BytesIO(b"\xef\xbb\xbf" + (line(id=new_id(1)) + "\n").encode()))
    assert (report.accepted, report.rejected) == (1, 0)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("id,workspace_id,event_type,qty", "line 1: unknown CSV header column 'qty'"),
        ("id,workspace_id,event_type,quantity,quantity", "names the column 'quantity' more than once"),
    ],
)
def test_a_bad_csv_header_is_bad_input_before_anything_is_written(
    events_db: tuple[str, Database], header: str, message: str
) -> None:
    _url, db = events_db
    text = f"{header}\n{new_id(1)},ws_acme,query,3\n".encode()
    with pytest.raises(BadInput, match=message):
        run(db, io.BytesIO(text), input_format="csv")
    assert event_count(db) == 0


def test_a_json_line_with_a_key_given_twice_is_rejected(events_db: tuple[str, Database]) -> None:
    _url, db = events_db
    lines = [
        f'{{"id": "{new_id(1)}", "event_type": "query", "workspace_id": "ws_acme", "quantity": 1, "quantity": 500}}',
        f'{{"id": "{new_id(2)}", "event_type": "query", "workspace_id": "ws_acme", "workspace_id": "ws_globex"}}',
        line(id=new_id(3), quantity=" 12"),
        line(id=new_id(4), quantity="１２"),
        line(id=new_id(5), quantity=2),
    ]
    report = run(db, io.BytesIO(("\n".join(lines) + "\n").encode()))
    assert (report.accepted, report.rejected) == (1, 4)
    assert [r.reason for r in report.rejections][:2] == ["duplicate key 'quantity'", "duplicate key 'workspace_id'"]
    assert totals(db) == {("ws_acme", "query"): 2}


# --- 5. long lines ---------------------------------------------------------------------------


def test_a_line_over_the_limit_is_rejected_and_the_lines_after_it_written(
    events_db: tuple[str, Database], tmp_path: Path
) -> None:
    _url, db = events_db
    huge = line(id=new_id(2), metadata={"blob": "x" * (3 << 20)})  # 3 MiB: over the default 1 MiB
    text = "\n".join([line(id=new_id(1)), huge, line(id=new_id(3))]) + "\n"
    rejects = tmp_path / "rejects.jsonl"
    report = run(db, io.BytesIO(text.encode()), rejects=rejects)
    assert (report.lines, report.accepted, report.rejected) == (3, 2, 1)
    assert report.rejections[0].line == 2 and "longer than 1,048,576 bytes" in report.rejections[0].reason
    assert rejects.read_text() == f"# line 2: {report.rejections[0].reason}\n"
    assert event_ids(db) == {new_id(1), new_id(3)}
    raised = run(db, io.BytesIO(text.encode()), max_line_bytes=4 << 20)
    assert (raised.accepted, raised.duplicates, raised.rejected) == (1, 2, 0)


def test_the_timed_flush_happens_while_a_long_line_is_read(events_db: tuple[str, Database]) -> None:
    _url, db = events_db
    seen: list[int] = []

    def on_read(n: int) -> None:
        if n == 1:
            time.sleep(0.02)  # the first event has now waited longer than the flush interval
        if n == 40:  # still inside the long line
            deadline = time.monotonic() + 10
            while event_count(db) < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            seen.append(event_count(db))

    chunks = [
        (line(id=new_id(1)) + "\n").encode(),
        *([b"z" * 65536] * 64),
        b"\n" + (line(id=new_id(2)) + "\n").encode(),
    ]
    report = run(db, Chunks(chunks, on_read), flush_interval=0.005)
    assert seen == [1] and (report.accepted, report.rejected) == (2, 1)


# --- 6. outputs that cannot be written end the run before any input is read -------------------


@pytest.mark.parametrize("option", ["spool", "rejects"])
def test_an_output_that_cannot_be_written_is_bad_input_before_reading(
    events_db: tuple[str, Database], tmp_path: Path, option: str
) -> None:
    _url, db = events_db
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    stream = io.BytesIO((line(id=new_id(1)) + "\n").encode())
    with pytest.raises(BadInput, match=f"--{option}: cannot write {blocker}/out.jsonl"):
        run(db, stream, **{option: blocker / "out.jsonl"}, read_rest=False)
    assert stream.tell() == 0 and event_count(db) == 0


def test_a_spool_file_not_needed_is_not_left_behind(events_db: tuple[str, Database], tmp_path: Path) -> None:
    _url, db = events_db
    spool, kept = tmp_path / "new" / "s.jsonl", tmp_path / "old.jsonl"
    kept.write_text("")
    for path in (spool, kept):
        assert run(db, io.BytesIO((line() + "\n").encode()), spool=path).accepted == 1
    assert not spool.exists() and kept.exists()
