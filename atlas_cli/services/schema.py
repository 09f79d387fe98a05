"""`atlas db`: create the schema on an empty database, add what is missing, say what is there."""

from __future__ import annotations

from atlas_cli.db import migrate
from atlas_cli.db.database import Database
from atlas_cli.db.migrate import SchemaState
from atlas_cli.errors import Conflict


class SchemaService:
    def __init__(self, db: Database) -> None:
        self._db = db

    def status(self) -> SchemaState:
        with self._db.connect() as conn:
            return migrate.inspect_schema(conn)

    def init(self) -> SchemaState:
        """Create every table on an empty database.

        Raises:
            Conflict: the database already holds Atlas tables (use `atlas db upgrade`).
        """
        with self._db.begin() as conn:
            if migrate.inspect_schema(conn).has_atlas_tables:
                raise Conflict(
                    f"{self._db.masked_url} already holds Atlas tables: use `atlas db upgrade` "
                    "to add only what is missing"
                )
            migrate.upgrade(conn)
        return self.status()

    def upgrade(self) -> SchemaState:
        """Create what is missing; never alters or drops a table Atlas owns."""
        with self._db.begin() as conn:
            migrate.upgrade(conn)
        return self.status()
