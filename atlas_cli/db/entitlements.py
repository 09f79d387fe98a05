"""SQL of operator catalogs and entitlements: catalog versions, overrides, declarative counters
and operator meters (DESIGN 4c). Identifiers in a counter are checked against the live database
before use, and quoted by SQLAlchemy; filter values are always bound parameters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from atlas_cli.db.schema import catalog_versions, entitlement_overrides

if TYPE_CHECKING:
    from atlas_cli.db.layout import Layout
    from atlas_cli.domain.operator_catalog import Counter
    from atlas_cli.domain.periods import Window

v = catalog_versions.c
o = entitlement_overrides.c


def has_tables(conn: Connection) -> bool:
    """Whether `db upgrade` has created the catalog and override tables."""
    inspector = sa.inspect(conn)
    return all(inspector.has_table(t.name) for t in (catalog_versions, entitlement_overrides))


def latest_version(conn: Connection, model: str) -> RowMapping | None:
    """The catalog version in force for `model`: the highest version number."""
    return (
        conn.execute(sa.select(catalog_versions).where(v.model == model).order_by(v.version.desc()).limit(1))
        .mappings()
        .first()
    )


def versions(conn: Connection, model: str) -> Sequence[RowMapping]:
    """Every version of `model`'s catalog, newest first."""
    return conn.execute(sa.select(catalog_versions).where(v.model == model).order_by(v.version.desc())).mappings().all()


def next_version(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(v.version), 0))).scalar_one()) + 1


def insert_version(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(sa.insert(catalog_versions), [row])


def _active(workspace_id: str, now: datetime) -> Any:
    return sa.and_(
        o.workspace_id == workspace_id,
        o.created_at <= now,
        sa.or_(o.until.is_(None), o.until > now),
        sa.or_(o.ended_at.is_(None), o.ended_at > now),
    )


def active_overrides(conn: Connection, workspace_id: str, now: datetime) -> dict[str, RowMapping]:
    """The override in force now for each feature of the workspace (the newest one that holds):
    begun, not ended, and `until` still ahead (it is exclusive)."""
    rows = (
        conn.execute(
            sa.select(entitlement_overrides)
            .where(_active(workspace_id, now))
            .order_by(o.feature, o.created_at.desc(), o.id)
        )
        .mappings()
        .all()
    )
    found: dict[str, RowMapping] = {}
    for row in rows:
        found.setdefault(row["feature"], row)
    return found


def end_overrides(conn: Connection, workspace_id: str, feature: str, now: datetime, actor: str, reason: str) -> int:
    """End every override of the feature that holds now; how many."""
    result = conn.execute(
        sa.update(entitlement_overrides)
        .where(_active(workspace_id, now), o.feature == feature)
        .values(ended_at=now, ended_by=actor, end_reason=reason)
    )
    return int(result.rowcount or 0)


def insert_override(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(sa.insert(entitlement_overrides), [row])


def counter_problem(conn: Connection, counter: Counter) -> str | None:
    """Why the counter cannot count in this database (a table or column that does not exist), or None."""
    inspector = sa.inspect(conn)
    if not inspector.has_table(counter.table):
        return f"table {counter.table!r} does not exist in this database"
    columns = {c["name"] for c in inspector.get_columns(counter.table)}
    for column in (counter.workspace_column, *(name for name, _ in counter.where)):
        if column not in columns:
            return f"table {counter.table!r} has no column {column!r}"
    return None


def count(conn: Connection, counter: Counter, workspace_id: str) -> int:
    """COUNT(*) of the counter's rows of the workspace, in one statement (identifiers checked by
    `counter_problem` first, values bound)."""
    names = [counter.workspace_column, *(name for name, _ in counter.where)]
    table = sa.table(counter.table, *(sa.column(n) for n in dict.fromkeys(names)))
    conditions = [table.c[counter.workspace_column] == sa.bindparam("ws", workspace_id)]
    conditions += [table.c[name] == sa.bindparam(f"w{i}", value) for i, (name, value) in enumerate(counter.where)]
    return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(*conditions)).scalar_one())


def metered_usage(
    conn: Connection, layout: Layout, workspace_id: str, event_types: Sequence[str], window: Window
) -> int:
    """Sum of `quantity` of the workspace's events of `event_types` in [window.start, window.end)."""
    e = layout.usage_events.c
    total = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(e.quantity), 0)).where(
            e.workspace_id == workspace_id,
            e.event_type.in_(list(event_types)),
            e.created_at >= window.start,
            e.created_at < window.end,
        )
    ).scalar_one()
    return int(total)
