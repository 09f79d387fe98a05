"""The few places where PostgreSQL and SQLite differ: upserts, generated ids, period starts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def insert_for(conn: Connection, table: sa.Table) -> Any:
    """An INSERT that supports `on_conflict_do_update`/`do_nothing` on this connection's engine."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def new_uuid(conn: Connection) -> sa.ColumnElement[Any]:
    """A SQL expression giving a fresh random UUID per row."""
    if conn.dialect.name == "postgresql":
        return sa.func.gen_random_uuid()
    hex_ = sa.func.lower(sa.func.hex(sa.func.randomblob(16)))
    parts = [sa.func.substr(hex_, start, length) for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))]
    return sa.func.printf("%s-%s-%s-%s-%s", *parts)


def earlier(conn: Connection, first: sa.ColumnElement[Any], second: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The earlier of two non-null UTCDateTime expressions."""
    from atlas_cli.db.types import UTCDateTime

    if conn.dialect.name == "postgresql":
        return sa.func.least(first, second, type_=UTCDateTime())
    return sa.func.min(first, second, type_=UTCDateTime())  # SQLite's min of two values


_TRUNCATE_TO = {"daily": "day", "monthly": "month"}


def period_start(conn: Connection, period: str, moment: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The start of the UTC day or month (`period` daily/monthly) holding `moment`, comparable
    with a bound UTCDateTime: the GROUP BY key of a set-based aggregation per period.

    Constants are literal, not bound, so the same expression in SELECT and GROUP BY matches.
    """
    if conn.dialect.name == "postgresql":
        utc = sa.literal_column("'UTC'", sa.Text)
        unit = sa.literal_column(f"'{_TRUNCATE_TO[period]}'", sa.Text)
        # timestamptz -> UTC wall time -> truncated -> timestamptz, whatever the session's TimeZone
        return sa.func.timezone(utc, sa.func.date_trunc(unit, sa.func.timezone(utc, moment)))
    # SQLite keeps UTC as text 'YYYY-MM-DD HH:MM:SS.ffffff' (how a bound UTCDateTime is written,
    # and compared as text): cutting the text agrees exactly with those comparisons.
    head, tail = (10, " 00:00:00.000000") if period == "daily" else (7, "-01 00:00:00.000000")
    return sa.func.substr(moment, sa.literal_column("1"), sa.literal_column(str(head))).op("||")(
        sa.literal_column(f"'{tail}'")
    )


def moments(conn: Connection, values: Sequence[datetime], name: str) -> sa.Subquery:
    """A one-column table (`name`, UTCDateTime) of `values`, bound as ONE parameter.

    Unlike `sa.values(...).data(...)`, which SQLAlchemy cannot cache (the whole statement was
    compiled again on every call: ~10 ms for 90 rows), this compiles once per statement shape.
    """
    from atlas_cli.db.types import UTCDateTime

    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        array = sa.bindparam(name, list(values), type_=ARRAY(UTCDateTime()))
        return sa.select(sa.func.unnest(array, type_=UTCDateTime()).label(name)).subquery(name)
    import json

    # Written exactly as SQLAlchemy writes a bound UTCDateTime on SQLite, so they compare equal.
    to_text = UTCDateTime().dialect_impl(conn.dialect).bind_processor(conn.dialect)
    assert to_text is not None
    items = sa.func.json_each(sa.bindparam(name, json.dumps([to_text(v) for v in values]), type_=sa.Text))
    table = items.table_valued(sa.column("value", UTCDateTime()))
    return sa.select(table.c.value.label(name)).subquery(name)


def windows(conn: Connection, spans: Sequence[tuple[str, datetime, datetime]], name: str = "windows") -> sa.Subquery:
    """A table (`workspace_id` text, `period_start`, `period_end` UTCDateTime) of `spans`, bound
    as parameters whose number does not depend on how many spans there are, so the statement
    compiles once per shape (see `moments`)."""
    from atlas_cli.db.types import UTCDateTime

    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        ids = sa.bindparam(f"{name}_ids", [s[0] for s in spans], type_=ARRAY(sa.Text))
        starts = sa.bindparam(f"{name}_starts", [s[1] for s in spans], type_=ARRAY(UTCDateTime()))
        ends = sa.bindparam(f"{name}_ends", [s[2] for s in spans], type_=ARRAY(UTCDateTime()))
        table = (
            sa.func.unnest(ids, starts, ends)
            .table_valued(
                sa.column("workspace_id", sa.Text),
                sa.column("period_start", UTCDateTime()),
                sa.column("period_end", UTCDateTime()),
            )
            .render_derived(name=f"{name}_rows")
        )
        return sa.select(table.c.workspace_id, table.c.period_start, table.c.period_end).subquery(name)
    import json

    to_text = UTCDateTime().dialect_impl(conn.dialect).bind_processor(conn.dialect)
    assert to_text is not None
    rows = json.dumps([[ws, to_text(start), to_text(end)] for ws, start, end in spans])
    items = sa.func.json_each(sa.bindparam(name, rows, type_=sa.Text)).table_valued(sa.column("value", sa.Text))

    def item(index: int, type_: Any) -> Any:
        return sa.type_coerce(sa.func.json_extract(items.c.value, sa.literal_column(f"'$[{index}]'")), type_)

    return sa.select(
        item(0, sa.Text).label("workspace_id"),
        item(1, UTCDateTime()).label("period_start"),
        item(2, UTCDateTime()).label("period_end"),
    ).subquery(name)


def time_windows(conn: Connection, spans: Sequence[tuple[datetime, datetime]]) -> sa.Subquery:
    """A two-column table (`window_start`, `window_end`, both UTCDateTime) of `spans`, bound as
    parameters whose number does not depend on how many spans there are (cacheable, as `moments`)."""
    from atlas_cli.db.types import UTCDateTime

    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        starts = sa.bindparam("window_starts", [s for s, _ in spans], type_=ARRAY(UTCDateTime()))
        ends = sa.bindparam("window_ends", [e for _, e in spans], type_=ARRAY(UTCDateTime()))
        pairs = (
            sa.func.unnest(starts, ends)
            .table_valued(sa.column("window_start", UTCDateTime()), sa.column("window_end", UTCDateTime()))
            .render_derived(name="pairs")  # AS pairs(window_start, window_end)
        )
        return sa.select(pairs.c.window_start, pairs.c.window_end).subquery("windows")
    import json

    to_text = UTCDateTime().dialect_impl(conn.dialect).bind_processor(conn.dialect)
    assert to_text is not None
    bound = sa.bindparam("windows", json.dumps([[to_text(s), to_text(e)] for s, e in spans]), type_=sa.Text)
    items = sa.func.json_each(bound).table_valued(sa.column("value", sa.Text))
    return sa.select(
        sa.type_coerce(sa.func.json_extract(items.c.value, "$[0]"), UTCDateTime()).label("window_start"),
        sa.type_coerce(sa.func.json_extract(items.c.value, "$[1]"), UTCDateTime()).label("window_end"),
    ).subquery("windows")


def one_of(conn: Connection, column: sa.ColumnElement[Any], values: Sequence[str], name: str) -> sa.ColumnElement[bool]:
    """`column` is one of the text `values`, bound as ONE parameter whatever their number (no
    batching under SQLite's parameter limit, one scan on PostgreSQL): `= ANY(array)` on PostgreSQL,
    `IN (SELECT value FROM json_each(...))` on SQLite."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == sa.func.any(sa.bindparam(name, list(values), type_=ARRAY(sa.Text())))
    import json

    items = sa.func.json_each(sa.bindparam(name, json.dumps(list(values)), type_=sa.Text))
    table = items.table_valued(sa.column("value", sa.Text))
    return column.in_(sa.select(table.c.value))
