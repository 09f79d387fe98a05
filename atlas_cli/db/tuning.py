"""The optional covering index on usage_events (`atlas db tune`): its DDL, state and build.

The index is `(workspace_id, created_at) INCLUDE (event_type, quantity, user_id[, gateway_cost_usd])`:
every column `usage show`, `usage history` and `usage breakdown` read, so PostgreSQL answers them
with an index-only scan. The per-seat `gateway_cost_usd` is included when the table has it (the
per-seat `usage show` sums it). SQLite has no INCLUDE: the columns are trailing key columns there.

On PostgreSQL the index is built and dropped CONCURRENTLY, so writers are never blocked; that
cannot run in a transaction, so callers pass an AUTOCOMMIT connection. A partitioned
usage_events cannot take CREATE INDEX CONCURRENTLY on its parent: the parent gets an index `ON
ONLY` itself (invalid, and no lock held for long), each partition gets its own index built
concurrently, and each is attached; the parent index becomes valid once every partition's is.
A concurrent build that failed leaves an INVALID index behind: it is reported and rebuilt.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

INDEX_NAME = "atlas_usage_events_covering"
TABLE = "usage_events"
KEY = ("workspace_id", "created_at")
INCLUDED = ("event_type", "quantity", "user_id")
OPTIONAL = ("gateway_cost_usd",)  # per-seat servers' at-cost dollars, read by `usage show`


@dataclass(frozen=True)
class CoveringIndex:
    """What the database holds of the covering index."""

    name: str
    state: str  # present | absent | invalid (a failed concurrent build left it)
    columns: tuple[str, ...]  # the columns the index covers beyond the key, for this table
    partitioned: bool = False
    size_bytes: int | None = None

    @property
    def present(self) -> bool:
        return self.state == "present"


def included_columns(conn: Connection) -> tuple[str, ...]:
    """The columns the index carries beyond its key: the fixed ones, and the optional ones the table has."""
    import sqlalchemy as sa

    existing = {c["name"] for c in sa.inspect(conn).get_columns(TABLE)}
    return INCLUDED + tuple(c for c in OPTIONAL if c in existing)


def partitions(conn: Connection) -> list[tuple[str, bool]]:
    """The direct partitions of usage_events (name, itself partitioned) on PostgreSQL; [] when it is not partitioned."""
    rows = conn.exec_driver_sql(
        "SELECT c.relname, c.relkind = 'p' FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
        "WHERE p.oid = to_regclass(%(t)s) ORDER BY c.relname",
        {"t": TABLE},
    ).all()
    return [(str(name), bool(nested)) for name, nested in rows]


def is_partitioned(conn: Connection) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    kind = conn.exec_driver_sql("SELECT relkind FROM pg_class WHERE oid = to_regclass(%(t)s)", {"t": TABLE}).scalar()
    return kind == "p"


def partition_index_name(partition: str) -> str:
    """The index of one partition: `atlas_uec_<partition>`, shortened with a hash past PostgreSQL's 63 bytes."""
    name = f"atlas_uec_{partition}"
    if len(name.encode()) <= 63:
        return name
    digest = hashlib.sha1(partition.encode()).hexdigest()[:10]
    return f"atlas_uec_{partition.encode()[:40].decode(errors='ignore')}_{digest}"


def state(conn: Connection) -> CoveringIndex:
    """Whether the covering index is there, valid, and how big it is."""
    columns = included_columns(conn)
    if conn.dialect.name == "sqlite":
        found = conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (INDEX_NAME,)
        ).first()
        return CoveringIndex(INDEX_NAME, "present" if found else "absent", columns)
    partitioned = is_partitioned(conn)
    row = conn.exec_driver_sql(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.oid = to_regclass(%(n)s)",
        {"n": INDEX_NAME},
    ).first()
    if row is None:
        return CoveringIndex(INDEX_NAME, "absent", columns, partitioned)
    size = conn.exec_driver_sql(
        "SELECT coalesce(sum(pg_relation_size(c.oid)), 0) FROM pg_class c "
        "WHERE c.oid = to_regclass(%(n)s) OR c.oid IN (SELECT inhrelid FROM pg_inherits "
        "WHERE inhparent = to_regclass(%(n)s))",
        {"n": INDEX_NAME},
    ).scalar()
    return CoveringIndex(INDEX_NAME, "present" if row[0] else "invalid", columns, partitioned, int(size or 0))


def _quoted(conn: Connection, name: str) -> str:
    return str(conn.dialect.identifier_preparer.quote(name))


def _definition(conn: Connection, columns: tuple[str, ...]) -> str:
    key = ", ".join(KEY)
    if conn.dialect.name == "sqlite":
        return f"({key}, {', '.join(columns)})"
    return f"({key}) INCLUDE ({', '.join(columns)})"


def create_statements(conn: Connection) -> list[str]:
    """The DDL that builds the index, in order, for this database and this table's shape."""
    columns = included_columns(conn)
    spec = _definition(conn, columns)
    if conn.dialect.name == "sqlite":
        return [f"CREATE INDEX IF NOT EXISTS {INDEX_NAME} ON {TABLE} {spec}"]
    if not is_partitioned(conn):
        return [f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX_NAME} ON {TABLE} {spec}"]
    ddl = [f"CREATE INDEX IF NOT EXISTS {INDEX_NAME} ON ONLY {TABLE} {spec}"]
    for partition, nested in partitions(conn):
        child, table = partition_index_name(partition), _quoted(conn, partition)
        # a sub-partitioned partition cannot be indexed concurrently either: a plain build there
        how = "" if nested else "CONCURRENTLY "
        ddl.append(f"CREATE INDEX {how}IF NOT EXISTS {_quoted(conn, child)} ON {table} {spec}")
        ddl.append(f"ALTER INDEX {INDEX_NAME} ATTACH PARTITION {_quoted(conn, child)}")
    return ddl


def drop_statements(conn: Connection) -> list[str]:
    """The DDL that removes the index (and, on a partitioned table, every partition's)."""
    if conn.dialect.name == "sqlite":
        return [f"DROP INDEX IF EXISTS {INDEX_NAME}"]
    if not is_partitioned(conn):
        return [f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX_NAME}"]
    # a partitioned index cannot be dropped concurrently; dropping it drops the attached ones.
    # A partition's index a failed build left unattached is dropped on its own, concurrently.
    ddl = [f"DROP INDEX IF EXISTS {INDEX_NAME}"]
    for partition, nested in partitions(conn):
        how = "" if nested else "CONCURRENTLY "
        ddl.append(f"DROP INDEX {how}IF EXISTS {_quoted(conn, partition_index_name(partition))}")
    return ddl


def run(conn: Connection, statements: list[str]) -> None:
    """Run `statements` one by one on an AUTOCOMMIT connection (CONCURRENTLY refuses a transaction)."""
    for statement in statements:
        conn.exec_driver_sql(statement)
