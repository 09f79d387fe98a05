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
        """What the billing model of the database needs, what is there, and why that model.

        Raises:
            BadInput: ATLAS_BILLING_MODEL names no billing model.
        """
        with self._db.connect() as conn:
            return migrate.inspect_schema(conn, self._db.billing(conn))

    def init(self, billing_model: str | None = None) -> SchemaState:
        """Lay out `billing_model` (else ATLAS_BILLING_MODEL, else classic) on an empty database:
        the server's tables of that model, then atlas's own.

        Raises:
            BadInput: a billing model that is neither classic nor per-seat.
            Conflict: the database already holds Atlas tables (use `atlas db upgrade`).
        """
        from atlas_cli.db.layout import CLASSIC, billing_for, layout_for, parse_model

        chosen = billing_model or self._db.billing_model
        model = parse_model(chosen, "--billing-model") if chosen and chosen.strip() else CLASSIC
        with self._db.begin() as conn:
            if migrate.inspect_schema(conn, billing_for(conn)).has_atlas_tables:
                raise Conflict(
                    f"{self._db.masked_url} already holds Atlas tables: use `atlas db upgrade` "
                    "to add only what is missing"
                )
            migrate.lay_out(conn, layout_for(model))
        self._db.redetect()
        return self.status()

    def upgrade(self) -> SchemaState:
        """Create what is missing for the database's billing model (on a per-seat database only
        atlas's own `atlas_` objects); never alters or drops a table Atlas owns.

        Raises:
            BadInput: ATLAS_BILLING_MODEL names no billing model.
        """
        with self._db.begin() as conn:
            migrate.upgrade(conn, self._db.billing(conn).layout)
        self._db.redetect()
        return self.status()
