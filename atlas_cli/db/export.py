"""PostgreSQL: the export's lines made by the database, through `COPY (SELECT ...) TO STDOUT`.

Each line is byte for byte what the Python formatters (render/events.py) write for the same row,
so the output is the same on either path. Where the database cannot match them exactly, the row
is not formatted in SQL but sent raw (as a JSON array, prefixed with `!`) and formatted in Python:

- metadata holding a non-integer number: Python reads it as a float and writes its shortest repr
  (`1.10` becomes `1.1`), which SQL cannot reproduce; found with `[0-9]\\.` on the jsonb text
  (numbers in jsonb's text never have an exponent), which may also catch such text in a string:
  such a row is merely formatted in Python;
- ndjson only: metadata with an object member whose value is null (`: null`), which the compact
  writer in SQL (json_strip_nulls) would drop;
- CSV only: workspace ids, event types or user ids with a control character other than tab and
  newline (Python shows them escaped, `\\x1b`), a comma, quote or newline (quoted there), a
  carriage return (the csv module does not quote it, PostgreSQL does) or a formula start (= + - @
  or tab first, which Python guards with a `'`; the same character after a space inside a field
  also sends the row here); metadata with DEL, C1 controls or bidi overrides (written as `\\u009b`
  escapes there), starting with a formula character, or the JSON `null`.

Every other difference is absorbed in SQL: jsonb's `", "` and `": "` made compact for ndjson,
empty text as an empty CSV cell (not `""`), CSV quoting of metadata, timestamps as UTC with
microseconds and a Z, costs without trailing zeros.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from atlas_cli.db.events import COST_COLUMN

RAW = ord("!")  # the first byte of a row sent raw, to be formatted in Python
BLOCK_BYTES = 1 << 16  # lines joined into one write (bytes)

_BIDI = "\u200e\u200f\u202a-\u202e\u2066-\u2069"
# CSV: a cell Python would escape (controls but tab and newline, DEL, C1, bidi) or quote (comma,
# quote, newline; and a carriage return, which PostgreSQL's CSV quotes and Python's does not), or
# guard against formulas (= + - @ tab first). One match over the three fields, each after a space
# (` workspace event user`): a formula character after a space is the start of a field (or, inside
# one, a row merely formatted in Python).
_CSV_TEXT = f'[\n,"\x01-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]| [-=+@\t]'
_CSV_FIELDS = "(' ' || workspace_id || ' ' || event_type || ' ' || COALESCE(user_id, ''))"
_CSV_META = f"[0-9]\\.|[\x7f-\x9f{_BIDI}]|^(null$|[-=+@])"
_ND_TEXT = '["\\\\\x01-\x1f]'  # what JSON escapes in a string: quote, backslash, controls
_ND_FIELDS = "(workspace_id || event_type || COALESCE(user_id, ''))"
_ND_META = "[0-9]\\.|: null"
# jsonb's text is spaced (`{"a": [1, 2]}`); json_strip_nulls writes it compact, as Python does, but
# drops object members whose value is null: those rows (`: null`) are formatted in Python
_COMPACT = "json_strip_nulls(m::json)::text"
_TIME = """to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
_META_OK = "COALESCE(metadata::text !~ %(meta)s, true)"
_SAFE = {"csv": f"{_CSV_FIELDS} !~ %(text)s AND {_META_OK}", "ndjson": f"{_ND_FIELDS} !~ %(text)s AND {_META_OK}"}


def _raw(costs: bool) -> str:
    cost = f", {COST_COLUMN}::text" if costs else ""
    return f"json_build_array(id::text, workspace_id, user_id, event_type, quantity, m::json, {_TIME}{cost})::text"


def _csv_line(costs: bool) -> str:
    quoted = (
        "CASE WHEN strpos(m, '\"') > 0 OR strpos(m, ',') > 0 THEN '\"' || replace(m, '\"', '\"\"') || '\"' ELSE m END"
    )
    cost = f" || ',' || COALESCE(trim_scale({COST_COLUMN})::text, '')" if costs else ""
    return (
        "id::text || ',' || workspace_id || ',' || COALESCE(user_id, '') || ',' || event_type || ',' || quantity::text"
        f" || ',' || COALESCE({quoted}, '') || ',' || {_TIME}{cost}"
    )


def _ndjson_line(costs: bool) -> str:
    cost = f""" || ',"cost_usd":' || COALESCE(trim_scale({COST_COLUMN})::text, 'null')""" if costs else ""
    return (
        """'{"id":"' || id::text || '","workspace_id":"' || workspace_id"""
        """ || '","user_id":' || COALESCE('"' || user_id || '"', 'null')"""
        """ || ',"event_type":"' || event_type || '","quantity":' || quantity::text"""
        f""" || ',"metadata":' || COALESCE({_COMPACT}, 'null')"""
        f""" || ',"created_at":"' || {_TIME} || '"'{cost} || '}}'"""
    )


def _statement(fmt: str, costs: bool, where: list[str]) -> str:
    line = _csv_line(costs) if fmt == "csv" else _ndjson_line(costs)
    cost = f", {COST_COLUMN}" if costs else ""
    filtered = f" WHERE {' AND '.join(where)}" if where else ""
    # Sorted narrow (the columns, and `ok` once per row), then each line built as it leaves the sort.
    query = (
        f"SELECT CASE WHEN ok THEN {line} ELSE '!' || {_raw(costs)} END FROM (SELECT id, workspace_id, user_id, "
        f"event_type, quantity, metadata::text AS m, {_SAFE[fmt]} AS ok, created_at{cost} "
        f"FROM usage_events{filtered} ORDER BY created_at, id) AS e"
    )
    # One column in CSV form whose quote and delimiter never occur in a line (no line holds a
    # control character: JSON escapes them, and CSV lines with one are formatted in Python), so
    # the line comes out exactly as built.
    return f"COPY ({query}) TO STDOUT (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')"


def copy_events(
    conn: Connection,
    *,
    fmt: str,
    workspace_id: str | None,
    start: datetime | None,
    end: datetime | None,
    costs: bool,
    write: Callable[[bytes], None],
    fallback: Callable[[tuple[Any, ...]], None],
) -> int:
    """Stream events in [start, end) ordered by (created_at, id) as `fmt` lines (csv without its
    header, or ndjson) made by the database: blocks of lines go to `write`; the few rows it cannot
    format exactly go to `fallback` as (id, workspace_id, user_id, event_type, quantity, metadata,
    created_at, cost), in their place. Memory stays flat. Returns the number of rows."""
    where: list[str] = []
    params: dict[str, Any] = (
        {"text": _CSV_TEXT, "meta": _CSV_META} if fmt == "csv" else {"text": _ND_TEXT, "meta": _ND_META}
    )
    if workspace_id is not None:
        where.append("workspace_id = %(workspace)s")
        params["workspace"] = workspace_id
    if start is not None:
        where.append("created_at >= %(start)s")
        params["start"] = start
    if end is not None:
        where.append("created_at < %(end)s")
        params["end"] = end
    statement = _statement(fmt, costs, where)
    raw = conn.connection.driver_connection
    assert raw is not None
    import psycopg
    from psycopg.generators import fetch_many

    count = 0
    block = bytearray()
    try:
        with raw.cursor() as cursor, cursor.copy(statement, params) as copy:
            # Each line is one message. psycopg's `Copy` iterator costs a generator and a wait per
            # message, so the lines already received are taken from libpq directly (`get_copy_data`
            # without waiting); only when none is buffered does `copy.read()` wait for more (on
            # psycopg's interruptible wait), and `copy` settles the connection if the reader stops
            # early (a closed pipe, Ctrl-C): it cancels the COPY and drains it.
            get = raw.pgconn.get_copy_data
            while True:
                size, line = get(1)
                if size == 0:  # nothing received yet: wait, for the next line or the end
                    line = copy.read()
                    if not line:
                        break
                elif size < 0:  # the end, taken here: its result still to be read, as `copy` would
                    _end(raw, fetch_many)
                    break
                count += 1
                if line[0] == RAW:
                    if block:
                        write(bytes(block))
                        block.clear()
                    fallback(_parsed(bytes(line), costs))
                    continue
                block += line
                if len(block) >= BLOCK_BYTES:
                    write(bytes(block))
                    block.clear()
    except psycopg.Error as exc:  # COPY runs on the driver's cursor: give SQLAlchemy's error, as execute would
        raise sa.exc.DBAPIError.instance(statement, None, exc, psycopg.Error) from exc
    if block:
        write(bytes(block))
    return count


def _end(raw: Any, fetch_many: Any) -> None:
    """Read the COPY's final result once its last line was taken: raise its error, if any."""
    import psycopg

    results = raw.wait(fetch_many(raw.pgconn))
    if len(results) != 1:
        raise psycopg.ProgrammingError("you cannot mix COPY with other operations")
    if results[0].status != psycopg.pq.ExecStatus.COMMAND_OK:
        raise psycopg.errors.error_from_result(results[0], encoding=raw.pgconn._encoding)


def _parsed(line: bytes, costs: bool) -> tuple[Any, ...]:
    """A row sent raw: `!` then its JSON array."""
    values = json.loads(line[1:])
    values[6] = datetime.fromisoformat(values[6])
    if costs:
        values[7] = None if values[7] is None else Decimal(values[7])
    else:
        values.append(None)
    return tuple(values)
