"""The SQL of usage events in and out: workspace lookup, idempotent bulk insert, export."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from atlas_cli.db import stale
from atlas_cli.db.schema import organization, usage_events

e = usage_events
COLUMNS = ("id", "workspace_id", "user_id", "event_type", "quantity", "metadata", "created_at")
COST_COLUMN = "gateway_cost_usd"  # per-seat servers' numeric(12, 6): the at-cost dollars of an event
# (id, workspace_id, user_id, event_type, quantity, metadata, created_at, cost); the cost is only
# written where the table has COST_COLUMN (`has_costs`), and is None elsewhere.
EventRow = tuple[str, str, str | None, str, int, dict[str, Any] | None, datetime, Decimal | None]

_STAGE = "atlas_ingest_stage"
_COST_STAGE = "atlas_ingest_cost_stage"
_STAGE_COLUMNS = (
    "id uuid, workspace_id text, user_id text, event_type text, quantity integer, metadata jsonb, "
    "created_at timestamptz"
)
_CREATE_STAGE = f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGE} ({_STAGE_COLUMNS}) ON COMMIT DELETE ROWS"
_CREATE_COST_STAGE = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_COST_STAGE} ({_STAGE_COLUMNS}, {COST_COLUMN} numeric(12, 6)) "
    "ON COMMIT DELETE ROWS"
)
STAGED_INFO = "atlas_ingest_staged"  # connection record info: both staging tables exist, committed


def create_staging_tables(dbapi_connection: Any, record: Any) -> None:
    """A PostgreSQL engine's `connect` listener, for a connection that writes batch after batch
    (the ingest writer process): create the staging tables once, in their own committed
    transaction, and note it in the connection's info, so `insert_copy_text` does not ask for them
    in every batch's transaction. A temporary table lives as long as the connection that created
    it; a new connection (a reconnect after a failure too) passes here again."""
    with dbapi_connection.cursor() as cursor:
        cursor.execute(_CREATE_STAGE)
        cursor.execute(_CREATE_COST_STAGE)
    dbapi_connection.commit()
    record.info[STAGED_INFO] = True


KEY_INFO = "atlas_usage_events_key"  # conn.info: the deduplication key found on this connection


def event_key(conn: Connection) -> tuple[str, ...]:
    """The unique key usage_events deduplicates on, read from the database once per connection:
    `("id",)` on Atlas's own table, `("id", "created_at")` on one partitioned by month,
    `("workspace_id", "id")` on one sharded by workspace (Citus). The primary key when it holds
    `id`, else the narrowest unique index holding `id` that ON CONFLICT can use (not partial, no
    expressions, not deferrable).

    Raises:
        NotConfigured: usage_events has no such key, so a duplicate could not be recognised.
    """
    key = conn.info.get(KEY_INFO)
    if key is None:
        found = _postgresql_keys(conn) if conn.dialect.name == "postgresql" else _sqlite_keys(conn)
        usable = [k for k in found if "id" in k and set(k) <= set(COLUMNS)]
        if not usable:
            if not sa.inspect(conn).has_table("usage_events"):
                return ("id",)  # writing then fails the usual way (no Atlas tables)
            from atlas_cli.errors import NotConfigured

            raise NotConfigured(
                "usage_events has no primary key or unique index on id (alone or with created_at or "
                "workspace_id), so duplicate events could not be recognised: add one"
            )
        key = conn.info[KEY_INFO] = usable[0]
    return tuple(key)


_PG_KEYS = """
SELECT array_agg(a.attname::text ORDER BY k.n)
FROM pg_index i
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = to_regclass('usage_events') AND i.indisunique AND i.indimmediate AND i.indisvalid
  AND i.indpred IS NULL AND i.indexprs IS NULL
GROUP BY i.indexrelid, i.indisprimary
ORDER BY i.indisprimary DESC, count(*), i.indexrelid
"""


def _postgresql_keys(conn: Connection) -> list[tuple[str, ...]]:
    """Unique keys of usage_events (the one on the search path), primary key first, then narrowest."""
    return [tuple(row[0]) for row in conn.exec_driver_sql(_PG_KEYS)]


def _sqlite_keys(conn: Connection) -> list[tuple[str, ...]]:
    keys: list[tuple[bool, int, tuple[str, ...]]] = []
    for _seq, name, unique, origin, partial in conn.exec_driver_sql("PRAGMA index_list('usage_events')"):
        if not unique or partial:
            continue
        info = conn.exec_driver_sql(f"PRAGMA index_info('{name.replace(chr(39), chr(39) * 2)}')").all()
        if any(column is None for _n, _cid, column in info):  # an expression
            continue
        columns = tuple(column for _n, _cid, column in sorted(info))
        keys.append((origin != "pk", len(columns), columns))
    return [columns for _pk, _width, columns in sorted(keys)]


_COUNT = "SELECT count(*) FROM ins"


@functools.cache
def _copy_statement(stage: str, columns: tuple[str, ...]) -> str:
    return f"COPY {stage} ({', '.join(columns)}) FROM STDIN"


@functools.cache
def _move(stage: str, columns: tuple[str, ...], key: tuple[str, ...]) -> str:
    """INSERT ... SELECT ... ON CONFLICT (key) DO NOTHING of the staged rows into usage_events."""
    listed = ", ".join(columns)
    return f"INSERT INTO usage_events ({listed}) SELECT {listed} FROM {stage} ON CONFLICT ({', '.join(key)}) DO NOTHING"


@functools.cache
def _move_statement(
    stage: str, columns: tuple[str, ...], key: tuple[str, ...], ctes: tuple[str, ...], rows: str
) -> str:
    """The statement moving the staged rows into usage_events, skipping those whose key is stored
    (or repeated): the `_move` in a CTE `ins`, then the `ctes` (the stale marks of the rows it
    inserted, `stale.marks_cte`), ending with `rows`: the SELECT of what the statement returns
    (`_COUNT`: how many rows were inserted). `ins` returns only the columns the rest reads."""
    returned = "workspace_id, created_at" if rows == _COUNT else "id, workspace_id, event_type, quantity, created_at"
    return f"WITH {', '.join((f'ins AS ({_move(stage, columns, key)} RETURNING {returned})', *ctes))} {rows}"


_COST_COLUMNS = (*COLUMNS, COST_COLUMN)


def has_costs(conn: Connection) -> bool:
    """Whether usage_events has the gateway_cost_usd column (per-seat servers' databases), read
    from the table itself: a cost is stored only where there is a column for it."""
    inspector = sa.inspect(conn)
    try:
        return any(column["name"] == COST_COLUMN for column in inspector.get_columns("usage_events"))
    except sa.exc.NoSuchTableError:
        return False  # writing then fails the usual way (no Atlas tables)


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


@dataclass
class Inserted:
    """Asks an insert for the rows it actually inserted whose event type is one of `event_types`
    (credit deduction needs them: a duplicate is not inserted, so it deducts nothing)."""

    event_types: frozenset[str]
    rows: list[InsertedRow] = field(default_factory=list)
    # PostgreSQL: instead of `rows`, the insert's own statement reports what deduction needs
    # (`db.credits.Charges`: costs summed in the database, the accounts locked)
    report: Report | None = None


class Report(Protocol):
    def run(self, conn: Connection, move: str) -> int:
        """Execute `move` (INSERT ... SELECT into usage_events), reporting on its rows; rows inserted."""
        ...


InsertedRow = tuple[str, str, str, int, datetime]  # (id, workspace_id, event_type, quantity, created_at)


def insert_events(
    conn: Connection, rows: Sequence[EventRow], *, costs: bool = False, inserted: Inserted | None = None
) -> int:
    """Insert `rows`, skipping ids already stored (or repeated in `rows`). Returns rows inserted.
    `costs`: also write each row's cost to gateway_cost_usd (the table must have it: `has_costs`).
    `inserted`: filled with the rows inserted of its event types.

    PostgreSQL: COPY into a temporary staging table, then one INSERT ... SELECT ... ON CONFLICT
    DO NOTHING. SQLite: one executemany of INSERT ... ON CONFLICT DO NOTHING.
    """
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        return insert_copy_text(conn, copy_text(rows, costs=costs), costs=costs, inserted=inserted)
    if inserted is not None:
        inserted.rows += _new_sqlite_rows(conn, rows, inserted.event_types)
    count = _insert_sqlite(conn, rows, costs)
    if count:
        stale.mark_rows(conn, rows)
    return count


def _new_sqlite_rows(conn: Connection, rows: Sequence[EventRow], types: frozenset[str]) -> list[InsertedRow]:
    """The rows of `types` that the insert will store: ids not stored yet, first of each repeated id.
    Read before the insert, in its transaction (SQLite's writer lock is held: nothing can interleave)."""
    wanted = [row for row in rows if row[3] in types]
    if not wanted:
        return []
    ids = json.dumps(sorted({row[0] for row in wanted}))
    stored = {str(i) for (i,) in conn.exec_driver_sql(_SQLITE_STORED, (ids,)).all()}
    found: list[InsertedRow] = []
    for id_, ws, _user, kind, qty, _meta, at, _cost in wanted:
        if id_ not in stored:
            stored.add(id_)
            found.append((id_, ws, kind, qty, at))
    return found


def _insert_sqlite(conn: Connection, rows: Sequence[EventRow], costs: bool) -> int:
    # The column types' own bind processors, so values are stored exactly as a Core insert stores
    # them, without Core's per-row dictionaries.
    dialect = conn.dialect
    to_json = e.c.metadata.type.dialect_impl(dialect).bind_processor(dialect)
    to_time = e.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    assert to_json is not None and to_time is not None
    if costs:  # the cost as decimal text: the column's NUMERIC affinity stores it, as the server's rows
        params: list[tuple[Any, ...]] = [
            (id_, ws, user, kind, qty, to_json(meta), to_time(at), None if cost is None else format(cost, "f"))
            for id_, ws, user, kind, qty, meta, at, cost in rows
        ]
    else:
        params = [
            (id_, ws, user, kind, qty, to_json(meta), to_time(at)) for id_, ws, user, kind, qty, meta, at, _c in rows
        ]
    statement = _sqlite_insert(_COST_COLUMNS if costs else COLUMNS, event_key(conn))
    result = conn.execution_options(preserve_rowcount=True).exec_driver_sql(statement, params)
    return int(result.rowcount)


@functools.cache
def _sqlite_insert(columns: tuple[str, ...], key: tuple[str, ...]) -> str:
    values = ", ".join("?" * len(columns))
    listed, target = ", ".join(columns), ", ".join(key)
    return f"INSERT INTO usage_events ({listed}) VALUES ({values}) ON CONFLICT ({target}) DO NOTHING"


_SQLITE_STORED = "SELECT id FROM usage_events WHERE id IN (SELECT value FROM json_each(?))"
_NULL = "\\N"
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]").search


def _copy_escaped(value: str) -> str:
    """`value` as a field of COPY's text format."""
    if _COPY_SPECIAL(value) is None:
        return value
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


# json.dumps(value) with its default settings, without the encoder it builds per call: the same
# text (the C encoder json.dumps uses). No circular check: metadata read from JSON cannot be circular.
_c_make_encoder = json.encoder.c_make_encoder  # type: ignore[attr-defined]
_encode_json: Callable[[Any, int], Sequence[str]] = (
    (lambda value, _level: (json.dumps(value),))
    if _c_make_encoder is None  # an interpreter without json's C accelerator
    else _c_make_encoder(
        None, json.JSONEncoder().default, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False, True
    )
)


def copy_text(rows: Iterable[EventRow], *, costs: bool = False) -> bytes:
    """`rows` in COPY's text format, in one buffer: one `copy.write` per batch instead of one
    `write_row` per event. Ids, types, numbers and times need no escaping; user and workspace
    ids repeat, so each is escaped once. `costs`: each line ends with the cost column."""
    escaped: dict[str | None, str] = {}
    encode, join = _encode_json, "".join
    lines: list[str] = []
    append = lines.append
    for id_, ws, user, kind, qty, meta, at, cost in rows:
        w = escaped.get(ws)
        if w is None:
            w = escaped[ws] = _copy_escaped(ws)
        u = escaped.get(user)
        if u is None:
            u = escaped[user] = _NULL if user is None else _copy_escaped(user)
        m = _NULL if meta is None else _copy_escaped(join(encode(meta, 0)))
        if costs:
            c = _NULL if cost is None else format(cost, "f")
            append(f"{id_}\t{w}\t{u}\t{kind}\t{qty}\t{m}\t{at.isoformat()}\t{c}\n")
        else:
            append(f"{id_}\t{w}\t{u}\t{kind}\t{qty}\t{m}\t{at.isoformat()}\n")
    return "".join(lines).encode("utf-8")


def insert_copy_text(conn: Connection, data: bytes, *, costs: bool = False, inserted: Inserted | None = None) -> int:
    """PostgreSQL: insert rows given in COPY's text format (`copy_text`, with the same `costs`),
    skipping ids already stored or repeated: COPY into a temporary staging table, then one
    statement: INSERT ... SELECT ... ON CONFLICT DO NOTHING on the table's own key (`event_key`),
    the stale marks of the rows it inserted, and what it returns. Returns rows inserted.
    `inserted`: filled with the rows inserted of its event types, from the same statement (with a
    `report`, the report's statement moves the rows and the staged rows' marks follow it).

    The staging table is created in this transaction unless the connection made it when it
    opened (`create_staging_tables`)."""
    key = event_key(conn)
    stage, columns = (_COST_STAGE, _COST_COLUMNS) if costs else (_STAGE, COLUMNS)
    if not conn.connection.info.get(STAGED_INFO):
        conn.exec_driver_sql(_CREATE_COST_STAGE if costs else _CREATE_STAGE)
    copy_sql = _copy_statement(stage, columns)
    raw = conn.connection.driver_connection
    assert raw is not None
    import psycopg

    try:
        with raw.cursor() as cursor, cursor.copy(copy_sql) as copy:
            copy.write(data)
    except psycopg.Error as exc:  # COPY runs on the driver's cursor: give SQLAlchemy's error, as execute would
        raise sa.exc.DBAPIError.instance(copy_sql, None, exc, psycopg.Error) from exc
    if inserted is not None and inserted.report is not None:
        # the report's own statement (db.credits) moves the rows; the marks follow it, from the stage
        count = inserted.report.run(conn, _move(stage, columns, key))
        staged_marks = stale.marks_cte(conn, stage)
        if count and staged_marks is not None:
            conn.exec_driver_sql(f"WITH {staged_marks} SELECT 1")
        return count
    marks = stale.marks_cte(conn, "ins")
    ctes = () if marks is None else (marks,)
    if inserted is None:
        return int(conn.exec_driver_sql(_move_statement(stage, columns, key, ctes, _COUNT)).scalar_one())
    statement = _move_statement(stage, columns, key, ctes, _RETURNING)
    count = 0
    for part, id_, ws, kind, qty, at in conn.exec_driver_sql(statement, {"types": sorted(inserted.event_types)}):
        if part == 0:
            count = int(qty)
        else:
            inserted.rows.append((id_, ws, kind, int(qty), at))
    return count


# What the move returns for credit deduction without a report: its count (first row) and the inserted
# rows of the wanted types (after its CTEs: `ins`, the inserted rows, and the marks).
_RETURNING = (
    "SELECT 0 AS part, NULL AS id, NULL AS workspace_id, NULL AS event_type, count(*) AS quantity, "
    "NULL::timestamptz AS created_at FROM ins UNION ALL "
    "SELECT 1, id::text, workspace_id, event_type, quantity, created_at "
    "FROM ins WHERE event_type = ANY(%(types)s)"
)


def stream_events(
    conn: Connection,
    *,
    workspace_id: str | None,
    start: datetime | None,
    end: datetime | None,
    yield_per: int,
    costs: bool = False,
) -> Iterator[Row[Any]]:
    """Raw events in [start, end) ordered by (created_at, id), fetched `yield_per` at a time
    through a server-side cursor, so memory stays flat. Rows hold COLUMNS in order (`costs`: then
    gateway_cost_usd as an exact Decimal, labelled cost_usd); the id comes as the database's text
    (cheaper than a UUID object turned into text)."""
    columns = [sa.cast(e.c.id, sa.Text).label("id"), *(e.c[name] for name in COLUMNS[1:])]
    if costs:
        from atlas_cli.db.per_seat_schema import usage_events as per_seat_events

        cost_type = per_seat_events.c[COST_COLUMN].type
        columns.append(sa.literal_column(f"usage_events.{COST_COLUMN}", cost_type).label("cost_usd"))
    query = sa.select(*columns).order_by(e.c.created_at, e.c.id)
    if workspace_id is not None:
        query = query.where(e.c.workspace_id == workspace_id)
    if start is not None:
        query = query.where(e.c.created_at >= start)
    if end is not None:
        query = query.where(e.c.created_at < end)
    streaming = conn.execution_options(stream_results=True, yield_per=yield_per)
    yield from streaming.execute(query)
