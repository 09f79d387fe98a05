"""The SQL of usage events in and out: workspace lookup, idempotent bulk insert, export."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from atlas_cli.db.schema import organization, usage_events

e = usage_events
COLUMNS = ("id", "workspace_id", "user_id", "event_type", "quantity", "metadata", "created_at")
# (id, workspace_id, user_id, event_type, quantity, metadata, created_at)
EventRow = tuple[str, str, str | None, str, int, dict[str, Any] | None, datetime]

_STAGE = "atlas_ingest_stage"
_CREATE_STAGE = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGE} (id uuid, workspace_id text, user_id text, "
    "event_type text, quantity integer, metadata jsonb, created_at timestamptz) ON COMMIT DELETE ROWS"
)
_COLUMN_LIST = ", ".join(COLUMNS)
_COPY_STAGE = f"COPY {_STAGE} ({_COLUMN_LIST}) FROM STDIN"
_MOVE_STAGE = (
    f"INSERT INTO usage_events ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM {_STAGE} ON CONFLICT (id) DO NOTHING"
)


def workspace_ids(conn: Connection, keys: Iterable[str]) -> dict[str, str]:
    """The id of each workspace named in `keys` (by id, else by slug); unknown keys are absent."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    o = organization.c
    rows = conn.execute(sa.select(o.id, o.slug).where(sa.or_(o.id.in_(wanted), o.slug.in_(wanted)))).all()
    by_slug = {slug: id_ for id_, slug in rows if slug is not None}
    by_id = {id_: id_ for id_, _slug in rows}
    return {key: by_id.get(key) or by_slug[key] for key in wanted if key in by_id or key in by_slug}


def insert_events(conn: Connection, rows: Sequence[EventRow]) -> int:
    """Insert `rows`, skipping ids already stored (or repeated in `rows`). Returns rows inserted.

    PostgreSQL: COPY into a temporary staging table, then one INSERT ... SELECT ... ON CONFLICT
    DO NOTHING. SQLite: one executemany of INSERT ... ON CONFLICT DO NOTHING.
    """
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        return _insert_by_copy(conn, rows)
    return _insert_sqlite(conn, rows)


def _insert_sqlite(conn: Connection, rows: Sequence[EventRow]) -> int:
    # The column types' own bind processors, so values are stored exactly as a Core insert stores
    # them, without Core's per-row dictionaries.
    dialect = conn.dialect
    to_json = e.c.metadata.type.dialect_impl(dialect).bind_processor(dialect)
    to_time = e.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    assert to_json is not None and to_time is not None
    params = [(id_, ws, user, kind, qty, to_json(meta), to_time(at)) for id_, ws, user, kind, qty, meta, at in rows]
    result = conn.execution_options(preserve_rowcount=True).exec_driver_sql(_SQLITE_INSERT, params)
    return int(result.rowcount)


_SQLITE_INSERT = (
    f"INSERT INTO usage_events ({_COLUMN_LIST}) VALUES ({', '.join('?' * len(COLUMNS))}) ON CONFLICT (id) DO NOTHING"
)
_NULL = "\\N"
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]").search


def _copy_escaped(value: str) -> str:
    """`value` as a field of COPY's text format."""
    if _COPY_SPECIAL(value) is None:
        return value
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def copy_text(rows: Iterable[EventRow]) -> bytes:
    """`rows` in COPY's text format, in one buffer: one `copy.write` per batch instead of one
    `write_row` per event. Ids, types, numbers and times need no escaping; user and workspace
    ids repeat, so each is escaped once."""
    escaped: dict[str | None, str] = {}
    dumps = json.dumps
    lines: list[str] = []
    append = lines.append
    for id_, ws, user, kind, qty, meta, at in rows:
        w = escaped.get(ws)
        if w is None:
            w = escaped[ws] = _copy_escaped(ws)
        u = escaped.get(user)
        if u is None:
            u = escaped[user] = _NULL if user is None else _copy_escaped(user)
        m = _NULL if meta is None else _copy_escaped(dumps(meta))
        append(f"{id_}\t{w}\t{u}\t{kind}\t{qty}\t{m}\t{at.isoformat()}\n")
    return "".join(lines).encode("utf-8")


def _insert_by_copy(conn: Connection, rows: Sequence[EventRow]) -> int:
    return insert_copy_text(conn, copy_text(rows))


def insert_copy_text(conn: Connection, data: bytes) -> int:
    """PostgreSQL: insert rows given in COPY's text format (`copy_text`), skipping ids already
    stored or repeated: COPY into a temporary staging table, then one INSERT ... SELECT ... ON
    CONFLICT DO NOTHING. Returns rows inserted."""
    conn.exec_driver_sql(_CREATE_STAGE)
    raw = conn.connection.driver_connection
    assert raw is not None
    import psycopg

    try:
        with raw.cursor() as cursor, cursor.copy(_COPY_STAGE) as copy:
            copy.write(data)
    except psycopg.Error as exc:  # COPY runs on the driver's cursor: give SQLAlchemy's error, as execute would
        raise sa.exc.DBAPIError.instance(_COPY_STAGE, None, exc, psycopg.Error) from exc
    return int(conn.exec_driver_sql(_MOVE_STAGE).rowcount)


def stream_events(
    conn: Connection,
    *,
    workspace_id: str | None,
    start: datetime | None,
    end: datetime | None,
    yield_per: int,
) -> Iterator[Row[Any]]:
    """Raw events in [start, end) ordered by (created_at, id), fetched `yield_per` at a time
    through a server-side cursor, so memory stays flat. Rows hold COLUMNS in order; the id comes
    as the database's text (cheaper than a UUID object turned into text)."""
    columns = [sa.cast(e.c.id, sa.Text).label("id"), *(e.c[name] for name in COLUMNS[1:])]
    query = sa.select(*columns).order_by(e.c.created_at, e.c.id)
    if workspace_id is not None:
        query = query.where(e.c.workspace_id == workspace_id)
    if start is not None:
        query = query.where(e.c.created_at >= start)
    if end is not None:
        query = query.where(e.c.created_at < end)
    streaming = conn.execution_options(stream_results=True, yield_per=yield_per)
    yield from streaming.execute(query)
