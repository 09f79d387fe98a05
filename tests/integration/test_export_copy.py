"""On PostgreSQL the export's lines are made by the database (COPY ... TO STDOUT): byte for byte
the lines the Python formatters write for the same rows, on data chosen to break that."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from atlas_cli.db.database import Database
from atlas_cli.render.events import EventStream
from atlas_cli.services.ingestion.events import EventService
from tests.events_fixtures import new_id, prepare

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
_BIDI_AND_C1 = "\u202e\u2066\x9b\x85\x7f"
TEXTS = [
    "ws_acme",
    "é ☃ 😀 \u2028 ü",
    'quote " and \\ backslash',
    "comma, and\nnewline",
    "tab\there",
    "carriage\rreturn",
    "\rstarts with CR",
    f"controls \x01\x1b and {_BIDI_AND_C1}",
    "=1+2",
    "+x",
    "-x",
    "@x",
    "\tx",
    "'already",
    "",
    " spaced ",
    "a =b -c",
    " +after a space",
    "x@y+z",
]
METADATA = [
    None,
    "null",
    "{}",
    "[]",
    '{"model": "gpt", "n": [1, 2, {"k, ": "v: , "}], "e": {}, "t": true, "f": false, "z": null}',
    '{"quote": "a \\" b", "bs": "c \\\\ d", "nl": "x\\ny", "ctl": "\\u0001\\u001f", "uni": "é ☃ 😀"}',
    '{"big": 123456789012345678901234567890, "neg": -42, "zero": 0, "e20": 1e20}',
    '{"f": 1.10, "g": 2.5, "h": 1e-7, "i": -0.0, "j": 0.1, "k": 3.141592653589793238}',
    '{"dot in text": "1.5 and 2.0"}',
    f'{{"c1": "{_BIDI_AND_C1}", "del": "\x7f"}}',
    '"-5 a string"',
    "-5",
    "3.25",
    '"=formula"',
    '{"a, b": {"c: d": ["x, y", ": "]}}',
    '{"nulls in a list": [null, 1, null], "o": {"p": []}}',
]
TIMES = [
    "2026-01-01T00:00:00Z",
    "2026-01-31T23:59:59.999999Z",
    "2026-02-14T12:34:56.000001Z",
    "2026-02-28T01:02:03.5+02:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
]
COSTS = [None, "0", "0.000001", "12.500000", "999999.999999", "3"]


@pytest.fixture(params=["plain", "costs"])
def tricky(request: pytest.FixtureRequest, pg_url: str) -> Iterator[Database]:
    """Rows written with plain SQL (as the server or a backfill may write them, unchecked)."""
    db = prepare(pg_url, [("ws_acme", "acme"), *[(text, f"s{n}") for n, text in enumerate(TEXTS) if text != "ws_acme"]])
    costs = request.param == "costs"
    with db.begin() as conn:
        if costs:
            conn.exec_driver_sql("ALTER TABLE usage_events ADD COLUMN gateway_cost_usd numeric(12, 6)")
        n = 0
        for i, text in enumerate(TEXTS):
            for j, meta in enumerate(METADATA):
                n += 1
                user = None if (i + j) % 5 == 0 else TEXTS[(i + j) % len(TEXTS)]
                kind = TEXTS[(i * 7 + j) % len(TEXTS)] if j % 3 == 0 else "query"
                conn.exec_driver_sql(
                    "INSERT INTO usage_events (id, workspace_id, user_id, event_type, quantity, metadata, created_at) "
                    "VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s)",
                    (new_id(n), text, user, kind, [1, 2**31 - 1, 7][n % 3], meta, TIMES[n % len(TIMES)]),
                )
                if costs:
                    conn.exec_driver_sql(
                        "UPDATE usage_events SET gateway_cost_usd = %s::numeric WHERE id = %s",
                        (COSTS[n % len(COSTS)], new_id(n)),
                    )
    yield db
    db.dispose()


def _export(db: Database, fmt: str, *, by_database: bool, workspace: str | None = None, **window: str) -> bytes:
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", write_through=False)
    stream = EventStream(fmt, out)
    service = EventService(db, lambda: NOW)
    lines = (fmt, stream.lines) if by_database else None
    count = service.export(
        workspace, start=window.get("start"), end=window.get("end"), emit=stream.row, fields=stream.fields, lines=lines
    )
    out.flush()
    data = raw.getvalue()
    assert count == (data.count(b"\n") if fmt == "ndjson" else count)
    return data


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
def test_the_database_writes_the_same_bytes_as_python(tricky: Database, fmt: str) -> None:
    expected = _export(tricky, fmt, by_database=False)
    got = _export(tricky, fmt, by_database=True)
    assert len(expected.splitlines()) > len(TEXTS) * len(METADATA) - 1
    assert got == expected


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
def test_the_same_bytes_for_one_workspace_and_a_window(tricky: Database, fmt: str) -> None:
    for workspace in ("ws_acme", TEXTS[7]):
        window = {"start": "2026-01-01", "end": "2026-02-14"}
        expected = _export(tricky, fmt, by_database=False, workspace=workspace, **window)
        assert expected.count(b"\n") > 1
        assert _export(tricky, fmt, by_database=True, workspace=workspace, **window) == expected


def test_only_rows_sql_cannot_match_are_formatted_in_python(tricky: Database) -> None:
    """ndjson: ids with a character JSON escapes, metadata with a non-integer number or a null member."""
    import re

    needs_escape, meta_special = re.compile(r'["\\\x00-\x1f]').search, re.compile(r"[0-9]\.|: null").search
    with tricky.connect() as conn:
        rows = conn.exec_driver_sql("SELECT workspace_id, event_type, user_id, metadata::text FROM usage_events").all()
    expected = sum(
        1
        for ws, kind, user, meta in rows
        if needs_escape(ws + kind + (user or "")) or (meta is not None and meta_special(meta))
    )
    formatted_in_python: list[object] = []
    written: list[bytes] = []
    service = EventService(tricky, lambda: NOW)
    count = service.export(
        None, start=None, end=None, emit=formatted_in_python.append, lines=("ndjson", written.append)
    )
    assert count == len(rows) == len(TEXTS) * len(METADATA)
    assert len(formatted_in_python) == expected
    assert 0 < expected < count
    assert all(json.loads(line) for line in b"".join(written).splitlines())


def test_csv_rows_of_plain_text_are_formatted_by_the_database(tricky: Database) -> None:
    """CSV: text without escapes, quotes or a formula start (empty included) and plain metadata are
    never formatted in Python; every row with a formula start (first character of a field) is."""
    plain = {"ws_acme", "", " spaced ", "'already", "é ☃ 😀 \u2028 ü", "query"}
    with tricky.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT id::text, workspace_id, event_type, COALESCE(user_id, ''), metadata::text FROM usage_events"
        ).all()
    in_python: set[str] = set()
    service = EventService(tricky, lambda: NOW)
    count = service.export(
        None, start=None, end=None, emit=lambda row: in_python.add(row[0]), lines=("csv", lambda block: None)
    )
    assert count == len(rows)
    by_sql = [r[0] for r in rows if {r[1], r[2], r[3]} <= plain and r[4] in (None, "{}", "[]")]
    formula = [r[0] for r in rows if any(text[:1] and text[0] in "=+-@\t" for text in r[1:4])]
    assert by_sql and formula
    assert not in_python.intersection(by_sql)
    assert in_python.issuperset(formula)


def test_an_empty_export_writes_nothing(pg_url: str) -> None:
    db = prepare(pg_url)
    try:
        assert _export(db, "ndjson", by_database=True) == b""
        assert (
            _export(db, "csv", by_database=True) == b"id,workspace_id,user_id,event_type,quantity,metadata,created_at\n"
        )
    finally:
        db.dispose()


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
def test_the_same_bytes_over_many_blocks_with_python_rows_between(pg_url: str, fmt: str) -> None:
    """Lines are read in blocks of many rows: the rows formatted in Python land in their place."""
    db = prepare(pg_url)
    try:
        with db.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO usage_events (id, workspace_id, user_id, event_type, quantity, metadata, created_at) "
                "SELECT ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid, 'ws_acme', 'u' || (n %% 7), "
                "'query', n, CASE WHEN n %% 97 = 0 THEN '{\"f\": 1.10}'::jsonb WHEN n %% 3 = 0 THEN "
                "jsonb_build_object('pad', repeat('x', n %% 300)) END, "
                "timestamptz '2026-01-01 00:00:00Z' + n * interval '1 second' FROM generate_series(1, 3000) AS n"
            )
        by_database = _export(db, fmt, by_database=True)
        assert by_database == _export(db, fmt, by_database=False)
        assert len(by_database) > 4 * 65536 and by_database.count(b"1.1") >= 3000 // 97
    finally:
        db.dispose()


def test_ctrl_c_ends_the_export_without_a_traceback(pg_url: str) -> None:
    """Interrupted mid-COPY (the output pipe full, nobody reading): the COPY is cancelled, no traceback."""
    db = prepare(pg_url)
    try:
        with db.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO usage_events (id, workspace_id, user_id, event_type, quantity, metadata, created_at) "
                "SELECT ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid, 'ws_acme', NULL, 'query', 1, "
                "jsonb_build_object('pad', repeat('x', 500)), timestamptz '2026-01-01 00:00:00Z' + n * interval '1 ms' "
                "FROM generate_series(1, 20000) AS n"
            )
    finally:
        db.dispose()
    command = [sys.executable, "-m", "atlas_cli", "--database-url", pg_url, "usage", "export", "--format", "ndjson"]
    export = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=Path(__file__).resolve().parents[2]
    )
    assert export.stdout is not None and export.stderr is not None
    first = export.stdout.read(65536)  # the export is under way; what follows fills the pipe and waits
    assert json.loads(first.splitlines()[0])["quantity"] == 1
    time.sleep(1.0)
    export.send_signal(signal.SIGINT)
    rest = export.stdout.read()
    err = export.stderr.read().decode()
    code = export.wait(60)
    assert code == 130 and err == "", err
    assert len(first) + len(rest) < 20000 * 500
