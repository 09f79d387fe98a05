"""The few places where PostgreSQL and SQLite differ: upserts and generated ids."""

from __future__ import annotations

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
