"""A per-seat Atlas server's internal database, laid out with the server's own plain DDL.

`lay_out(db_url)` creates the tables a per-seat Atlas server (mid-2026 and later) has, the way
its auth library and migrations leave them (tests/fixtures/atlas_server_per_seat_schema*.sql),
on an empty PostgreSQL or SQLite database. Not atlas's migrations: this is the database atlas
meets in the field.
"""

from __future__ import annotations

from pathlib import Path

from atlas_cli.db.database import Database

FIXTURES = Path(__file__).parent / "fixtures"
POSTGRES_DDL = FIXTURES / "atlas_server_per_seat_schema.sql"
SQLITE_DDL = FIXTURES / "atlas_server_per_seat_schema.sqlite.sql"

# The plan_tier CHECK constraint of a per-seat server, as its latest migration defines it.
PER_SEAT_TIERS = ("free", "trial", "starter", "pro", "business", "locked")


def ddl_for(db_url: str) -> str:
    """The per-seat DDL script for the engine of `db_url`."""
    path = SQLITE_DDL if Database(db_url).dialect == "sqlite" else POSTGRES_DDL
    return path.read_text()


def lay_out(db_url: str) -> None:
    """Create a per-seat Atlas server's tables on the empty database at `db_url`, atomically."""
    db = Database(db_url, create=True)
    try:
        if db.dialect == "sqlite":
            # The sqlite3 module runs one statement per execute(); executescript runs a script,
            # and the explicit transaction makes it all or nothing.
            raw = db.engine.raw_connection()
            try:
                raw.driver_connection.executescript(f"BEGIN;\n{ddl_for(db_url)}\nCOMMIT;")  # type: ignore[union-attr]
            finally:
                raw.close()
        else:
            # psycopg sends a script without parameters as one simple query: every statement
            # runs, inside the transaction begin() opened.
            with db.begin() as conn:
                conn.exec_driver_sql(ddl_for(db_url))
    finally:
        db.dispose()
