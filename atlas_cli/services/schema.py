"""`atlas db`: create the schema on an empty database, add what is missing, say what is there."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from atlas_cli.db import migrate
from atlas_cli.db.database import Database
from atlas_cli.db.migrate import SchemaState
from atlas_cli.db.tuning import CoveringIndex
from atlas_cli.errors import Conflict, NotConfigured
from atlas_cli.services import Clock, utc_now

TUNE_ACTION = "db.tune"


@dataclass(frozen=True)
class TuneResult:
    """What `atlas db tune --covering-index` found, ran (or would run) and left."""

    action: str  # add | drop
    before: CoveringIndex
    after: CoveringIndex
    statements: tuple[str, ...]
    dry_run: bool
    billing_model: str
    rebuilt_invalid: bool = False  # an invalid index a failed concurrent build left was dropped first
    actor: str | None = None
    audit_id: str | None = None

    @property
    def changed(self) -> bool:
        return self.before.state != self.after.state


def _index_json(index: CoveringIndex) -> dict[str, Any]:
    return {k: v for k, v in asdict(index).items() if k != "size_bytes"}


class SchemaService:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

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

    def tune_covering_index(self, *, drop: bool = False, actor: str | None, dry_run: bool = False) -> TuneResult:
        """Add (or with `drop`, remove) the optional covering index on usage_events, audited.

        Already as asked: nothing runs, nothing is audited. A dry run needs no actor and changes
        nothing; it returns the DDL it would run. On PostgreSQL the DDL runs CONCURRENTLY, outside
        a transaction: the audit row is written once the index is built (or dropped).

        Raises:
            NotConfigured: the database has no usage_events table.
            PermissionDenied: the actor is missing, unknown, or not a global admin.
        """
        from atlas_cli.db import tuning

        action = "drop" if drop else "add"
        with self._db.connect() as conn:
            billing = self._db.billing(conn)
            if not conn.dialect.has_table(conn, "usage_events"):
                raise NotConfigured("this database has no usage_events table: run `atlas db init`; nothing changed")
            before = tuning.state(conn)
            wanted = "absent" if drop else "present"
            invalid = before.state == "invalid"
            statements: list[str] = []
            if before.state != wanted:
                statements = tuning.drop_statements(conn) if drop or invalid else []
                statements += [] if drop else tuning.create_statements(conn)
        if dry_run or not statements:
            return TuneResult(action, before, before, tuple(statements), dry_run, billing.model, invalid and not drop)
        who = self._authorize(actor, billing)
        with self._db.autocommit() as conn:
            tuning.run(conn, statements)
            after = tuning.state(conn)
        audit_id = self._audit(who, before, after)
        return TuneResult(
            action, before, after, tuple(statements), False, billing.model, invalid and not drop, who, audit_id
        )

    def _authorize(self, actor: str | None, billing: Any) -> str:
        from atlas_cli.services.admin import find_actor, require_global_admin

        with self._db.connect() as conn:
            who = find_actor(conn, actor)
        require_global_admin(who, "db tune", billing.catalog.policy)
        return who.label

    def _audit(self, actor: str, before: CoveringIndex, after: CoveringIndex) -> str:
        from atlas_cli.db import billing_queries as bq
        from atlas_cli.services.admin import audit_row
        from atlas_cli.services.catalogs import PLATFORM

        row = audit_row(
            PLATFORM,
            actor,
            TUNE_ACTION,
            {"coveringIndex": _index_json(before)},
            {"coveringIndex": _index_json(after)},
            self._clock(),
        )
        with self._db.begin() as conn:
            bq.insert_audit(conn, [row])
        return str(row["id"])
