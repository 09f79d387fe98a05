"""Schema management: create what is missing, and report what is there (DESIGN section 3)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atlas_cli.db import schema

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection

    from atlas_cli.db.layout import Billing, Layout
    from atlas_cli.db.tuning import CoveringIndex

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "atlas_alembic_version"


@dataclass(frozen=True)
class TableState:
    """One table of the schema: present, missing or incompatible, and whose it is."""

    name: str
    state: str  # present | missing | incompatible
    detail: str = ""
    owner: str = "atlas-server"


@dataclass(frozen=True)
class SchemaState:
    """The schema as `db status` reports it: tables, indexes, migrations and tiers."""

    tables: tuple[TableState, ...]
    missing_indexes: tuple[str, ...]
    revision: str | None
    head: str
    tiers: tuple[str, ...] | None
    billing_model: str = "classic"
    billing_reason: str = ""
    unknown_tiers: tuple[tuple[str, str], ...] = ()  # (workspace id, tier) the model's catalog does not know
    covering_index: CoveringIndex | None = None  # the optional index of `atlas db tune`; None without usage_events

    @property
    def schema_ready(self) -> bool:
        """Every table atlas needs is present and compatible, and its migrations are at head."""
        return all(t.state == "present" for t in self.tables) and self.revision == self.head

    @property
    def ready(self) -> bool:
        """The schema is ready and every workspace is on a tier its billing model knows."""
        return self.schema_ready and not self.unknown_tiers

    @property
    def has_atlas_tables(self) -> bool:
        return any(t.state != "missing" for t in self.tables if t.owner == "atlas-server")


def _alembic_config(conn: Connection) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def create_missing(bind: Connection, table: Table) -> None:
    """Create `table` and each of its indexes unless it is there already.

    Migrations build on this, so `upgrade` completes a schema that is partly there (a database
    an older atlas was interrupted on while creating it): what exists is kept as it is, what is
    missing is created, and the version is stamped.
    """
    table.create(bind, checkfirst=True)
    for index in table.indexes:
        index.create(bind, checkfirst=True)


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    config = _alembic_config(None)  # type: ignore[arg-type]
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def upgrade(conn: Connection, layout: Layout | None = None) -> None:
    """Apply atlas's migrations: creates missing tables, never touches existing Atlas ones.

    Which of the server's tables a migration may create is the layout's to say
    (`Layout.creatable_tables`: none on a per-seat database); without one, the detected model's.
    Run it inside the caller's transaction (`Database.begin`): the tables and the version stamp
    then commit together, and an interruption leaves the database as it was.
    """
    from alembic import command

    config = _alembic_config(conn)
    config.attributes["layout"] = layout
    command.upgrade(config, "head")


def layout_of(context: Any) -> Layout:
    """The layout a migration runs for: the one `upgrade` was given, else the detected one."""
    from atlas_cli.db.layout import detect, layout_for

    config = context.config
    layout: Layout | None = config.attributes.get("layout") if config is not None else None
    return layout if layout is not None else layout_for(detect(context.bind).model)


def lay_out(conn: Connection, layout: Layout) -> None:
    """Create the server's tables of `layout` (`db init` on an empty database), then atlas's own."""
    create_all_missing(conn, layout.init_tables)
    upgrade(conn, layout)


def create_all_missing(bind: Connection, tables: Any) -> None:
    """Create each of `tables` that is missing, with its indexes, in dependency order; a table
    that exists is left exactly as it is (its indexes included)."""
    import sqlalchemy as sa

    if tables:
        sa.MetaData().create_all(bind, tables=list(tables), checkfirst=True)


def current_revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def tier_values(conn: Connection) -> tuple[str, ...] | None:
    """The tiers the `organization.plan_tier` CHECK constraint lists, or None without one."""
    import re

    import sqlalchemy as sa

    for check in sa.inspect(conn).get_check_constraints("organization"):
        text = str(check.get("sqltext", ""))
        if "plan_tier" in text:
            return tuple(re.findall(r"'([^']*)'", text))
    return None


def unknown_tiers(conn: Connection, known: Any) -> tuple[tuple[str, str], ...]:
    """Every workspace whose tier is not in `known`, as (id, tier), by id."""
    import sqlalchemy as sa

    org = sa.table("organization", sa.column("id"), sa.column("plan_tier"))
    rows = conn.execute(
        sa.select(org.c.id, org.c.plan_tier).where(org.c.plan_tier.not_in(list(known))).order_by(org.c.id)
    ).all()
    return tuple((str(ws), str(tier)) for ws, tier in rows)


def inspect_schema(conn: Connection, billing: Billing | None = None) -> SchemaState:
    """What is present, missing or incompatible for the billing model of the database (`billing`,
    else detected): that model's server tables with the columns atlas uses, and atlas's own."""
    import sqlalchemy as sa

    from atlas_cli.db.layout import billing_for

    billing = billing or billing_for(conn)
    inspector = sa.inspect(conn)
    existing = set(inspector.get_table_names())
    tables: list[TableState] = []
    missing_indexes: list[str] = []
    for table in billing.layout.server_tables:
        if table.name not in existing:
            tables.append(TableState(table.name, "missing"))
            continue
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        lacking = [c.name for c in table.columns if c.name not in columns]
        if lacking:
            tables.append(TableState(table.name, "incompatible", "missing columns: " + ", ".join(lacking)))
        else:
            tables.append(TableState(table.name, "present"))
        if not table.indexes:
            continue  # nothing to look for (and the server's expression indexes are not read)
        indexed = {tuple(ix["column_names"]) for ix in inspector.get_indexes(table.name)}
        indexed |= {tuple(uc["column_names"]) for uc in inspector.get_unique_constraints(table.name)}
        for index in table.indexes:
            if tuple(c.name for c in index.columns) not in indexed:
                missing_indexes.append(f"{table.name}({', '.join(c.name for c in index.columns)})")
    for table in schema.OWN_TABLES:
        state = "present" if table.name in existing else "missing"
        tables.append(TableState(table.name, state, owner="atlas"))
    revision = current_revision(conn) if VERSION_TABLE in existing else None
    tiers = tier_values(conn) if "organization" in existing else None
    organization = next((t for t in tables if t.name == "organization"), None)
    strays = unknown_tiers(conn, billing.catalog.plans) if organization and organization.state == "present" else ()
    covering = None
    if "usage_events" in existing:
        from atlas_cli.db import tuning

        covering = tuning.state(conn)
    return SchemaState(
        tuple(tables),
        tuple(missing_indexes),
        revision,
        head_revision(),
        tiers,
        billing.model,
        billing.detection.reason,
        strays,
        covering,
    )
