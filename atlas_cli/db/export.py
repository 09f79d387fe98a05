"""PostgreSQL: the export's lines made by the database, through `COPY (SELECT ...) TO STDOUT`.

Each line is byte for byte what the Python formatters (render/events.py) write for the same row,
so the output is the same on either path. Where the database cannot match them exactly, the row
is not formatted in SQL but sent raw (as a JSON array, prefixed with `!`) and formatted in Python:

- metadata holding a non-integer number: Python reads it as a float and writes its shortest repr
  (`1.10` becomes `1.1`), which SQL cannot reproduce; found with `[0-9]\\.` on the jsonb text
  (numbers in jsonb's text never have an exponent), which may also catch such text in a string:
  such a row is merely formatted in Python;
- CSV only: ids or event types with a control character other than tab and newline (Python shows
  them escaped, `\\x1b`), metadata with DEL, C1 controls or bidi overrides (written as `\\u009b`
  escapes there), or a carriage return (the csv module does not quote it, PostgreSQL does).

Every other difference is absorbed in SQL: jsonb's `", "` and `": "` made compact for ndjson,
empty text as an empty CSV cell (not `""`), a JSON `null` metadata as an empty CSV cell, the CSV
formula guard (`'` before = + - @ and tab), timestamps as UTC with microseconds and a Z, costs
without trailing zeros.
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
BLOCK_ROWS = 1024  # lines joined into one write

_BIDI = "\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CSV_UNSAFE_TEXT = f"[\x01-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]"  # with \r (0x0d); tab and newline are fine
_CSV_UNSAFE_META = f"[0-9]\\.|[\x7f-\x9f{_BIDI}]"
_ND_UNSAFE_META = "[0-9]\\."
_COMPACT = r"""regexp_replace(m, '("(?:[^"\\]|\\.)*")|([,:]) ', '\1\2', 'g')"""
_TIME = """to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


def _cell(column: str) -> str:
    """A text column as csv_cell writes it: formula guard, empty text as no text."""
    formula = f"left({column}, 1) IN ('=', '+', '-', '@', E'\\t')"
    return f"CASE WHEN {formula} THEN '''' || {column} ELSE NULLIF({column}, '') END"


def _raw(costs: bool) -> str:
    cost = f", {COST_COLUMN}::text" if costs else ""
    return f"json_build_array(id::text, workspace_id, user_id, event_type, quantity, metadata, {_TIME}{cost})::text"


_CSV_SAFE = (
    "workspace_id !~ %(text)s AND event_type !~ %(text)s AND COALESCE(user_id !~ %(text)s, true) "
    "AND COALESCE(metadata::text !~ %(meta)s, true)"
)
_ND_SAFE = "COALESCE(metadata::text !~ %(meta)s, true)"


def _csv_select(costs: bool) -> str:
    meta = f"CASE WHEN m IS NULL OR m = 'null' THEN NULL ELSE {_cell('m')} END"
    cells = [
        "id::text",
        _cell("workspace_id"),
        _cell("user_id"),
        _cell("event_type"),
        "quantity::text",
        meta,
        _TIME,
    ]
    if costs:
        cells.append(f"trim_scale({COST_COLUMN})::text")
    raw = ["'!'", _raw(costs), *(["NULL"] * (len(cells) - 2))]
    return ", ".join(f"CASE WHEN ok THEN {cell} ELSE {other} END" for cell, other in zip(cells, raw, strict=True))


def _ndjson_select(costs: bool) -> str:
    cost = f""" || ',"cost_usd":' || COALESCE(trim_scale({COST_COLUMN})::text, 'null')""" if costs else ""
    line = (
        """'{"id":"' || id::text || '","workspace_id":' || to_json(workspace_id)::text"""
        """ || ',"user_id":' || COALESCE(to_json(user_id)::text, 'null')"""
        """ || ',"event_type":' || to_json(event_type)::text || ',"quantity":' || quantity::text"""
        f""" || ',"metadata":' || COALESCE(CASE WHEN m = '{{}}' THEN m ELSE {_COMPACT} END, 'null')"""
        f""" || ',"created_at":"' || {_TIME} || '"'{cost} || '}}'"""
    )
    return f"CASE WHEN ok THEN {line} ELSE '!' || {_raw(costs)} END"


def _statement(fmt: str, costs: bool, where: list[str]) -> str:
    select, safe = (_csv_select(costs), _CSV_SAFE) if fmt == "csv" else (_ndjson_select(costs), _ND_SAFE)
    cost = f", {COST_COLUMN}" if costs else ""
    filtered = f" WHERE {' AND '.join(where)}" if where else ""
    query = (
        f"SELECT {select} FROM (SELECT id, workspace_id, user_id, event_type, quantity, metadata, "
        f"metadata::text AS m, {safe} AS ok, created_at{cost} FROM usage_events{filtered} "
        "ORDER BY created_at, id) AS e"
    )
    # ndjson: one column in CSV form whose quote and delimiter never occur in a JSON line (JSON
    # escapes every control character), so the line comes out exactly as built
    options = "FORMAT csv" if fmt == "csv" else "FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02'"
    return f"COPY ({query}) TO STDOUT ({options})"


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
    params: dict[str, Any] = {"text": _CSV_UNSAFE_TEXT, "meta": _CSV_UNSAFE_META if fmt == "csv" else _ND_UNSAFE_META}
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

    count = 0
    block: list[Any] = []
    try:
        with raw.cursor() as cursor, cursor.copy(statement, params) as copy:
            for line in copy:
                count += 1
                if line[0] == RAW:
                    if block:
                        write(b"".join(block))
                        block.clear()
                    fallback(_parsed(bytes(line), fmt, costs))
                    continue
                block.append(line)
                if len(block) >= BLOCK_ROWS:
                    write(b"".join(block))
                    block.clear()
    except psycopg.Error as exc:  # COPY runs on the driver's cursor: give SQLAlchemy's error, as execute would
        raise sa.exc.DBAPIError.instance(statement, None, exc, psycopg.Error) from exc
    if block:
        write(b"".join(block))
    return count


def _parsed(line: bytes, fmt: str, costs: bool) -> tuple[Any, ...]:
    """A row sent raw: `!` then its JSON array (CSV: in the second, quoted, cell)."""
    text = line.decode("utf-8")
    # CSV: !,"[...]",,,... (the array's quotes doubled)
    text = text[3 : text.rindex('"')].replace('""', '"') if fmt == "csv" else text[1:]
    values = json.loads(text)
    values[6] = datetime.fromisoformat(values[6])
    if costs:
        values[7] = None if values[7] is None else Decimal(values[7])
    else:
        values.append(None)
    return tuple(values)
