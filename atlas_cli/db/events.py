"""The SQL of usage events in and out: workspace lookup, idempotent bulk insert, export."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from atlas_cli.db import dialect
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
_MOVE_STAGE = (
    f"INSERT INTO usage_events ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM {_STAGE} "
    "ON CONFLICT (id) DO NOTHING"
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
    DO NOTHING. SQLite: one batched INSERT ... ON CONFLICT DO NOTHING.
    """
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        return _insert_by_copy(conn, rows)
    stmt = dialect.insert_for(conn, usage_events).on_conflict_do_nothing(index_elements=[e.c.id])
    result = conn.execute(stmt.execution_options(preserve_rowcount=True),
                          [dict(zip(COLUMNS, row, strict=True)) for row in rows])
    return int(result.rowcount)


def _insert_by_copy(conn: Connection, rows: Sequence[EventRow]) -> int:
    conn.exec_driver_sql(_CREATE_STAGE)
    raw = conn.connection.driver_connection
    assert raw is not None
    dumps = json.dumps
    with raw.cursor() as cursor, cursor.copy(f"COPY {_STAGE} ({_COLUMN_LIST}) FROM STDIN") as copy:
        for id_, ws, user, kind, qty, meta, at in rows:
            copy.write_row((id_, ws, user, kind, qty, None if meta is None else dumps(meta), at))
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
    through a server-side cursor, so memory stays flat."""
    query = sa.select(*(e.c[name] for name in COLUMNS)).order_by(e.c.created_at, e.c.id)
    if workspace_id is not None:
        query = query.where(e.c.workspace_id == workspace_id)
    if start is not None:
        query = query.where(e.c.created_at >= start)
    if end is not None:
        query = query.where(e.c.created_at < end)
    streaming = conn.execution_options(stream_results=True, yield_per=yield_per)
    yield from streaming.execute(query)
